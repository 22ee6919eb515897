"""A sans-IO codec for the FreeSWITCH Event Socket (ESL): bytes in, frames out; commands out.

Framing: a block of ``Name: value`` header lines ends with an empty line; when the headers have
a ``Content-Length`` (in bytes), exactly that many bytes of body follow. Plain events
(``text/event-plain``) are framed twice: the body is itself a header block, whose values are
URL-encoded (``%20`` for a space, never ``+``), with an inner body after an inner
``Content-Length``. The outbound-mode ``connect`` reply is a ``command/reply`` whose header block
also carries the channel's data, URL-encoded.

Replies (``command/reply``, ``api/response``) answer commands in the order they were sent, with
events interleaved: ``Connection`` keeps a FIFO of pending commands, and an event never takes a
reply's place. Any input either parses or raises ``EslProtocolError`` (a
``RemoteProtocolError``); header blocks and bodies are bounded.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote

from cti.core import RemoteProtocolError

__all__ = [
    "MAX_BODY",
    "MAX_HEADERS",
    "Connection",
    "EslProtocolError",
    "Event",
    "Frame",
    "FrameParser",
    "Reply",
    "parse_headers",
]

#: Bytes a header block may take (FreeSWITCH's plain events run to a few KiB).
MAX_HEADERS = 64 * 1024
#: Bytes a body may take.
MAX_BODY = 16 * 1024 * 1024


class EslProtocolError(RemoteProtocolError):
    """FreeSWITCH sent something the Event Socket protocol does not allow."""


#: One ``Name: value`` line (one space after the colon is the separator, not the value's). A
#: name has no colon and no white space at either end.
_HEADER = re.compile(r"^([^\s:](?:[^:\n]*[^\s:])?): ?(.*)$", re.MULTILINE)


def parse_headers(block: bytes, *, decode: bool) -> dict[str, str]:
    """``Name: value`` lines; values URL-decoded when ``decode`` (leniently: a malformed
    ``%`` sequence is kept as it is)."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EslProtocolError(f"header block is not UTF-8: {exc}") from None
    # The regular expression does the per-line work in C; a line it skipped is malformed.
    pairs = _HEADER.findall(text)
    # Counting newlines is a third of the cost of splitting; only a mismatch (a bad line, or
    # empty lines, which are allowed) needs the lines themselves.
    if len(pairs) != text.count("\n") + (not text.endswith("\n")):
        lines = [line for line in text.split("\n") if line]
        if len(pairs) != len(lines):
            bad = next(line for line in lines if not _HEADER.fullmatch(line))
            raise EslProtocolError(f"not a header line: {bad[:80]!r}")
    if decode:
        return {name: unquote(value) for name, value in pairs}
    return dict(pairs)


