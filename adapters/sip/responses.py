"""Responses a UAS builds from a request (RFC 3261 §8.2.6): the copied headers, the To tag, and
the answers a server must give before it looks at what a request asks for: 405/501 for a method
it does not take (with ``Allow``), 420 for an extension it does not have (with ``Unsupported``),
416 for a URI scheme it cannot route, and 400/505/513 for a malformed message.

A response copies every Via (in order), From, To, Call-ID and CSeq; the To gets the UAS's tag
unless it had one (a 100 Trying carries none, §8.2.6.1, and copies Timestamp). The tag is
appended to the To value as written, so the rest of it reaches the client byte for byte.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import (
    NameAddr,
    parse_name_addr,
    parse_via,
    split_list,
    uri_scheme,
)
from adapters.sip.headers import Headers
from adapters.sip.message import Request, Response

__all__ = [
    "KNOWN_METHODS",
    "REASONS",
    "bad_extension",
    "error_response",
    "make_response",
    "method_not_allowed",
    "new_tag",
    "not_implemented",
    "precheck",
    "reason_phrase",
    "redirect",
]

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}

#: Methods SIP defines (RFC 3261 and its extensions): one of these that a server does not take
#: gets 405; any other name, 501 (§8.2.1, §21.5.2).
KNOWN_METHODS = frozenset({
    "ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK",
    "PUBLISH", "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
})

#: The warn-agent of the Warning header that says what was wrong with a malformed message.
WARN_AGENT = "cti-server"


def reason_phrase(status: int) -> str:
    return REASONS.get(status) or REASONS.get(status // 100 * 100, "Unknown")


def new_tag() -> str:
    """A To tag: random, so that two dialogs of one server never share one (§19.3)."""
    return secrets.token_hex(8)


def _with_tag(to: str, tag: str) -> str:
    return f"{to};tag={tag}"


def _copied(vias: Iterable[str], from_: str | None, to: str | None, call_id: str | None,
            cseq: str | None) -> list[tuple[str, str]]:
    pairs = [("Via", v) for v in vias]
    for name, value in (("From", from_), ("To", to), ("Call-ID", call_id), ("CSeq", cseq)):
        if value is not None:
            pairs.append((name, value))
    return pairs


def make_response(request: Request, status: int, reason: str | None = None, *,
                  to_tag: str | None = None, headers: Iterable[tuple[str, str]] = (),
                  body: bytes = b"") -> Response:
    """The response to ``request``: copied headers, then ``headers``, then ``body``. ``to_tag``
    is the UAS's tag for the To header (a new one when not given); it is ignored when the
    request's To already has a tag, and for 100, which gets none."""
    h = request.headers
    to = h.get("To")
    if to is not None and status != 100 and request.to_addr.tag is None:
        to = _with_tag(to, to_tag or new_tag())
    pairs = _copied(h.get_all("Via"), h.get("From"), to, h.get("Call-ID"), h.get("CSeq"))
    if status == 100:
        pairs += [("Timestamp", v) for v in h.get_all("Timestamp")]
    elif status < 300 and request.method == "INVITE":
        # A dialog-creating response carries the Record-Route set back (§12.1.1).
        pairs += [("Record-Route", v) for v in h.get_all("Record-Route")]
    pairs += headers
    return Response(status, reason if reason is not None else reason_phrase(status),
                    Headers(pairs), body)


def redirect(request: Request, contacts: Iterable[str | NameAddr], *, status: int = 302,
             reason: str | None = None, to_tag: str | None = None,
             headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A 3xx sending the caller to ``contacts`` (a URI or a ``NameAddr`` each; a URI is put in
    ``<>``, so that its parameters stay the URI's, §20.10)."""
    if not 300 <= status <= 399:
        raise ValueError(f"a redirect is a 3xx, not {status}")
    values = [str(c) if isinstance(c, NameAddr) else str(NameAddr(c)) for c in contacts]
    if not values:
        raise ValueError("a redirect needs at least one Contact")
    return make_response(request, status, reason, to_tag=to_tag,
                         headers=[*(("Contact", v) for v in values), *headers])


def method_not_allowed(request: Request, allow: Iterable[str], *,
                       to_tag: str | None = None) -> Response:
    return make_response(request, 405, to_tag=to_tag, headers=[("Allow", ", ".join(allow))])


def not_implemented(request: Request, allow: Iterable[str], *,
                    to_tag: str | None = None) -> Response:
    return make_response(request, 501, to_tag=to_tag, headers=[("Allow", ", ".join(allow))])


def bad_extension(request: Request, unsupported: Iterable[str], *,
                  to_tag: str | None = None) -> Response:
    return make_response(request, 420, to_tag=to_tag,
                         headers=[("Unsupported", ", ".join(unsupported))])


def precheck(request: Request, *, allow: Collection[str], supported: Collection[str] = (),
             schemes: Collection[str] = ("sip", "sips", "tel"),
             to_tag: str | None = None) -> Response | None:
    """The answer a UAS owes before it acts on ``request`` (§8.2.1-8.2.2), or ``None`` to go on:
    405 or 501 with ``Allow`` for a method not in ``allow``, 416 for a Request-URI scheme not in
    ``schemes``, 420 with ``Unsupported`` for ``Require`` tags not in ``supported`` (so
    ``Require: 100rel`` gets 420 unless ``supported`` has it). ACK gets nothing, ever; CANCEL
    is not checked for extensions (§8.2.2.3)."""
    method = request.method
    if method == "ACK":
        return None
    if method not in allow:
        build = method_not_allowed if method in KNOWN_METHODS else not_implemented
        return build(request, sorted(allow), to_tag=to_tag)
    if uri_scheme(request.uri) not in schemes:
        return make_response(request, 416, to_tag=to_tag)
    if method != "CANCEL":
        missing = [tag for tag in request.require if tag not in supported]
        if missing:
            return bad_extension(request, missing, to_tag=to_tag)
    return None


def _deterministic_tag(error: SipProtocolError) -> str:
    # A retransmitted malformed request gets the same 400, byte for byte.
    seed = "\n".join(f"{n}:{v}" for n, v in error.headers if n in ("Via", "Call-ID", "CSeq"))
    return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def error_response(error: SipProtocolError, *,
                   source: tuple[str, int] | None = None) -> Response | None:
    """The answer to a malformed request (``error.status``: 400, 505 or 513, with a
    ``Warning: 399`` that says what was wrong), or ``None`` when there is none to give (a
    response, an ACK, no usable top Via or no CSeq). ``source`` is where the request came
    from: the top Via then gets ``received``/``rport`` as a transport stamps them (§18.2.1)."""
    if not error.can_respond:
        return None
    vias: list[str] = []
    for line in error.header_values("Via"):
        vias += split_list(line)
    if source is not None:
        vias[0] = str(parse_via(vias[0]).received_from(*source))
    to = error.header("To")
    if to is not None:
        try:
            has_tag = parse_name_addr(to).tag is not None
        except SipProtocolError:
            has_tag = False
        if not has_tag:
            to = _with_tag(to, _deterministic_tag(error))
    pairs = _copied(vias, error.header("From"), to, error.header("Call-ID"),
                    error.header("CSeq"))
    detail = error.detail.replace("\\", "\\\\").replace('"', '\\"')
    detail = "".join(c if c.isprintable() else "?" for c in detail)
    pairs.append(("Warning", f'399 {WARN_AGENT} "{detail}"'))
    return Response(error.status, reason_phrase(error.status), Headers(pairs))
