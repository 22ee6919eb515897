"""Server transactions with chosen ``now`` values: 100 Trying, retransmitted requests answered
with the last response (never handed to the TU again), Timer G doubling up to T2 until the
ACK, Timer H giving up, Timer I absorbing ACKs, Timer J, CANCEL before and after the final
response (the 302 race of DESIGN §9), RFC 2543 matching, and bad input answered or dropped."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.sip import (
    AckReceived,
    Cancelled,
    Request,
    RequestReceived,
    Response,
    ServerTransaction,
    SipProtocolError,
    StreamParser,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    Transmit,
    TxState,
    make_response,
    parse_datagram,
    redirect,
)
from cti.core import InvalidTransition, LocalProtocolError

CALLER = ("192.0.2.50", 5061)


def invite(branch: str = "z9hG4bK-inv-1", *, method: str = "INVITE", cseq: int = 1,
           to_tag: str | None = None, call_id: str = "call-1@192.0.2.50",
           uri: str = "sip:sales@acd.example.com", transport: str = "UDP",
           extra: tuple[str, ...] = ()) -> bytes:
    branch_param = f";branch={branch}" if branch else ""
    to = "<sip:sales@acd.example.com>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} 192.0.2.50:5061{branch_param};rport",
        "From: \"Caller\" <sip:caller@example.net>;tag=c1",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "Max-Forwards: 70",
        *extra,
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ack_for(txn: ServerTransaction, branch: str = "z9hG4bK-inv-1") -> bytes:
    response = txn.last_response
    assert response is not None
    return invite(branch, method="ACK", to_tag=response.to_addr.tag)


def sent(layer: TransactionLayer) -> list[Response]:
    out = []
    for t in layer.datagrams_to_send():
        message = parse_datagram(t.data)
        assert isinstance(message, Response)
        out.append(message)
    return out


def statuses(layer: TransactionLayer) -> list[int]:
    return [r.status for r in sent(layer)]


def new_invite(layer: TransactionLayer, now: float = 0.0, **kw: object) -> ServerTransaction:
    events = layer.receive_datagram(invite(**kw), CALLER, now)  # type: ignore[arg-type]
    assert len(events) == 1
    assert isinstance(events[0], RequestReceived)
    return events[0].transaction


def state(txn: ServerTransaction) -> TxState:
    """The state now (a call, so that a type checker does not carry an earlier check over)."""
    return txn.state


def timer_firings(layer: TransactionLayer, until: float) -> list[float]:
    """Run the layer's timers as a runtime would, to ``until``; when something was sent."""
    times = []
    while (when := layer.next_deadline()) is not None and when <= until:
        layer.handle_timer(when)
        if layer.datagrams_to_send():
            times.append(when)
    return times


def test_invite_gets_100_trying_at_once_and_the_tu_hears_of_it_once() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    out = layer.datagrams_to_send()
    assert len(out) == 1
    assert out[0].address == CALLER  # from rport, filled in from the packet's source
    trying = parse_datagram(out[0].data)
    assert isinstance(trying, Response)
    assert trying.status == 100
    assert trying.to_addr.tag is None
    assert trying.top_via.rport == 5061
    assert txn.request.top_via.rport == 5061
    # Retransmissions: the last response again, and nothing for the TU.
    assert layer.receive_datagram(invite(), CALLER, 0.5) == []
    assert statuses(layer) == [100]
    layer.respond(txn, txn.response(182, "Queued: 2 ahead of you"), 1.0)
    assert statuses(layer) == [182]
    assert layer.receive_datagram(invite(), CALLER, 1.5) == []
    again = sent(layer)
    assert [(r.status, r.reason) for r in again] == [(182, "Queued: 2 ahead of you")]
    assert again[0].to_addr.tag == txn.to_tag
    assert layer.statistics().retransmissions == 2
    assert layer.statistics().requests == 1


def test_302_over_udp_is_resent_on_timer_g_doubling_up_to_t2_until_the_ack() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    layer.datagrams_to_send()
    layer.respond(txn, redirect(txn.request, ["sip:agent7@10.0.0.7"], to_tag=txn.to_tag), 10.0)
    first = layer.datagrams_to_send()
    assert state(txn) is TxState.COMPLETED
    times = timer_firings(layer, 30.0)
    intervals = [round(b - a, 3) for a, b in zip([10.0, *times], times, strict=False)]
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    # A retransmitted INVITE gets the same 302, byte for byte; the TU hears nothing.
    assert layer.receive_datagram(invite(), CALLER, 29.0) == []
    assert layer.datagrams_to_send() == first
    # The ACK stops G; Timer I (T4) then absorbs ACK retransmissions, silently.
    assert layer.receive_datagram(ack_for(txn), CALLER, 30.0) == []
    assert state(txn) is TxState.CONFIRMED
    assert layer.receive_datagram(ack_for(txn), CALLER, 31.0) == []
    assert layer.receive_datagram(invite(), CALLER, 31.5) == []
    assert layer.datagrams_to_send() == []
    assert layer.next_deadline() == pytest.approx(35.0)
    assert layer.handle_timer(35.0) == []
    assert state(txn) is TxState.TERMINATED
    assert len(layer) == 0
    assert layer.next_deadline() is None
    stats = layer.statistics()
    assert (stats.acks, stats.timeouts, stats.transactions) == (2, 0, 0)


