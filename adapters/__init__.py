"""adapters: PBX protocols (FreeSWITCH Event Socket, SIP), each a sans-IO codec plus a thin
asyncio transport mapping wire events to core events and core commands to the wire.

``adapters.esl`` has the Event Socket's sans-IO codec; its asyncio client, and the SIP adapter,
come with their issues.
"""
