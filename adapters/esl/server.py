"""FreeSWITCH's side of the Event Socket, sans-IO: commands in, replies and events out, written
byte for byte as ``mod_event_socket`` writes them.

The simulated FreeSWITCH (``sim.freeswitch``) and the tests use it; the client never does. What
mod_event_socket does, and so what this module copies:

- It reads a command as a block of lines ended by an empty line (``\\r`` is ignored, blank lines
  before a block are skipped); the first line is the command, the others ``Name: value``
  headers (``bgapi``'s ``Job-UUID``); a ``Content-Length`` header is followed by that many
  bytes of body.
- Replies: ``Content-Type: command/reply`` with ``Reply-Text``; ``api`` answers with
  ``Content-Type: api/response`` and ``Content-Length`` (in that order), then the output.
- Events: ``Content-Length`` first, then ``Content-Type: text/event-plain`` (or ``-json``). A
  plain event's body is ``switch_event_serialize``: one ``Name: value`` line per header, values
  URL-encoded by ``switch_url_encode`` (every byte outside printable ASCII and every character
  of ``SWITCH_URL_UNSAFE`` as ``%XX``, a space as ``%20``, never ``+``), then either an empty
  line or an inner ``Content-Length`` and the event's body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote

from adapters.esl.codec import MAX_BODY, MAX_HEADERS, EslProtocolError

__all__ = [
    "DISCONNECT_GOODBYE",
    "Command",
    "CommandParser",
    "api_response",
    "auth_request",
    "command_reply",
    "disconnect_notice",
    "event_frame",
    "serialize_json",
    "serialize_plain",
    "url_encode",
]

#: What FreeSWITCH writes in the disconnect notice when a listener ends (``exit``, bad
#: password, the socket closing).
DISCONNECT_GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

# switch_url_encode keeps printable ASCII except SWITCH_URL_UNSAFE
# ("\r\n #%&+:;<=>?@[\\]^`{|}\""); quote() always keeps letters, digits and "_.-~", so the rest
# of what FreeSWITCH keeps is this. Checked against every value of the real captures.
_SAFE = "!$'()*,/"


#: A value made only of characters switch_url_encode keeps comes out as it went in.
_KEPT = re.compile(r"[A-Za-z0-9_.~!$'()*,/-]*")


def url_encode(value: str) -> str:
    """A header value as ``switch_url_encode`` writes it (UTF-8 bytes, upper-case hex)."""
    # Most values (numbers, uuids, names) need no encoding, and ``quote`` was most of the
    # simulated FreeSWITCH's time at 500 calls/s: check first, and cache what needs it
    # (an event's other values mostly repeat from event to event).
    if _KEPT.fullmatch(value):
        return value
    return _encoded(value)


@lru_cache(maxsize=16384)
def _encoded(value: str) -> str:
    return quote(value, safe=_SAFE)


@dataclass(frozen=True, slots=True)
class Command:
    """One command block as FreeSWITCH reads it."""

    line: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def name(self) -> str:
        return self.line.partition(" ")[0].lower()

    @property
    def arg(self) -> str:
        return self.line.partition(" ")[2]

    def header(self, name: str) -> str | None:
        """A header, looked up case-insensitively as ``switch_event_get_header`` does."""
        want = name.lower()
        for key, value in self.headers.items():
            if key.lower() == want:
                return value
        return None


class CommandParser:
    """Feed the bytes a client wrote (any split); get whole commands back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: tuple[str, dict[str, str]] | None = None
        self._need = 0

    def feed(self, data: bytes) -> list[Command]:
        buf = self._buf
        buf += data
        out: list[Command] = []
        while True:
            if self._pending is None:
                while buf[:1] == b"\n" or buf[:1] == b"\r":
                    del buf[:1]
                end = buf.find(b"\n\n")
                crlf = buf.find(b"\r\n\r\n")
                if crlf >= 0 and (end < 0 or crlf < end):
                    end, skip = crlf, 4
                else:
                    skip = 2
                if end < 0:
                    if len(buf) > MAX_HEADERS:
                        raise EslProtocolError(f"command block over {MAX_HEADERS} bytes")
                    return out
                try:
                    text = bytes(buf[:end]).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise EslProtocolError(f"command is not UTF-8: {exc}") from None
                del buf[:end + skip]
                lines = [ln.rstrip("\r") for ln in text.split("\n")]
                headers: dict[str, str] = {}
                for ln in lines[1:]:
                    if not ln:
                        continue
                    name, sep, value = ln.partition(":")
                    if sep:
                        headers[name.strip()] = value.lstrip(" ")
                length = next((v for k, v in headers.items() if k.lower() == "content-length"),
                              None)
                if length is None:
                    out.append(Command(lines[0], headers))
                    continue
                if not length.strip().isdigit() or int(length) > MAX_BODY:
                    raise EslProtocolError(f"bad Content-Length in a command: {length[:40]!r}")
                self._pending, self._need = (lines[0], headers), int(length)
            if len(buf) < self._need:
                return out
            line, headers = self._pending
            out.append(Command(line, headers, bytes(buf[:self._need])))
            del buf[:self._need]
            self._pending = None


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """``Content-Type: command/reply`` with ``Reply-Text`` and, after it, extra headers
    (``bgapi``'s ``Job-UUID``), unencoded as FreeSWITCH writes them."""
    extra = "".join(f"{name}: {value}\n" for name, value in headers)
    return f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode()


def api_response(body: str) -> bytes:
    data = (body or "-ERR no reply\n").encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n%b" % (len(data), data)


def disconnect_notice(message: str = DISCONNECT_GOODBYE) -> bytes:
    data = message.encode()
    return b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%b" % (len(data), data)


def serialize_plain(encoded_headers: str, body: str | None = None) -> bytes:
    """``switch_event_serialize``: ``encoded_headers`` are the ``Name: value\\n`` lines, values
    already encoded (``url_encode``); an empty line, or the inner ``Content-Length`` and body."""
    if body:
        data = body.encode()
        return b"%bContent-Length: %d\n\n%b" % (encoded_headers.encode(), len(data), data)
    return (encoded_headers + "\n").encode()


def serialize_json(headers: Iterable[tuple[str, str]], body: str | None = None) -> bytes:
    """``switch_event_serialize_json``: one object, values as strings, the body as ``_body``
    after its ``Content-Length``; UTF-8 as it is, nothing escaped but what JSON requires."""
    doc = dict(headers)
    if body:
        doc["Content-Length"] = str(len(body.encode()))
        doc["_body"] = body
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def event_frame(payload: bytes, fmt: str = "plain") -> bytes:
    """The outer frame of an event: ``Content-Length`` first, then ``Content-Type``."""
    return b"Content-Length: %d\nContent-Type: text/event-%b\n\n%b" % (
        len(payload), fmt.encode(), payload)
