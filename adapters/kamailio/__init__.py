"""Kamailio in front of the ACD, evapi mode: Kamailio suspends each INVITE for the ACD and asks
over its evapi socket (netstring-framed JSON); the ACD answers with an rtjson routing document
for the chosen agent, a 182 or a refusal, and learns from Kamailio's dialog events when each
call starts and ends, so agent busy and free follow the real calls. ``docs/kamailio.md`` and
``docs/kamailio/acd-evapi.cfg`` are the Kamailio side. (Kamailio with ``uac_redirect`` in front
of the redirect server needs no code here: ``docs/kamailio/acd-redirect.cfg``.)"""

from adapters.kamailio.errors import EvapiProtocolError
from adapters.kamailio.messages import (
    BranchFailed,
    CallCancelled,
    DialogAnswered,
    DialogEnded,
    KamailioEvent,
    RouteRequest,
    parse_event,
)
from adapters.kamailio.netstring import KAMAILIO_READ_LIMIT, NetstringDecoder, encode
from adapters.kamailio.router import EvapiOptions, EvapiRouter, EvapiStatistics, leg_failure

__all__ = [
    "KAMAILIO_READ_LIMIT", "BranchFailed", "CallCancelled", "DialogAnswered", "DialogEnded",
    "EvapiOptions", "EvapiProtocolError", "EvapiRouter", "EvapiStatistics", "KamailioEvent",
    "NetstringDecoder", "RouteRequest", "encode", "leg_failure", "parse_event",
]
