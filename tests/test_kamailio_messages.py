"""The evapi JSON messages: what Kamailio's config sends parses, anything else raises the
adapter's protocol error; the actions are JSON that the config's jansson_get reads, with
nothing a peer could use to add a header of its own."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.kamailio import (
    BranchFailed,
    CallCancelled,
    DialogAnswered,
    DialogEnded,
    EvapiProtocolError,
    RouteRequest,
    parse_event,
)
from adapters.kamailio.messages import (
    attached_data,
    cancel_action,
    header_lines,
    queued_action,
    reply_action,
    route_action,
    uri_host,
    uri_user,
)

# As Kamailio 5.6 sent them in the end-to-end tests (jansson_set output).
ROUTE = (b'{"event":"route","call_id":"1-15000@127.0.0.1","cseq":"1",'
         b'"from":"sip:44201@127.0.0.1:45080","ruri":"sip:100@127.0.0.1:45060",'
         b'"headers":"Via: SIP/2.0/UDP 127.0.0.1:45080;branch=z9hG4bK-15000-1-0\\r\\n'
         b'From: \\"caller 1\\" <sip:44201@127.0.0.1:45080>;tag=15000SIPpTag1\\r\\n'
         b'X-CTI-Account: acct-1\\r\\nX-CTI-Queue: sales\\r\\nContent-Length:   130",'
         b'"tindex":23378,"tlabel":1481450654}')


def test_what_the_kamailio_config_sends_parses() -> None:
    ev = parse_event(ROUTE)
    assert ev == RouteRequest("1-15000@127.0.0.1", "1", "sip:44201@127.0.0.1:45080",
                              "sip:100@127.0.0.1:45060", ev.headers, 23378, 1481450654)
    assert attached_data(header_lines(ev.headers)) == {"account": "acct-1", "queue": "sales"}
    assert parse_event(b'{"event":"failed","call_id":"c","agent":"a1","code":480,'
                       b'"replied":true,"tindex":1,"tlabel":2}') == \
        BranchFailed("c", "a1", 480, True, 1, 2)
    assert parse_event(b'{"event":"answered","call_id":"c","agent":"a1"}') == \
        DialogAnswered("c", "a1")
    # A dialog variable that was never set comes as "<null>".
    assert parse_event(b'{"event":"ended","call_id":"c","agent":"<null>","reason":"failed"}') \
        == DialogEnded("c", "", "failed")
    assert parse_event(b'{"event":"ended","call_id":"c"}') == DialogEnded("c", "", "normal")
    assert parse_event(b'{"event":"cancelled","call_id":"c"}') == CallCancelled("c")
    # An older config may send the handle as strings.
    assert parse_event(b'{"event":"failed","call_id":"c","code":"486","tindex":"7",'
                       b'"tlabel":"8"}') == BranchFailed("c", "", 486, True, 7, 8)


@pytest.mark.parametrize("payload", [
    b"", b"not json", b"[1, 2]", b'"route"', b"\xff\xfe", b"[" * 100_000,
    b'{"event":"route"}', b'{"event":"nope","call_id":"c"}', b'{"call_id":"c"}',
    b'{"event":"answered","call_id":""}', b'{"event":"answered","call_id":7}',
    b'{"event":"failed","call_id":"c","code":480,"tindex":-1,"tlabel":2}',
    b'{"event":"failed","call_id":"c","code":480,"tindex":1,"tlabel":4294967296}',
    b'{"event":"failed","call_id":"c","code":true,"tindex":1,"tlabel":2}',
    b'{"event":"failed","call_id":"c","code":1000,"tindex":1,"tlabel":2}',
])
def test_anything_else_is_the_protocol_error(payload: bytes) -> None:
    with pytest.raises(EvapiProtocolError) as err:
        parse_event(payload)
    assert not err.value.framing  # one message dropped; the stream is fine


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_the_protocol_error(payload: bytes) -> None:
    with contextlib.suppress(EvapiProtocolError):
        parse_event(payload)


JSON = (st.none() | st.booleans() | st.integers(-5, 2**33) | st.text(max_size=12)
        | st.sampled_from(["", "<null>", "480", "4294967296"])
        | st.lists(st.integers(), max_size=2) | st.just({"a": 1}))


# Generating these nested dictionaries can take over a second on a loaded 2-core machine,
# which trips Hypothesis's generation-speed check; the property is the parser's, not that.
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["route", "failed", "answered", "ended", "cancelled", "x"]),
       st.dictionaries(st.sampled_from(["call_id", "cseq", "from", "ruri", "headers",
                                        "tindex", "tlabel", "code", "agent", "replied",
                                        "reason"]), JSON, max_size=8))
def test_any_json_object_parses_or_raises_the_protocol_error(kind: str,
                                                             fields: dict[str, object]) -> None:
    with contextlib.suppress(EvapiProtocolError):
        parse_event(json.dumps({"event": kind, **fields}).encode())


def test_header_blocks_and_uris() -> None:
    block = "Via: a\r\nX-CTI-Queue:  billing \r\nX-CTI-Long: one\r\n two\r\nbroken line\r\n" \
            "X-CTI-: empty name\r\nx-cti-vip-level: 3"
    assert attached_data(header_lines(block)) == {"queue": "billing", "long": "one two",
                                                  "vip_level": "3"}
    assert uri_user("sip:1001@10.0.0.1:5060;transport=udp") == "1001"
    assert uri_user("tel:+15550100;phone-context=x") == "+15550100"
    assert uri_user("sip:10.0.0.1") == ""
    assert uri_host("sip:100@127.0.0.1:5060;lr") == "127.0.0.1:5060"
    assert uri_host("tel:+1555") == ""


def test_the_route_action_is_an_rtjson_document_without_header_injection() -> None:
    payload = route_action(5, 6, "c1", "sip:1001@10.0.0.1",
                           agent="a1", headers=[("X-CTI-Queue", "sales\r\nX-Evil: 1")],
                           fr_timer_ms=5000, fr_inv_timer_ms=9000)
    action = json.loads(payload)
    assert action["action"] == "route"
    assert (action["tindex"], action["tlabel"], action["agent"]) == (5, 6, "a1")
    doc = action["rtjson"]
    assert doc["version"] == "1.0"
    assert doc["routing"] == "serial"
    (route,) = doc["routes"]
    assert route["uri"] == "sip:1001@10.0.0.1"
    assert route["fr_timer"] == 5000
    assert route["fr_inv_timer"] == 9000
    assert route["headers"]["extra"] == "X-CTI-Queue: sales  X-Evil: 1\r\n"
    assert payload.isascii()


def test_the_other_actions() -> None:
    assert json.loads(queued_action(1, 2, "c", "Queued position 1\n")) == {
        "action": "queued", "tindex": 1, "tlabel": 2, "call_id": "c",
        "reason": "Queued position 1 "}
    assert json.loads(reply_action(1, 2, "c", 486, "Busy Here")) == {
        "action": "reply", "tindex": 1, "tlabel": 2, "call_id": "c", "code": 486,
        "reason": "Busy Here"}
    assert json.loads(cancel_action("c", "1")) == {"action": "cancel", "call_id": "c",
                                                   "cseq": "1"}
