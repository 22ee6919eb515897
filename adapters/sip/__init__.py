"""SIP (RFC 3261), sans-IO: messages parsed and built, UDP datagrams and TCP streams framed,
server transactions with timers as data, and the responses a UAS builds. A thin asyncio
transport and the redirect server sit on top of these (Kamailio's evapi mode, which needs no SIP
of its own, is ``adapters.kamailio``)."""

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import (
    CSeq,
    NameAddr,
    Params,
    SipUri,
    Via,
    parse_cseq,
    parse_name_addr,
    parse_sip_uri,
    parse_token_list,
    parse_via,
    split_list,
)
from adapters.sip.headers import COMPACT_FORMS, Headers, canonical_name
from adapters.sip.message import Message, Request, Response
from adapters.sip.parser import DEFAULT_LIMITS, Limits, StreamParser, parse_datagram
from adapters.sip.responses import (
    KNOWN_METHODS,
    bad_extension,
    error_response,
    make_response,
    method_not_allowed,
    new_tag,
    not_implemented,
    precheck,
    reason_phrase,
    redirect,
)
from adapters.sip.transaction import (
    AckReceived,
    Address,
    Cancelled,
    RequestReceived,
    ServerTransaction,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    TransactionStatistics,
    Transmit,
    TuEvent,
    TxState,
)

__all__ = [
    "COMPACT_FORMS", "DEFAULT_LIMITS", "KNOWN_METHODS", "AckReceived", "Address", "CSeq",
    "Cancelled", "Headers", "Limits", "Message", "NameAddr", "Params", "Request",
    "RequestReceived", "Response", "ServerTransaction", "SipProtocolError", "SipUri",
    "StreamParser", "TimedOut", "TimerConfig", "TransactionLayer", "TransactionStatistics",
    "Transmit", "TuEvent", "TxState", "Via", "bad_extension", "canonical_name",
    "error_response", "make_response", "method_not_allowed", "new_tag", "not_implemented",
    "parse_cseq", "parse_datagram", "parse_name_addr", "parse_sip_uri", "parse_token_list",
    "parse_via", "precheck", "reason_phrase", "redirect", "split_list",
]
