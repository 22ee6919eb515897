"""Typed SIP header values (RFC 3261 §19, §20, §25): parameters, SIP URIs, name-addr /
addr-spec, Via, CSeq, token lists; each with a parser that raises ``SipProtocolError`` and a
``__str__`` that writes it back.

The parsers take one list element: ``split_list`` cuts a comma-joined header value first,
outside quoted strings and ``<...>``, since a URI or a display name may hold a comma. Values
are kept as written (quotes included) so that what is copied into a response is what came in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from adapters.sip.errors import SipProtocolError

__all__ = [
    "CSeq",
    "NameAddr",
    "Params",
    "SipUri",
    "Via",
    "is_token",
    "parse_cseq",
    "parse_name_addr",
    "parse_sip_uri",
    "parse_token_list",
    "parse_via",
    "split_list",
]

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
TOKEN_CHARS = _ALNUM | frozenset("-.!%*_+`'~")
# gen-value = token / host / quoted-string: a host adds the IPv6 reference's brackets, colons.
_VALUE_CHARS = TOKEN_CHARS | frozenset("[]:")
_HOST_CHARS = _ALNUM | frozenset("-._")
_WS = " \t"
MAX_CSEQ = 2**31 - 1


# Regular expressions for the per-character checks: the parser runs them on every line.
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_URI_FORBIDDEN_RE = re.compile(r'[\x00-\x20"<>\x7f]')
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):")


def is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def _bad(detail: str) -> SipProtocolError:
    return SipProtocolError(detail)


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in _WS:
        i += 1
    return i


def _take(s: str, i: int, chars: frozenset[str]) -> int:
    n = len(s)
    while i < n and s[i] in chars:
        i += 1
    return i


def _quoted_end(s: str, i: int) -> int:
    """``s[i]`` is the opening quote; the index after the closing one."""
    n = len(s)
    j = i + 1
    while j < n:
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    raise _bad(f"unterminated quoted string: {s[i:i + 60]!r}")


def _unquote(text: str) -> str:
    out: list[str] = []
    i = 1
    while i < len(text) - 1:
        c = text[i]
        if c == "\\" and i + 1 < len(text) - 1:
            i += 1
            c = text[i]
        out.append(c)
        i += 1
    return "".join(out)


def split_list(value: str) -> list[str]:
    """The elements of a comma-joined header value, stripped; an empty value has none. Commas
    inside quoted strings and ``<...>`` do not split. Never raises: an unbalanced quote or
    bracket leaves the rest as one element, for the element's own parser to refuse."""
    if not value.strip(_WS):
        return []
    parts: list[str] = []
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == '"':
            try:
                i = _quoted_end(value, i)
            except SipProtocolError:
                break
            continue
        if c == "<":
            close = value.find(">", i)
            if close < 0:
                break
            i = close + 1
            continue
        if c == ",":
            parts.append(value[start:i].strip(_WS))
            start = i + 1
        i += 1
    parts.append(value[start:].strip(_WS))
    return parts


@dataclass(frozen=True, slots=True)
class Params:
    """``;name[=value]`` parameters in order. Names compare case-insensitively; a value is kept
    as written (a quoted one with its quotes); a parameter without a value holds ``None``."""

    items: tuple[tuple[str, str | None], ...] = ()

    def get(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.items:
            if key.lower() == low:
                return value
        return None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        low = name.lower()
        return any(key.lower() == low for key, _ in self.items)

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def with_value(self, name: str, value: str | None) -> Params:
        """A copy with ``name`` set to ``value``, in its place if present, else appended."""
        low = name.lower()
        items = list(self.items)
        for i, (key, _) in enumerate(items):
            if key.lower() == low:
                items[i] = (key, value)
                return Params(tuple(items))
        return Params((*items, (name, value)))

    def __str__(self) -> str:
        return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.items)


def _parse_params(s: str, i: int, what: str) -> Params:
    """Header parameters from ``s[i:]`` to the end: ``SEMI`` allows whitespace around ``;``
    and ``=``."""
    items: list[tuple[str, str | None]] = []
    n = len(s)
    while True:
        i = _skip_ws(s, i)
        if i >= n:
            return Params(tuple(items))
        if s[i] != ";":
            raise _bad(f"{what}: unexpected {s[i:i + 20]!r}")
        i = _skip_ws(s, i + 1)
        end = _take(s, i, TOKEN_CHARS)
        if end == i:
            raise _bad(f"{what}: empty parameter name at {s[i:i + 20]!r}")
        name = s[i:end]
        i = _skip_ws(s, end)
        value: str | None = None
        if i < n and s[i] == "=":
            i = _skip_ws(s, i + 1)
            if i < n and s[i] == '"':
                end = _quoted_end(s, i)
            else:
                end = _take(s, i, _VALUE_CHARS)
                if end == i:
                    raise _bad(f"{what}: parameter {name} has an empty value")
            value = s[i:end]
            i = end
        items.append((name, value))


