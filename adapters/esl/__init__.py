"""FreeSWITCH Event Socket: the sans-IO codec (framing, replies in command order, events), the
inbound asyncio client (``EslClient``: two authenticated connections, bgapi jobs, a bounded
event queue, heartbeat watchdog, reconnect and ``Resync``), and FreeSWITCH's side of the wire
(``adapters.esl.server``, for the simulator and the tests)."""

from adapters.esl.client import (
    DEFAULT_EVENTS,
    EslAuthError,
    EslClient,
    EslClientStats,
    EslLinkLost,
    EslRefusedError,
    Resync,
)
from adapters.esl.codec import (
    Connection,
    EslProtocolError,
    Event,
    Frame,
    FrameParser,
    Reply,
    parse_headers,
)

__all__ = ["DEFAULT_EVENTS", "Connection", "EslAuthError", "EslClient", "EslClientStats",
           "EslLinkLost", "EslProtocolError", "EslRefusedError", "Event", "Frame", "FrameParser",
           "Reply", "Resync", "parse_headers"]
