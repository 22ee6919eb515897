"""The Kamailio adapter's remote-protocol error."""

from __future__ import annotations

from cti.core import RemoteProtocolError

__all__ = ["EvapiProtocolError"]


class EvapiProtocolError(RemoteProtocolError):
    """Kamailio's evapi socket sent something this adapter cannot read: a broken netstring
    frame (``framing`` is True: the byte stream cannot be trusted past it, the link must be
    reset) or a frame whose JSON is not a message of the protocol (``framing`` is False: that
    one message is dropped and counted, the link stays up). ``frames`` holds the payloads a
    broken stream completed before the break, in the same input: they are good."""

    def __init__(self, detail: str, *, framing: bool = False,
                 frames: list[bytes] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.framing = framing
        self.frames = frames or []