def _parse_host(s: str, i: int, what: str) -> int:
    """The end of the host starting at ``s[i]``: an IPv6 reference, an IPv4 address or a name."""
    if i < len(s) and s[i] == "[":
        close = s.find("]", i)
        if close < 0:
            raise _bad(f"{what}: unterminated IPv6 reference")
        try:
            ipaddress.IPv6Address(s[i + 1:close])
        except ValueError:
            raise _bad(f"{what}: bad IPv6 address {s[i:close + 1]!r}") from None
        return close + 1
    end = _take(s, i, _HOST_CHARS)
    if end == i:
        raise _bad(f"{what}: no host at {s[i:i + 20]!r}")
    return end


def _parse_port(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise _bad(f"{what}: bad port {text[:20]!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1); ``headers`` is the raw text after ``?``."""

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: Params = Params()
    headers: str | None = None

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out += [":", self.password]
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(str(self.params))
        if self.headers is not None:
            out += ["?", self.headers]
        return "".join(out)


def uri_scheme(text: str) -> str | None:
    """The scheme of an absolute URI (lower case), or ``None`` when it has none."""
    found = _SCHEME_RE.match(text)
    return found.group(1).lower() if found else None


def check_uri(text: str, what: str) -> None:
    """An absolute URI of any scheme, with nothing that would end it early."""
    if not text or _URI_FORBIDDEN_RE.search(text):
        raise _bad(f"{what}: bad URI {text[:60]!r}")
    if uri_scheme(text) is None:
        raise _bad(f"{what}: URI without a scheme {text[:60]!r}")


def parse_sip_uri(text: str) -> SipUri:
    what = "SIP URI"
    check_uri(text, what)
    scheme = uri_scheme(text)
    if scheme not in ("sip", "sips"):
        raise _bad(f"not a sip: or sips: URI: {text[:60]!r}")
    rest = text[len(scheme) + 1:]
    user = password = None
    # The user part may hold '?', ';' and ':' (RFC 3261 §25.1 user-unreserved) but not '@',
    # and the headers after '?' hold '@' only escaped: so the last '@' ends the user part.
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        if not userinfo:
            raise _bad(f"{what}: empty user part in {text[:60]!r}")
        user, colon, pw = userinfo.partition(":")
        password = pw if colon else None
    rest, qmark, headers = rest.partition("?")
    hostport, semi, param_text = rest.partition(";")
    end = _parse_host(hostport, 0, what)
    host = hostport[:end]
    port = None
    if end < len(hostport):
        if hostport[end] != ":":
            raise _bad(f"{what}: bad host {hostport[:60]!r}")
        port = _parse_port(hostport[end + 1:], what)
    items: list[tuple[str, str | None]] = []
    if semi:
        for piece in param_text.split(";"):
            name, eq, value = piece.partition("=")
            if not name:
                raise _bad(f"{what}: empty parameter in {text[:60]!r}")
            items.append((name, value if eq else None))
    return SipUri(scheme, host, user, password, port, Params(tuple(items)),
                  headers if qmark else None)


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From, To, Contact, Route or Record-Route element: ``display-name <uri>;params`` or
    ``uri;params``. ``display_name`` is unquoted; ``uri`` is kept as written (any scheme)."""

    uri: str
    display_name: str | None = None
    params: Params = Params()

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def is_star(self) -> bool:
        """The ``Contact: *`` of a REGISTER that removes every binding."""
        return self.uri == "*"

    def sip_uri(self) -> SipUri:
        return parse_sip_uri(self.uri)

    def __str__(self) -> str:
        if self.is_star:
            return "*"
        name = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            name = f'"{escaped}" '
        return f"{name}<{self.uri}>{self.params}"


def parse_name_addr(value: str, what: str = "address") -> NameAddr:
    s = value.strip(_WS)
    display: str | None = None
    if s.startswith('"'):
        end = _quoted_end(s, 0)
        display = _unquote(s[:end])
        i = _skip_ws(s, end)
        if i >= len(s) or s[i] != "<":
            raise _bad(f"{what}: a quoted display name must be followed by <uri>")
    else:
        i = s.find("<")
        if i >= 0:
            words = s[:i].split()
            if not all(is_token(w) for w in words):
                raise _bad(f"{what}: display name {s[:i].strip()!r} must be quoted")
            display = " ".join(words) or None
    if i >= 0:
        close = s.find(">", i)
        if close < 0:
            raise _bad(f"{what}: unterminated <uri> in {s[:60]!r}")
        uri = s[i + 1:close]
        check_uri(uri, what)
        params = _parse_params(s, close + 1, what)
        return NameAddr(uri, display, params)
    # addr-spec: a URI holding ',', '?' or ';' would have to be in <>, so ';' ends it here.
    semi = s.find(";")
    uri = s if semi < 0 else s[:semi].rstrip(_WS)  # SEMI allows whitespace before ';'
    if any(c in ",?" for c in uri):
        raise _bad(f"{what}: a URI with ',' or '?' must be in <>: {uri[:60]!r}")
    check_uri(uri, what)
    params = Params() if semi < 0 else _parse_params(s, semi, what)
    return NameAddr(uri, None, params)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via element (RFC 3261 §20.42, RFC 3581 ``rport``)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = Params()

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def rport(self) -> int | None:
        """The port RFC 3581 filled in; ``None`` when absent or asked for but not filled."""
        value = self.params.get("rport")
        return int(value) if value else None

    @property
    def sent_by(self) -> str:
        return self.host.lower() if self.port is None else f"{self.host.lower()}:{self.port}"

    def received_from(self, host: str, port: int) -> Via:
        """This Via as a server stamps it on receipt (§18.2.1, RFC 3581 §4): ``received`` when
        the sent-by host is not the packet's source address (or ``rport`` asks), ``rport``
        filled in when it was asked for."""
        params = self.params
        asked = "rport" in params and params.get("rport") is None
        if asked:
            params = params.with_value("rport", str(port))
        if asked or self.host.strip("[]").lower() != host.strip("[]").lower():
            params = params.with_value("received", host)
        return Via(self.transport, self.host, self.port, params)

    def response_address(self, default_port: int = 5060) -> tuple[str, int]:
        """Where a response goes over an unreliable transport (§18.2.2, RFC 3581 §4)."""
        if self.maddr:
            return self.maddr, self.port or default_port
        host = self.received or self.host
        port = self.rport or self.port or default_port
        return host.strip("[]"), port

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"SIP/2.0/{self.transport} {self.host}{port}{self.params}"


def parse_via(value: str) -> Via:
    what = "Via"
    s = value.strip(_WS)
    i = 0
    parts: list[str] = []
    for k in range(3):  # "SIP" / "2.0" / transport, with whitespace allowed around "/"
        if k:
            i = _skip_ws(s, i)
            if i >= len(s) or s[i] != "/":
                raise _bad(f"{what}: bad sent-protocol in {s[:60]!r}")
            i = _skip_ws(s, i + 1)
        end = _take(s, i, TOKEN_CHARS)
        if end == i:
            raise _bad(f"{what}: bad sent-protocol in {s[:60]!r}")
        parts.append(s[i:end])
        i = end
    if parts[0].upper() != "SIP" or parts[1] != "2.0":
        raise _bad(f"{what}: protocol is {parts[0]}/{parts[1]}, not SIP/2.0")
    j = _skip_ws(s, i)
    if j == i:
        raise _bad(f"{what}: no space before sent-by in {s[:60]!r}")
    end = _parse_host(s, j, what)
    host = s[j:end]
    i = _skip_ws(s, end)
    port = None
    if i < len(s) and s[i] == ":":
        i = _skip_ws(s, i + 1)
        end = _take(s, i, frozenset("0123456789"))
        port = _parse_port(s[i:end], what)
        i = end
    params = _parse_params(s, i, what)
    rport = params.get("rport")
    if rport is not None:
        _parse_port(rport, f"{what} rport")
    received = params.get("received")
    if received is not None:
        try:
            ipaddress.ip_address(received.strip("[]"))
        except ValueError:
            raise _bad(f"{what}: received is not an IP address: {received[:60]!r}") from None
    branch = params.get("branch")
    if "branch" in params and (branch is None or not is_token(branch)):
        raise _bad(f"{what}: bad branch {branch!r}")
    return Via(parts[2].upper(), host, port, params)


@dataclass(frozen=True, slots=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2:
        raise _bad(f"CSeq: expected 'number method', got {value[:60]!r}")
    number, method = parts
    if not number.isascii() or not number.isdigit() or len(number) > 10:
        raise _bad(f"CSeq: bad number {number[:20]!r}")
    if int(number) > MAX_CSEQ:
        raise _bad(f"CSeq: {number} is over 2**31 - 1")
    if not is_token(method):
        raise _bad(f"CSeq: bad method {method[:40]!r}")
    return CSeq(int(number), method)


def parse_token_list(value: str, what: str) -> tuple[str, ...]:
    """Require, Supported, Allow...: comma-separated tokens."""
    items = split_list(value)
    for item in items:
        if not is_token(item):
            raise _bad(f"{what}: bad token {item[:40]!r}")
    return tuple(items)