class EventHeaders(Mapping[str, str]):
    """An event's headers as sent, each URL-decoded on its first read: a plain event has some
    seventy headers and a reader typically wants five, so decoding them all would be most of
    the cost of an event."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        value = self._decoded.get(name)
        if value is None:
            value = self._raw[name]
            if "%" in value:
                value = unquote(value)
            self._decoded[name] = value
        return value

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if name in self._raw:
            return self[name]
        return default

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"EventHeaders({dict(self)!r})"


@dataclass(frozen=True, slots=True)
class Frame:
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass(frozen=True)
class Event:
    """An event's headers (decoded on first use) and inner body."""

    raw: bytes
    format: str = "plain"

    @cached_property
    def _parsed(self) -> tuple[Mapping[str, str], bytes]:
        if self.format == "json":
            try:
                doc = json.loads(self.raw)
            except ValueError as exc:
                raise EslProtocolError(f"event is not valid JSON: {exc}") from None
            if not isinstance(doc, dict):
                raise EslProtocolError("a JSON event is an object")
            body = str(doc.pop("_body", "")).encode()
            return {str(k): str(v) for k, v in doc.items()}, body
        head, _, rest = self.raw.partition(b"\n\n")
        headers = EventHeaders(parse_headers(head, decode=False))
        length = headers.get("Content-Length")
        body = b""
        if length is not None:
            n = _length(length)
            body = rest[:n]
            if len(body) != n:
                raise EslProtocolError(f"event body is {len(body)} bytes, not {n}")
        return headers, body

    @property
    def headers(self) -> Mapping[str, str]:
        return self._parsed[0]

    @property
    def body(self) -> bytes:
        return self._parsed[1]

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def array(self, name: str) -> list[str]:
        """An ``ARRAY::a|:b|:c`` value as a list (a plain value as a one-item list)."""
        value = self.headers.get(name)
        if value is None:
            return []
        if value.startswith("ARRAY::"):
            return value[len("ARRAY::"):].split("|:")
        return [value]


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a command: ``ok`` for ``+OK``; ``text`` is Reply-Text or the api body."""

    command: str
    ok: bool
    text: str
    frame: Frame


def _length(text: str) -> int:
    if not text.isdigit():
        raise EslProtocolError(f"Content-Length is not a number: {text[:40]!r}")
    n = int(text)
    if n > MAX_BODY:
        raise EslProtocolError(f"Content-Length {n} is over the {MAX_BODY} byte limit")
    return n


class FrameParser:
    """Feed bytes as they come (whole, one at a time, any split); get whole frames back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._headers: dict[str, str] | None = None
        self._need = 0

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        while True:
            if self._headers is None:
                # FreeSWITCH separates frames with newlines; a stray one before a block is
                # not an empty header block.
                while buf[:1] == b"\n":
                    del buf[:1]
                end = buf.find(b"\n\n")
                if end < 0:
                    if len(buf) > MAX_HEADERS:
                        raise EslProtocolError(f"header block over {MAX_HEADERS} bytes")
                    return frames
                if end > MAX_HEADERS:
                    raise EslProtocolError(f"header block over {MAX_HEADERS} bytes")
                headers = parse_headers(bytes(buf[:end]), decode=False)
                del buf[:end + 2]
                length = headers.get("Content-Length")
                if length is None:
                    frames.append(Frame(headers))
                    continue
                self._headers, self._need = headers, _length(length)
            if len(buf) < self._need:
                return frames
            body = bytes(buf[:self._need])
            del buf[:self._need]
            frames.append(Frame(self._headers, body))
            self._headers = None


class Connection:
    """One Event Socket connection, sans-IO: ``send`` gives the bytes to write and remembers
    the command; ``receive`` turns bytes read into replies (in command order) and events."""

    def __init__(self) -> None:
        self._parser = FrameParser()
        self._pending: deque[str] = deque()
        self.disconnected = False

    def send(self, command: str, headers: Mapping[str, str] | None = None, *,
             label: str | None = None) -> bytes:
        """The bytes of ``command`` with optional header lines (``bgapi``'s ``Job-UUID``).
        ``label`` is what the pending FIFO, and so the ``Reply``, remembers instead of the
        command: ``auth`` passes one so that the password is never kept."""
        lines = [command]
        if headers:
            lines += [f"{name}: {value}" for name, value in headers.items()]
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError("a command and its headers are one line each")
        self._pending.append(command if label is None else label)
        return ("\n".join(lines) + "\n\n").encode()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def receive(self, data: bytes) -> list[Reply | Event | Frame]:
        """Replies, events, and other frames (auth requests, disconnect notices) in order."""
        out: list[Reply | Event | Frame] = []
        for frame in self._parser.feed(data):
            kind = frame.content_type
            if kind in ("command/reply", "api/response"):
                if not self._pending:
                    raise EslProtocolError(f"{kind} with no command waiting for it")
                command = self._pending.popleft()
                if kind == "command/reply":
                    text = frame.headers.get("Reply-Text", "")
                else:
                    text = frame.body.decode("utf-8", "replace")
                out.append(Reply(command, text.startswith("+OK"), text, frame))
            elif kind == "text/event-plain":
                out.append(Event(frame.body))
            elif kind == "text/event-json":
                out.append(Event(frame.body, "json"))
            elif not kind:
                # FreeSWITCH types every frame; an untyped block is the tail of a body whose
                # Content-Length lied, and the stream cannot be trusted past it.
                raise EslProtocolError(
                    "frame without Content-Type: " + ", ".join(list(frame.headers)[:3]))
            else:
                if kind == "text/disconnect-notice":
                    self.disconnected = True
                out.append(frame)
        return out
