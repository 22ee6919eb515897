"""The JSON messages on Kamailio's evapi socket, both ways, as this adapter defines them.

evapi has no protocol of its own: the Kamailio configuration (``docs/kamailio/acd-evapi.cfg``)
builds each event with ``jansson_set`` and reads each answer with ``jansson_get``. This module
is the other half of that contract; the two must change together.

Kamailio → ACD (``event``):

- ``route``: a new INVITE for the ACD, its transaction suspended (``t_suspend``) and waiting
  for an answer on ``tindex``/``tlabel``; ``call_id``, ``cseq``, ``from`` (URI), ``ruri``
  and ``headers`` (the request's header block, ``$msg(hdrs)``, for the ``X-CTI-*`` data);
- ``failed``: the agent branch failed (``code``, ``replied``: whether the phone answered at
  all); the transaction is suspended again, on ``tindex``/``tlabel``, for the next decision;
- ``answered`` / ``ended``: the dialog module's ``dialog:start`` (200 OK) and ``dialog:end``
  (BYE or dialog timeout) or ``dialog:failed`` (``reason`` = ``failed``);
- ``cancelled``: the caller sent CANCEL.

ACD → Kamailio (``action``), each naming the suspended transaction it continues:

- ``route``: ``rtjson`` holds an rtjson routing document (one serial route: the agent's URI,
  extra headers with the call's id, queue and data, branch timers) for
  ``rtjson_init_routes``/``rtjson_push_routes``; ``agent`` goes in the dialog's variables;
- ``queued``: send ``182`` with ``reason`` and wait again;
- ``reply``: the final ``code``/``reason`` (a refusal);
- ``cancel``: cancel the agent branch of ``call_id``/``cseq`` (``t_cancel_callid``): the ACD
  gave up on the agent first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.kamailio.errors import EvapiProtocolError
from adapters.sip.header_values import uri_scheme

__all__ = [
    "BranchFailed", "CallCancelled", "DialogAnswered", "DialogEnded", "KamailioEvent",
    "RouteRequest", "attached_data", "cancel_action", "header_lines", "parse_event",
    "queued_action", "reply_action", "route_action", "uri_host", "uri_user",
]

_MAX_INDEX = 2**32 - 1  # tm's hash index and label are unsigned 32-bit integers
_DATA_PREFIX = "x-cti-"
#: What may not go into a header value or reason phrase Kamailio writes out: a CR or LF would
#: start a header of the sender's choosing.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RouteRequest:
    call_id: str
    cseq: str
    from_uri: str
    ruri: str
    headers: str
    tindex: int
    tlabel: int


@dataclass(frozen=True, slots=True)
class BranchFailed:
    call_id: str
    agent: str
    code: int
    replied: bool
    tindex: int
    tlabel: int


@dataclass(frozen=True, slots=True)
class DialogAnswered:
    call_id: str
    agent: str


@dataclass(frozen=True, slots=True)
class DialogEnded:
    call_id: str
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallCancelled:
    call_id: str


KamailioEvent = RouteRequest | BranchFailed | DialogAnswered | DialogEnded | CallCancelled


def _bad(detail: str) -> EvapiProtocolError:
    return EvapiProtocolError(detail)


def _text(obj: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 8192) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    # jansson_set writes "<null>" for a variable that has no value.
    if not isinstance(value, str) or (required and value in ("", "<null>")):
        raise _bad(f"{obj.get('event')!r}: {key!r} missing or not a string")
    if len(value) > limit:
        raise _bad(f"{obj.get('event')!r}: {key!r} over {limit} characters")
    return "" if value == "<null>" else value


def _integer(obj: Mapping[str, Any], key: str, low: int = 0, high: int = _MAX_INDEX) -> int:
    value = obj.get(key)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)  # an older config may send numbers as strings
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{obj.get('event')!r}: {key!r} missing or not an integer in "
                   f"{low}..{high}")
    return value


def parse_event(payload: bytes) -> KamailioEvent:
    """One frame's JSON as an event; ``EvapiProtocolError`` for anything else."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _bad(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise _bad(f"not a JSON object but {type(obj).__name__}")
    kind = obj.get("event")
    if kind == "route":
        return RouteRequest(_text(obj, "call_id"), _text(obj, "cseq"), _text(obj, "from"),
                            _text(obj, "ruri"), _text(obj, "headers", limit=65536),
                            _integer(obj, "tindex"), _integer(obj, "tlabel"))
    if kind == "failed":
        replied = obj.get("replied", True)
        return BranchFailed(_text(obj, "call_id"), _text(obj, "agent", required=False),
                            _integer(obj, "code", 0, 699),
                            replied if isinstance(replied, bool) else bool(replied == 1),
                            _integer(obj, "tindex"), _integer(obj, "tlabel"))
    if kind == "answered":
        return DialogAnswered(_text(obj, "call_id"), _text(obj, "agent", required=False))
    if kind == "ended":
        return DialogEnded(_text(obj, "call_id"), _text(obj, "agent", required=False),
                           _text(obj, "reason", required=False) or "normal")
    if kind == "cancelled":
        return CallCancelled(_text(obj, "call_id"))
    raise _bad(f"unknown event {str(kind)[:40]!r}")


