"""Netstrings (``LENGTH:PAYLOAD,``), the framing of Kamailio's evapi socket, sans-IO.

Kamailio frames every ``evapi_relay`` this way (``netstring_format`` = 1, its default) and
reads the same framing back. Its own reader skips white space between frames, so this one
does too; anything else out of place (a non-digit in the length, a missing ``,``, a length
over the bound) breaks the stream for good: after a bad length there is no way to find where
the next frame starts, so the decoder refuses all further input and the link must be reset.
The frames the same input completed before the break come with the error (``frames``).

The decoder never holds more than one frame: a length is at most as many digits as
``max_length`` has, and a payload over ``max_length`` is refused before any of it is kept.
Kamailio reads at most 32 KiB per client (its ``CLIENT_BUFFER_SIZE``, one byte kept for a
NUL), so ``encode`` refuses what Kamailio could never read whole.
"""

from __future__ import annotations

from adapters.kamailio.errors import EvapiProtocolError

__all__ = ["KAMAILIO_READ_LIMIT", "NetstringDecoder", "encode"]

#: The largest frame (length digits, colon, payload, comma) Kamailio 5.6 reads whole.
KAMAILIO_READ_LIMIT = 32767
_WHITESPACE = b" \t\r\n"


def encode(payload: bytes, *, limit: int = KAMAILIO_READ_LIMIT) -> bytes:
    """One frame; ``ValueError`` if the frame would be over ``limit`` bytes."""
    frame = b"%d:%s," % (len(payload), payload)
    if len(frame) > limit:
        raise ValueError(f"a {len(frame)}-byte frame is over the peer's {limit}-byte limit")
    return frame


class NetstringDecoder:
    """Feed bytes as they come; get the payloads of the frames they complete."""

    def __init__(self, max_length: int = 65536) -> None:
        if max_length < 0:
            raise ValueError("max_length must be >= 0")
        self.max_length = max_length
        self._max_digits = len(str(max_length))
        self._buffer = bytearray()
        self._need: int | None = None  # payload length once the header parsed
        self.broken = False
        self.frames = 0

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken:
            raise EvapiProtocolError("netstring stream already broken", framing=True)
        self._buffer += data
        out: list[bytes] = []
        try:
            while self._step(out):
                pass
        except EvapiProtocolError as exc:
            self.broken = True
            self._buffer.clear()
            self.frames += len(out)
            exc.frames = out  # complete before the break: the caller may still take them
            raise
        self.frames += len(out)
        return out

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _step(self, out: list[bytes]) -> bool:
        buf = self._buffer
        if self._need is None:
            start = 0
            while start < len(buf) and buf[start] in _WHITESPACE:
                start += 1
            if start:
                del buf[:start]
            if not buf:
                return False
            colon = buf.find(b":", 0, self._max_digits + 1)
            if colon < 0:
                digits = bytes(buf[: self._max_digits + 1])
                if not digits.isdigit() or len(digits) > self._max_digits:
                    raise self._bad_length(digits)
                return False  # the length is still coming
            digits = bytes(buf[:colon])
            if not digits or not digits.isdigit():
                raise self._bad_length(digits)
            length = int(digits)
            if length > self.max_length:
                raise EvapiProtocolError(
                    f"netstring of {length} bytes is over the {self.max_length}-byte limit",
                    framing=True)
            del buf[: colon + 1]
            self._need = length
        need = self._need
        if len(buf) < need + 1:
            return False
        if buf[need] != ord(","):
            raise EvapiProtocolError(
                f"netstring of {need} bytes not followed by ',' but {bytes(buf[need:need + 1])!r}",
                framing=True)
        out.append(bytes(buf[:need]))
        del buf[: need + 1]
        self._need = None
        return True

    def _bad_length(self, digits: bytes) -> EvapiProtocolError:
        shown = digits[:20]
        return EvapiProtocolError(f"bad netstring length {shown!r}", framing=True)