def test_timer_h_gives_up_on_a_final_response_never_acknowledged() -> None:
    layer = TransactionLayer(timers=TimerConfig(t1=0.5, t2=4.0))
    txn = new_invite(layer)
    layer.respond(txn, txn.response(486), 0.0)
    layer.datagrams_to_send()
    events = []
    while (when := layer.next_deadline()) is not None:
        events += layer.handle_timer(when)
        last = when
    assert events == [TimedOut(txn)]
    assert last == pytest.approx(32.0)  # 64 * T1
    assert state(txn) is TxState.TERMINATED
    assert len(layer) == 0
    assert layer.statistics().timeouts == 1


def test_over_tcp_there_is_no_timer_g_and_the_ack_ends_the_transaction() -> None:
    layer = TransactionLayer()
    parser = StreamParser()
    [request] = parser.feed(invite(transport="TCP"))
    [event] = layer.receive(request, CALLER, 0.0, reliable=True)
    assert isinstance(event, RequestReceived)
    txn = event.transaction
    layer.respond(txn, txn.response(302, headers=[("Contact", "<sip:a@10.0.0.1>")]), 0.0)
    out = layer.datagrams_to_send()
    assert [t.reliable for t in out] == [True, True]
    assert layer.next_deadline() == pytest.approx(32.0)  # only H
    [ack] = parser.feed(ack_for(txn).replace(b"/UDP", b"/TCP"))
    assert layer.receive(ack, CALLER, 1.0, reliable=True) == []
    assert state(txn) is TxState.TERMINATED  # Timer I is zero on a reliable transport
    assert len(layer) == 0


def test_non_invite_trying_absorbs_then_completed_answers_until_timer_j() -> None:
    layer = TransactionLayer()
    options = invite("z9hG4bK-opt", method="OPTIONS")
    [event] = layer.receive_datagram(options, CALLER, 0.0)
    assert isinstance(event, RequestReceived)
    txn = event.transaction
    assert state(txn) is TxState.TRYING
    assert layer.datagrams_to_send() == []  # no 100 for a non-INVITE
    assert layer.receive_datagram(options, CALLER, 0.5) == []
    assert layer.datagrams_to_send() == []  # nothing yet to repeat
    layer.respond(txn, txn.response(200, headers=[("Allow", "INVITE, ACK, CANCEL")]), 1.0)
    ok = layer.datagrams_to_send()
    assert layer.receive_datagram(options, CALLER, 2.0) == []
    assert layer.datagrams_to_send() == ok
    assert layer.next_deadline() == pytest.approx(33.0)  # Timer J = 64 * T1
    layer.handle_timer(33.0)
    assert state(txn) is TxState.TERMINATED
    assert len(layer) == 0
    with pytest.raises(InvalidTransition):
        layer.respond(txn, txn.response(200), 34.0)


def test_non_invite_over_tcp_ends_with_its_final_response() -> None:
    layer = TransactionLayer()
    [request] = StreamParser().feed(invite("z9hG4bK-o", method="OPTIONS", transport="TCP"))
    [event] = layer.receive(request, CALLER, 0.0, reliable=True)
    assert isinstance(event, RequestReceived)
    layer.respond(event.transaction, event.transaction.response(200), 0.0)
    assert state(event.transaction) is TxState.TERMINATED
    assert layer.next_deadline() is None


def test_cancel_while_queued_gets_200_and_the_invite_487() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    layer.respond(txn, txn.response(182), 1.0)
    layer.datagrams_to_send()
    cancel = invite(method="CANCEL")
    events = layer.receive_datagram(cancel, CALLER, 5.0)
    assert len(events) == 1
    assert isinstance(events[0], Cancelled)
    assert events[0].transaction is txn
    assert events[0].cancel.method == "CANCEL"
    out = sent(layer)
    assert [(r.status, r.cseq.method) for r in out] == [(200, "CANCEL"), (487, "INVITE")]
    assert {r.to_addr.tag for r in out} == {txn.to_tag}  # §9.2: one To tag for both
    # A retransmitted CANCEL gets its 200 again; the TU hears nothing more.
    assert layer.receive_datagram(cancel, CALLER, 5.5) == []
    assert statuses(layer) == [200]
    # The 487 is re-sent until its ACK, like any final response.
    assert timer_firings(layer, 6.0) == [5.5]
    assert layer.receive_datagram(ack_for(txn), CALLER, 6.0) == []
    assert state(txn) is TxState.CONFIRMED
    with pytest.raises(InvalidTransition):
        layer.respond(txn, redirect(txn.request, ["sip:late@10.0.0.1"]), 6.0)
    assert state(txn) is TxState.CONFIRMED
    assert layer.statistics().cancels == 1


