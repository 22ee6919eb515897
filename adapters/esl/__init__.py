"""FreeSWITCH Event Socket: the sans-IO codec (framing, replies in command order, events)."""

from adapters.esl.codec import (
    Connection,
    EslProtocolError,
    Event,
    Frame,
    FrameParser,
    Reply,
    parse_headers,
)

__all__ = ["Connection", "EslProtocolError", "Event", "Frame", "FrameParser", "Reply",
           "parse_headers"]
