"""adapters: PBX protocols (FreeSWITCH Event Socket, SIP), each a sans-IO codec plus a thin
asyncio transport mapping wire events to core events and core commands to the wire.

Empty in this release; the FreeSWITCH and SIP issues fill it.
"""
