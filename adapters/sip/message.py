"""SIP requests and responses: the start line, the headers as written, the body as bytes.

The header lines are the one truth; typed views (``via``, ``cseq``, ``to``...) are parsed from them
on first use and cached. The parser touches the views a transaction and a 400 need (Via, CSeq,
Call-ID, From, To, Max-Forwards) before it hands a message out, so those never raise on a
parsed message; the others raise ``SipProtocolError`` when first read, with what a 400 needs.

``bytes(message)`` writes it back: every header line as it is, then a ``Content-Length`` computed
from the body (a stored one is ignored, so that the two can never disagree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import (
    CSeq,
    NameAddr,
    SipUri,
    Via,
    is_token,
    parse_cseq,
    parse_name_addr,
    parse_sip_uri,
    parse_token_list,
    parse_via,
    uri_scheme,
)
from adapters.sip.headers import Headers

__all__ = ["Message", "Request", "Response"]

SIP_VERSION = "SIP/2.0"


class _Fields:
    """The typed views a request and a response share."""

    headers: Headers
    body: bytes

    def _context(self) -> tuple[bool, str | None]:
        raise NotImplementedError

    def _error(self, detail: str) -> SipProtocolError:
        is_request, method = self._context()
        can_respond = False
        if is_request and method != "ACK" and "CSeq" in self.headers:
            vias = self.headers.values("Via")
            try:
                can_respond = bool(vias) and bool(parse_via(vias[0]))
            except SipProtocolError:
                can_respond = False
        return SipProtocolError(detail, is_request=is_request, method=method,
                                headers=self.headers.items, can_respond=can_respond)

    def _one(self, name: str) -> str:
        values = self.headers.get_all(name)
        if not values:
            raise self._error(f"no {name} header")
        if len(values) > 1:
            raise self._error(f"{len(values)} {name} headers; at most one is allowed")
        return values[0]

    @cached_property
    def via(self) -> tuple[Via, ...]:
        values = self.headers.values("Via")
        if not values:
            raise self._error("no Via header")
        try:
            return tuple(parse_via(v) for v in values)
        except SipProtocolError as exc:
            raise self._error(exc.detail) from None

    @property
    def top_via(self) -> Via:
        return self.via[0]

    @cached_property
    def call_id(self) -> str:
        value = self._one("Call-ID")
        if not value or not value.isascii() or not value.isprintable() or " " in value:
            raise self._error(f"bad Call-ID {value[:60]!r}")
        return value

    @cached_property
    def cseq(self) -> CSeq:
        try:
            return parse_cseq(self._one("CSeq"))
        except SipProtocolError as exc:
            raise self._error(exc.detail) from None

    def _address(self, name: str) -> NameAddr:
        try:
            return parse_name_addr(self._one(name), name)
        except SipProtocolError as exc:
            raise self._error(exc.detail) from None

    @cached_property
    def from_addr(self) -> NameAddr:
        return self._address("From")

    @cached_property
    def to_addr(self) -> NameAddr:
        return self._address("To")

    def _addresses(self, name: str) -> tuple[NameAddr, ...]:
        try:
            return tuple(parse_name_addr(v, name) for v in self.headers.values(name))
        except SipProtocolError as exc:
            raise self._error(exc.detail) from None

    @cached_property
    def contact(self) -> tuple[NameAddr, ...]:
        values = self.headers.values("Contact")
        if values == ["*"]:
            return (NameAddr("*"),)
        return self._addresses("Contact")

    @cached_property
    def route(self) -> tuple[NameAddr, ...]:
        return self._addresses("Route")

    @cached_property
    def record_route(self) -> tuple[NameAddr, ...]:
        return self._addresses("Record-Route")

    @cached_property
    def max_forwards(self) -> int | None:
        values = self.headers.get_all("Max-Forwards")
        if not values:
            return None
        value = self._one("Max-Forwards")
        if not value.isascii() or not value.isdigit() or len(value) > 10 or int(value) > 255:
            raise self._error(f"bad Max-Forwards {value[:20]!r}")
        return int(value)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def _tokens(self, name: str) -> tuple[str, ...]:
        try:
            return tuple(t for line in self.headers.get_all(name)
                         for t in parse_token_list(line, name))
        except SipProtocolError as exc:
            raise self._error(exc.detail) from None

    @cached_property
    def require(self) -> tuple[str, ...]:
        return self._tokens("Require")

    @cached_property
    def proxy_require(self) -> tuple[str, ...]:
        return self._tokens("Proxy-Require")

    @cached_property
    def supported(self) -> tuple[str, ...]:
        return self._tokens("Supported")

    @cached_property
    def allow(self) -> tuple[str, ...]:
        return self._tokens("Allow")

    def _head(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        lines = [self._head()]
        lines += [f"{name}: {value}" for name, value in self.headers
                  if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class Request(_Fields):
    """A SIP request. ``uri`` is the Request-URI as written (any scheme)."""

    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not is_token(self.method):
            raise ValueError(f"not a method: {self.method!r}")
        if not self.uri or any(c in " \t\r\n" for c in self.uri):
            raise ValueError(f"not a Request-URI: {self.uri!r}")

    def _context(self) -> tuple[bool, str | None]:
        return True, self.method

    def _head(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    @cached_property
    def sip_uri(self) -> SipUri | None:
        """The Request-URI parsed, or ``None`` for another scheme (``tel:``, ``urn:``...)."""
        if uri_scheme(self.uri) not in ("sip", "sips"):
            return None
        try:
            return parse_sip_uri(self.uri)
        except SipProtocolError as exc:
            raise self._error(f"Request-URI: {exc.detail}") from None

    def with_top_via(self, via: Via) -> Request:
        """A copy whose top Via is ``via`` (the Via lines are then written one value a line)."""
        values = self.headers.values("Via")
        values[0] = str(via)
        return Request(self.method, self.uri, self.headers.replace("Via", values), self.body)


@dataclass(frozen=True)
class Response(_Fields):
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 699:
            raise ValueError(f"status {self.status} is not in 100..699")
        if any(c in "\r\n" for c in self.reason):
            raise ValueError("a reason phrase is one line")

    def _context(self) -> tuple[bool, str | None]:
        return False, None

    def _head(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        return self.status < 200


Message = Request | Response