# -- what the events carry --------------------------------------------------------------------


def header_lines(block: str) -> list[tuple[str, str]]:
    """``Name: value`` lines of a header block (folded lines joined), malformed ones skipped:
    the block only feeds attached data, and Kamailio has already parsed the request."""
    out: list[tuple[str, str]] = []
    for line in block.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and out:
            name, value = out[-1]
            out[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if colon and name and " " not in name:
            out.append((name, value.strip()))
    return out


def attached_data(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``X-CTI-Name: value`` headers as ``{"name": "value"}`` (lower case, ``-`` → ``_``),
    as the redirect server reads them."""
    data: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low.startswith(_DATA_PREFIX) and len(low) > len(_DATA_PREFIX):
            data[low[len(_DATA_PREFIX):].replace("-", "_")] = value
    return data


def _split_uri(uri: str) -> tuple[str | None, str]:
    scheme = uri_scheme(uri)
    rest = uri[len(scheme) + 1:] if scheme else uri
    return scheme, rest.split(";", 1)[0].split("?", 1)[0]


def uri_user(uri: str) -> str:
    """The user part of a SIP or tel URI (``sip:1001@host`` → ``1001``), or ``""``."""
    scheme, rest = _split_uri(uri)
    if scheme == "tel":
        return rest
    return rest.rsplit("@", 1)[0] if "@" in rest else ""


def uri_host(uri: str) -> str:
    """The host (and port) of a SIP URI, or ``""``."""
    scheme, rest = _split_uri(uri)
    return rest.rsplit("@", 1)[-1] if scheme in ("sip", "sips") else ""


# -- actions ----------------------------------------------------------------------------------


def safe(text: str) -> str:
    """``text`` with control characters replaced, fit for a header value or reason phrase."""
    return _UNSAFE.sub(" ", text)


def _dump(obj: Mapping[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def route_action(tindex: int, tlabel: int, call_id: str, uri: str, *, agent: str = "",
                 headers: Iterable[tuple[str, str]] = (), fr_timer_ms: int = 0,
                 fr_inv_timer_ms: int = 0) -> bytes:
    """Continue the transaction towards ``uri``: an rtjson document with one serial route."""
    route: dict[str, object] = {"uri": safe(uri)}
    extra = "".join(f"{name}: {safe(value)}\r\n" for name, value in headers)
    if extra:
        route["headers"] = {"extra": extra}
    if fr_timer_ms > 0:
        route["fr_timer"] = fr_timer_ms
    if fr_inv_timer_ms > 0:
        route["fr_inv_timer"] = fr_inv_timer_ms
    document = {"version": "1.0", "routing": "serial", "routes": [route]}
    return _dump({"action": "route", "tindex": tindex, "tlabel": tlabel, "call_id": call_id,
                  "agent": agent, "rtjson": document})


def queued_action(tindex: int, tlabel: int, call_id: str, reason: str) -> bytes:
    return _dump({"action": "queued", "tindex": tindex, "tlabel": tlabel, "call_id": call_id,
                  "reason": safe(reason)})


def reply_action(tindex: int, tlabel: int, call_id: str, code: int, reason: str) -> bytes:
    return _dump({"action": "reply", "tindex": tindex, "tlabel": tlabel, "call_id": call_id,
                  "code": code, "reason": safe(reason)})


def cancel_action(call_id: str, cseq: str) -> bytes:
    return _dump({"action": "cancel", "call_id": call_id, "cseq": cseq})
