"""adapters: PBX protocols (FreeSWITCH Event Socket, SIP), each a sans-IO codec plus a thin
asyncio transport mapping wire events to core events and core commands to the wire.

``adapters.esl`` has the Event Socket's sans-IO codec, its inbound asyncio client
(``EslClient``) and the call control; ``adapters.sip`` the SIP side.
"""