def test_a_cancel_racing_the_302_gets_only_its_200() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    layer.respond(txn, redirect(txn.request, ["sip:agent7@10.0.0.7"], to_tag=txn.to_tag), 1.0)
    layer.datagrams_to_send()
    assert layer.receive_datagram(invite(method="CANCEL"), CALLER, 1.01) == []
    out = sent(layer)
    assert [(r.status, r.cseq.method) for r in out] == [(200, "CANCEL")]
    assert out[0].to_addr.tag == txn.to_tag
    assert state(txn) is TxState.COMPLETED
    # The 302 stands and keeps being re-sent until the ACK.
    assert layer.next_deadline() == pytest.approx(1.5)
    layer.handle_timer(1.5)
    assert statuses(layer) == [302]
    assert layer.statistics().cancels_late == 1


def test_a_cancel_that_matches_nothing_gets_481() -> None:
    layer = TransactionLayer()
    assert layer.receive_datagram(invite(method="CANCEL"), CALLER, 0.0) == []
    assert statuses(layer) == [481]
    assert layer.statistics().cancels_unmatched == 1


def test_the_ack_of_a_2xx_goes_to_the_tu_and_accepted_absorbs_invites() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    layer.respond(txn, txn.response(200), 0.0)
    assert state(txn) is TxState.ACCEPTED
    layer.datagrams_to_send()
    assert layer.receive_datagram(invite(), CALLER, 0.5) == []
    assert layer.datagrams_to_send() == []  # the TU re-sends a 2xx itself (RFC 6026)
    ack = invite("z9hG4bK-ack-of-2xx", method="ACK", to_tag=txn.to_tag)
    [event] = layer.receive_datagram(ack, CALLER, 1.0)
    assert isinstance(event, AckReceived)
    assert event.source == CALLER
    assert layer.next_deadline() == pytest.approx(32.0)  # Timer L
    layer.handle_timer(32.0)
    assert len(layer) == 0


def test_rfc2543_requests_match_without_a_branch() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer, branch="")
    assert layer.receive_datagram(invite(""), CALLER, 0.5) == []
    assert statuses(layer) == [100, 100]
    layer.respond(txn, txn.response(480), 1.0)
    layer.datagrams_to_send()
    # The ACK has the response's To tag, which the INVITE did not have.
    assert layer.receive_datagram(invite("", method="ACK", to_tag=txn.to_tag), CALLER, 1.2) \
        == []
    assert state(txn) is TxState.CONFIRMED
    # Another CSeq is another transaction.
    events = layer.receive_datagram(invite("", cseq=2), CALLER, 2.0)
    assert isinstance(events[0], RequestReceived)
    assert events[0].transaction is not txn
    # An ACK with a tag nobody sent matches nothing and goes to the TU.
    [event] = layer.receive_datagram(invite("", method="ACK", to_tag="nobody"), CALLER, 2.5)
    assert isinstance(event, AckReceived)


def test_same_branch_from_another_sent_by_is_another_transaction() -> None:
    layer = TransactionLayer()
    new_invite(layer)
    other = invite().replace(b"192.0.2.50:5061", b"192.0.2.51:5061")
    events = layer.receive_datagram(other, ("192.0.2.51", 5061), 0.1)
    assert isinstance(events[0], RequestReceived)
    assert len(layer) == 2


def test_provisional_refresh_and_the_resend_helper() -> None:
    layer = TransactionLayer(timers=TimerConfig(provisional_refresh=50.0))
    txn = new_invite(layer)
    with pytest.raises(LocalProtocolError):
        layer.resend_provisional(txn, 0.0)  # a 100 refreshes no proxy's Timer C
    layer.respond(txn, txn.response(182, "Queued: position 4"), 1.0)
    layer.datagrams_to_send()
    assert layer.next_deadline() == pytest.approx(51.0)
    layer.handle_timer(51.0)
    assert [(r.status, r.reason) for r in sent(layer)] == [(182, "Queued: position 4")]
    assert layer.next_deadline() == pytest.approx(101.0)
    layer.respond(txn, txn.response(182, "Queued: position 1"), 60.0)
    layer.datagrams_to_send()
    assert layer.next_deadline() == pytest.approx(110.0)
    layer.resend_provisional(txn, 70.0)
    assert [r.reason for r in sent(layer)] == ["Queued: position 1"]
    assert txn.provisional_sent_at == 70.0
    layer.respond(txn, redirect(txn.request, ["sip:a@10.0.0.1"]), 80.0)
    layer.datagrams_to_send()
    assert layer.next_deadline() == pytest.approx(80.5)  # G now, no refresh
    with pytest.raises(LocalProtocolError):
        layer.resend_provisional(txn, 81.0)


