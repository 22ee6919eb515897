"""Bytes to SIP messages, sans-IO: one datagram is one message (UDP, RFC 3261 §18.3); a stream
(TCP) is cut into messages by each one's Content-Length, which a stream must carry.

Any input either parses or raises ``SipProtocolError`` (the stream parser hands its errors back
in order instead, so that however the bytes were split the output is the same). Size is bounded
three ways (``Limits``): the whole message, the number of header lines, one unfolded line. What
parsed before an error travels with it, so that a request whose top Via and CSeq parsed can
still be answered with a 400 (or 505, 513).

Lenient where real peers are: bare LF line ends, CRLFs before a message (keep-alives, §7.5), a
body longer than Content-Length in a datagram (the rest is dropped, §18.3). Strict where
RFC 4475 says an element must refuse: extra spaces in the request line, a Request-URI in ``<>``
or with headers, duplicated singular headers, out-of-range numbers, a CSeq whose method is not
the request's, a SIP version other than 2.0 (505).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import (
    check_uri,
    is_token,
    parse_sip_uri,
    parse_via,
    split_list,
    uri_scheme,
)
from adapters.sip.headers import SINGLE_HEADERS, Headers, canonical_name
from adapters.sip.message import Request, Response

__all__ = ["DEFAULT_LIMITS", "Limits", "StreamParser", "parse_datagram"]


@dataclass(frozen=True, slots=True)
class Limits:
    #: Bytes of one whole message (a UDP datagram cannot be bigger than 65,507 anyway).
    max_message: int = 65535
    #: Header lines (after unfolding) in one message.
    max_headers: int = 128
    #: Bytes of one unfolded header line.
    max_line: int = 8192


DEFAULT_LIMITS = Limits()
TOO_LARGE = 513

_HEAD_END = re.compile(rb"\r?\n\r?\n")
# Controls other than HTAB; DEL too. A bare CR inside a line is one of them.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)


@dataclass(slots=True)
class _Head:
    """A start line and header block as far as they parsed, and the first thing wrong."""

    is_request: bool | None = None
    method: str | None = None
    uri: str = ""
    status: int = 0
    reason: str = ""
    pairs: list[tuple[str, str]] = field(default_factory=list)
    problem: tuple[str, int] | None = None

    def fail(self, detail: str, status: int = 400) -> None:
        if self.problem is None:
            self.problem = (detail, status)

    def error(self, detail: str, status: int = 400) -> SipProtocolError:
        can_respond = False
        if self.is_request and self.method not in (None, "ACK") and \
                any(name == "CSeq" for name, _ in self.pairs):
            via = next((v for name, v in self.pairs if name == "Via"), None)
            first = split_list(via)[:1] if via is not None else []
            try:
                can_respond = bool(first) and bool(parse_via(first[0]))
            except SipProtocolError:
                can_respond = False
        return SipProtocolError(detail, status=status, is_request=self.is_request,
                                method=self.method, headers=tuple(self.pairs),
                                can_respond=can_respond)

    def raise_problem(self) -> None:
        if self.problem is not None:
            raise self.error(*self.problem)


def _start_line(raw: bytes, head: _Head) -> None:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        head.fail("start line is not UTF-8")
        return
    if _CONTROL.search(line):
        head.fail(f"control character in the start line {line[:60]!r}")
        return
    if line[:4].upper() == "SIP/":
        head.is_request = False
        parts = line.split(" ", 2)
        if parts[0].upper() != "SIP/2.0":
            head.fail(f"response of version {parts[0][:20]!r}", 505)
            return
        code = parts[1] if len(parts) > 1 else ""
        if len(code) != 3 or not code.isascii() or not code.isdigit() or code[0] not in "123456":
            head.fail(f"bad status code {code[:20]!r}")
            return
        head.status, head.reason = int(code), parts[2] if len(parts) > 2 else ""
        return
    words = line.split(" ")
    last = next((w for w in reversed(words) if w), "")
    if not is_token(words[0]) or not _VERSION.fullmatch(last):
        head.fail(f"not a SIP start line: {line[:60]!r}")
        return
    head.is_request, head.method = True, words[0]
    if len(words) != 3:
        head.fail(f"request line is not 'method SP uri SP version': {line[:80]!r}")
        return
    uri, version = words[1], words[2]
    if version.upper() != "SIP/2.0":
        head.fail(f"SIP version {version} is not supported", 505)
        return
    try:
        check_uri(uri, "Request-URI")
        if uri_scheme(uri) in ("sip", "sips") and parse_sip_uri(uri).headers is not None:
            head.fail("the Request-URI carries headers ('?'), which it must not")
    except SipProtocolError as exc:
        head.fail(exc.detail)
    head.uri = uri


def _parse_head(block: bytes, limits: Limits) -> _Head:
    """``block`` is the start line and header lines, without the empty line that ends them."""
    head = _Head()
    lines = block.split(b"\n")
    _start_line(lines[0].removesuffix(b"\r"), head)
    if head.is_request is None:
        return head
    logical: list[bytearray] = []
    for raw in lines[1:]:
        line = raw.removesuffix(b"\r")
        if line[:1] in (b" ", b"\t"):
            # Folding (§7.3.1): the line break and leading whitespace are one space.
            if not logical:
                head.fail("a continuation line before any header")
                continue
            logical[-1] += b" " + line.strip(b" \t")
        else:
            logical.append(bytearray(line))
    if len(logical) > limits.max_headers:
        head.fail(f"{len(logical)} header lines, over the {limits.max_headers} limit", TOO_LARGE)
        logical = logical[:limits.max_headers]
    for raw_line in logical:
        if len(raw_line) > limits.max_line:
            head.fail(f"a header line of {len(raw_line)} bytes, over the {limits.max_line} "
                      "limit", TOO_LARGE)
            continue
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            head.fail("a header line is not UTF-8")
            continue
        colon = text.find(":")
        name = text[:colon].rstrip(" \t") if colon > 0 else ""
        if not is_token(name):
            head.fail(f"not a header line: {text[:60]!r}")
            continue
        if _CONTROL.search(text):
            head.fail(f"control character in header {name}")
            continue
        head.pairs.append((canonical_name(name), text[colon + 1:].strip(" \t")))
    return head


def _content_length(head: _Head, limits: Limits) -> int | None:
    values = [v for name, v in head.pairs if name == "Content-Length"]
    if not values:
        return None
    if len(values) > 1:
        raise head.error(f"{len(values)} Content-Length headers")
    text = values[0]
    if not text.isascii() or not text.isdigit():
        raise head.error(f"bad Content-Length {text[:20]!r}")
    if len(text) > 10 or int(text) > limits.max_message:
        raise head.error(f"Content-Length {text[:20]} is over the {limits.max_message} byte "
                         "limit", TOO_LARGE)
    return int(text)


def _build(head: _Head, body: bytes) -> Request | Response:
    head.raise_problem()
    headers = Headers(head.pairs, checked=True)
    for name in SINGLE_HEADERS:
        if headers.count(name) > 1:
            raise head.error(f"{headers.count(name)} {canonical_name(name)} headers")
    message: Request | Response
    if head.is_request:
        assert head.method is not None
        message = Request(head.method, head.uri, headers, body)
    else:
        message = Response(head.status, head.reason, headers, body)
    # The views a transaction and an answer need: reading them here means they never raise
    # later, and a request that fails them is refused now, with a 400 where one can go back.
    _ = message.via, message.call_id, message.from_addr, message.to_addr, message.max_forwards
    cseq = message.cseq
    if isinstance(message, Request):
        if cseq.method != message.method:
            raise head.error(f"CSeq method {cseq.method} is not the request's {message.method}")
        _ = message.sip_uri
    return message


def _head_for_context(data: bytes, limits: Limits) -> _Head:
    """Whatever header lines are complete in ``data``, for the context of an error."""
    end = _HEAD_END.search(data)
    block = data[:end.start()] if end else data[:data.rfind(b"\n") + 1].rstrip(b"\r\n")
    return _parse_head(block[:limits.max_message], limits)


def parse_datagram(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request | Response | None:
    """One UDP datagram as one message; ``None`` for a keep-alive (nothing but CRLFs)."""
    message = data.lstrip(b"\r\n")
    if not message:
        return None
    if len(data) > limits.max_message:
        raise _head_for_context(message, limits).error(
            f"a message of {len(data)} bytes, over the {limits.max_message} byte limit",
            TOO_LARGE)
    end = _HEAD_END.search(message)
    if end is None:
        head = _head_for_context(message, limits)
        head.raise_problem()
        raise head.error("no empty line after the headers")
    head = _parse_head(message[:end.start()], limits)
    head.raise_problem()
    rest = message[end.end():]
    length = _content_length(head, limits)
    if length is None:
        body = rest
    elif length > len(rest):
        raise head.error(f"Content-Length is {length} but the body is {len(rest)} bytes")
    else:
        body = rest[:length]
    return _build(head, body)


class StreamParser:
    """A TCP connection's bytes in, messages out; fed whole, a byte at a time or in any split,
    it gives the same list.

    A message that was framed (its Content-Length known) but is invalid comes back as a
    ``SipProtocolError`` in its place: answer it if ``can_respond`` and read on. When the
    framing itself is lost (no or bad Content-Length, a start line that is not SIP, a limit
    passed) the error is the last item and ``broken`` turns true: close the connection, after a
    400 if the error can be answered. Feeding a broken parser raises its error again.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._buf = bytearray()
        self._scan = 0  # where to look for the end of the header block next
        self._head: _Head | None = None
        self._need = 0
        self._broken: SipProtocolError | None = None

    @property
    def broken(self) -> bool:
        return self._broken is not None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Request | Response | SipProtocolError]:
        if self._broken is not None:
            raise self._broken
        buf = self._buf
        buf += data
        out: list[Request | Response | SipProtocolError] = []
        limit = self._limits.max_message
        while True:
            if self._head is None:
                skip = 0
                while skip < len(buf) and buf[skip] in b"\r\n":
                    skip += 1
                if skip:
                    del buf[:skip]
                    self._scan = 0
                if not buf:
                    return out
                end = _HEAD_END.search(buf, self._scan)
                # Up to 3 bytes of a terminator may be waiting at the end of the buffer, so a
                # block is known to be too big at the same point however the bytes arrive.
                if end is None and len(buf) - 3 <= limit:
                    self._scan = max(0, len(buf) - 3)
                    return out
                if end is None or end.start() > limit:
                    return self._fail(out, _head_for_context(bytes(buf), self._limits).error(
                        f"a header block over the {limit} byte limit", TOO_LARGE))
                head = _parse_head(bytes(buf[:end.start()]), self._limits)
                del buf[:end.end()]
                self._scan = 0
                if head.is_request is None:
                    assert head.problem is not None
                    return self._fail(out, head.error(*head.problem))
                try:
                    length = _content_length(head, self._limits)
                except SipProtocolError as exc:
                    return self._fail(out, exc)
                if length is None:
                    return self._fail(out, head.error(
                        "no Content-Length, which a stream transport requires"))
                if end.end() + length > limit:
                    return self._fail(out, head.error(
                        f"a message of {end.end() + length} bytes, over the {limit} byte limit",
                        TOO_LARGE))
                self._head, self._need = head, length
            if len(buf) < self._need:
                return out
            body = bytes(buf[:self._need])
            del buf[:self._need]
            head, self._head = self._head, None
            try:
                out.append(_build(head, body))
            except SipProtocolError as exc:
                out.append(exc)

    def _fail(self, out: list[Request | Response | SipProtocolError],
              error: SipProtocolError) -> list[Request | Response | SipProtocolError]:
        self._broken = error
        self._buf.clear()
        out.append(error)
        return out