def test_a_response_for_another_request_is_refused() -> None:
    layer = TransactionLayer()
    txn = new_invite(layer)
    other = parse_datagram(invite(cseq=9))
    assert isinstance(other, Request)
    with pytest.raises(LocalProtocolError):
        layer.respond(txn, make_response(other, 302), 0.0)
    assert state(txn) is TxState.PROCEEDING


def test_malformed_requests_get_400_at_their_via_and_garbage_is_counted() -> None:
    layer = TransactionLayer()
    bad = invite(extra=("Max-Forwards: 300",))
    assert layer.receive_datagram(bad, CALLER, 0.0) == []
    [out] = layer.datagrams_to_send()
    assert out.address == CALLER
    response = parse_datagram(out.data)
    assert isinstance(response, Response)
    assert response.status == 400
    # A broken second Via: the 400 still goes back by the first.
    bad_via = invite(extra=("Via: SIP/2.0/UDP ,broken",))
    assert layer.receive_datagram(bad_via, CALLER, 0.0) == []
    [out] = layer.datagrams_to_send()
    assert out.address == CALLER
    assert out.data.startswith(b"SIP/2.0 400 Bad Request")
    assert layer.receive_datagram(b"\x16\x03\x01 not sip at all\r\n\r\n", CALLER, 0.0) == []
    assert layer.receive_datagram(b"\r\n\r\n", CALLER, 0.0) == []
    stray = b"SIP/2.0 200 OK\r\n" + invite().split(b"\r\n", 1)[1]
    assert layer.receive_datagram(stray, CALLER, 0.0) == []
    assert layer.datagrams_to_send() == []
    stats = layer.statistics()
    assert (stats.malformed_answered, stats.malformed_dropped, stats.keepalives,
            stats.stray_responses) == (2, 1, 1, 1)


def test_stream_errors_go_through_the_layer_too() -> None:
    layer = TransactionLayer()
    parser = StreamParser()
    no_length = invite().replace(b"Content-Length: 0\r\n", b"")
    items = parser.feed(no_length)
    assert isinstance(items[0], SipProtocolError)
    assert layer.receive(items[0], CALLER, 0.0, reliable=True) == []
    [out] = layer.datagrams_to_send()
    assert out == Transmit(out.data, CALLER, True)
    assert parser.broken


# -- a model: whatever the network does, the TU decides once and the caller hears one answer --


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["invite", "ack", "cancel", "decide", "wait"]),
                          st.floats(0.0, 5.0)), max_size=30))
def test_the_tu_decides_once_whatever_the_network_repeats(
        steps: list[tuple[str, float]]) -> None:
    layer = TransactionLayer()
    now = 0.0
    decisions = 0
    cancelled = 0
    finals: set[bytes] = set()
    txn: ServerTransaction | None = None

    def collect(events: Sequence[object]) -> None:
        nonlocal txn, decisions, cancelled
        for e in events:
            if isinstance(e, RequestReceived) and e.transaction.is_invite:
                decisions += 1
                txn = e.transaction
            elif isinstance(e, Cancelled):
                cancelled += 1
        for t in layer.datagrams_to_send():
            r = parse_datagram(t.data)
            assert isinstance(r, Response)
            if r.cseq.method == "INVITE" and r.status >= 200:
                finals.add(t.data)

    collect(layer.receive_datagram(invite(), CALLER, now))
    for action, dt in steps:
        while (when := layer.next_deadline()) is not None and when <= now + dt:
            collect(layer.handle_timer(when))
        now += dt
        if action == "invite":
            collect(layer.receive_datagram(invite(), CALLER, now))
        elif action == "ack" and txn is not None and txn.last_response is not None:
            collect(layer.receive_datagram(ack_for(txn), CALLER, now))
        elif action == "cancel":
            collect(layer.receive_datagram(invite(method="CANCEL"), CALLER, now))
        elif action == "decide" and txn is not None and txn.can_respond:
            layer.respond(txn, redirect(txn.request, ["sip:a@10.0.0.1"], to_tag=txn.to_tag),
                          now)
            collect([])
        if txn is not None and txn.deadline is not None:
            assert txn.deadline <= now + 64 * 0.5  # nothing waits past Timer H
    # A retransmission arriving after the transaction ended starts a new one (RFC 3261).
    assert decisions >= 1
    assert cancelled <= decisions
    if decisions == 1:
        assert len(finals) <= 1  # one final answer, byte for byte the same each time
