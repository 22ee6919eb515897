"""SIP server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state), sans-IO.

Theory of operation. ``TransactionLayer`` takes requests (bytes of a datagram, or what a
``StreamParser`` gave) with the time, and hands its user (the TU) only what is new: a
``RequestReceived`` per new transaction, an ``AckReceived`` for an ACK that matches none (the ACK
of a 2xx), ``Cancelled`` when a CANCEL ended an INVITE still in progress, ``TimedOut`` when a
final response was never acknowledged. A retransmitted request never reaches the TU: the
transaction answers it with the last response it sent (or absorbs it), so that a caller's
retransmissions can never cause a second routing decision.

The TU answers with ``respond(transaction, response, now)``. Bytes to send accumulate as
``Transmit`` records (data, address, reliable), drained by ``datagrams_to_send()``; a thin
asyncio transport writes them to a UDP socket or to the TCP connection of that address.

Timers are data, as in aioquic: ``next_deadline()`` says when to call ``handle_timer(now)``;
nothing reads a clock. Over UDP a 3xx-6xx to an INVITE is re-sent on Timer G (T1, doubling up
to T2) until the ACK comes or Timer H (64·T1) gives up; the ACK moves the transaction to
Confirmed, where Timer I (T4) absorbs further ACKs; a non-INVITE transaction lingers in
Completed for Timer J (64·T1) to answer retransmissions. Over TCP, G is not run and I and J are
zero. The states and inputs are a table per kind (``(state, input) -> (action, next state)``);
a TU input the table does not allow raises ``InvalidTransition`` and changes nothing.

Matching (§17.2.3): a branch with the ``z9hG4bK`` cookie matches on (branch, sent-by, method),
ACK counting as INVITE; otherwise RFC 2543's rule: Request-URI, tags, Call-ID, CSeq and the top
Via. CANCEL is a transaction of its own, matched to its INVITE's (§9.2): 200 to it; 487 to the
INVITE when no final response went yet (the TU gets ``Cancelled``); a CANCEL that comes after
the final response (say, racing a 302) gets only its 200 and changes nothing; one that matches
no INVITE gets 481.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from enum import Enum

from adapters.sip.errors import SipProtocolError
from adapters.sip.header_values import parse_via
from adapters.sip.message import Request, Response
from adapters.sip.parser import DEFAULT_LIMITS, Limits, parse_datagram
from adapters.sip.responses import error_response, make_response, new_tag
from cti.core import InvalidTransition, LocalProtocolError

__all__ = [
    "AckReceived",
    "Address",
    "Cancelled",
    "RequestReceived",
    "ServerTransaction",
    "TimedOut",
    "TimerConfig",
    "TransactionLayer",
    "TransactionStatistics",
    "Transmit",
    "TuEvent",
    "TxState",
]

Address = tuple[str, int]
MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """RFC 3261's base timers (§17.1.1.1, table 4), and the refresh of a provisional.

    ``provisional_refresh``: while an INVITE is proceeding, re-send its last provisional other
    than 100 this often (``None``: only when the TU asks). A proxy gives up on an INVITE after
    Timer C (over 3 minutes) without one, so a queued call needs one at least every minute.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    provisional_refresh: float | None = None


@dataclass(frozen=True, slots=True)
class Transmit:
    data: bytes
    address: Address
    reliable: bool


class TxState(Enum):
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


class _In(Enum):
    RETRANSMISSION = "request retransmitted"
    ACK = "ACK"
    PROVISIONAL = "TU sends 1xx"
    SUCCESS = "TU sends 2xx"
    FINAL = "TU sends 3xx-6xx"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_L = "Timer L"
    TIMER_G = "Timer G"
    TIMER_P = "provisional refresh"


class _Do(Enum):
    SEND = "send the TU's response"
    RESEND = "re-send the last response"
    ABSORB = "nothing"
    PASS_ACK = "hand the ACK to the TU"
    TIME_OUT = "tell the TU no ACK came"


_S, _I, _D = TxState, _In, _Do
_INVITE: dict[tuple[TxState, _In], tuple[_Do, TxState]] = {
    (_S.PROCEEDING, _I.RETRANSMISSION): (_D.RESEND, _S.PROCEEDING),
    (_S.PROCEEDING, _I.PROVISIONAL): (_D.SEND, _S.PROCEEDING),
    (_S.PROCEEDING, _I.TIMER_P): (_D.RESEND, _S.PROCEEDING),
    (_S.PROCEEDING, _I.SUCCESS): (_D.SEND, _S.ACCEPTED),
    (_S.PROCEEDING, _I.FINAL): (_D.SEND, _S.COMPLETED),
    (_S.PROCEEDING, _I.ACK): (_D.ABSORB, _S.PROCEEDING),  # nothing to acknowledge yet
    (_S.COMPLETED, _I.RETRANSMISSION): (_D.RESEND, _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_G): (_D.RESEND, _S.COMPLETED),
    (_S.COMPLETED, _I.ACK): (_D.ABSORB, _S.CONFIRMED),
    (_S.COMPLETED, _I.TIMER_H): (_D.TIME_OUT, _S.TERMINATED),
    (_S.CONFIRMED, _I.RETRANSMISSION): (_D.ABSORB, _S.CONFIRMED),
    (_S.CONFIRMED, _I.ACK): (_D.ABSORB, _S.CONFIRMED),
    (_S.CONFIRMED, _I.TIMER_I): (_D.ABSORB, _S.TERMINATED),
    # RFC 6026: a 2xx leaves the transaction alive for Timer L, absorbing retransmitted
    # INVITEs (the TU re-sends the 2xx itself) and handing ACKs to the TU.
    (_S.ACCEPTED, _I.RETRANSMISSION): (_D.ABSORB, _S.ACCEPTED),
    (_S.ACCEPTED, _I.SUCCESS): (_D.SEND, _S.ACCEPTED),
    (_S.ACCEPTED, _I.ACK): (_D.PASS_ACK, _S.ACCEPTED),
    (_S.ACCEPTED, _I.TIMER_L): (_D.ABSORB, _S.TERMINATED),
}
_NON_INVITE: dict[tuple[TxState, _In], tuple[_Do, TxState]] = {
    (_S.TRYING, _I.RETRANSMISSION): (_D.ABSORB, _S.TRYING),  # nothing sent yet to repeat
    (_S.TRYING, _I.PROVISIONAL): (_D.SEND, _S.PROCEEDING),
    (_S.TRYING, _I.SUCCESS): (_D.SEND, _S.COMPLETED),
    (_S.TRYING, _I.FINAL): (_D.SEND, _S.COMPLETED),
    (_S.PROCEEDING, _I.RETRANSMISSION): (_D.RESEND, _S.PROCEEDING),
    (_S.PROCEEDING, _I.PROVISIONAL): (_D.SEND, _S.PROCEEDING),
    (_S.PROCEEDING, _I.SUCCESS): (_D.SEND, _S.COMPLETED),
    (_S.PROCEEDING, _I.FINAL): (_D.SEND, _S.COMPLETED),
    (_S.COMPLETED, _I.RETRANSMISSION): (_D.RESEND, _S.COMPLETED),
    (_S.COMPLETED, _I.TIMER_J): (_D.ABSORB, _S.TERMINATED),
}
del _S, _I, _D
# When two timers fall due at once, the one that ends the transaction goes first.
_TIMER_ORDER = [_In.TIMER_H, _In.TIMER_I, _In.TIMER_J, _In.TIMER_L, _In.TIMER_G, _In.TIMER_P]


class ServerTransaction:
    """One server transaction. The TU reads it and passes it back to the layer's methods;
    ``request`` is the request as received, its top Via stamped with ``received``/``rport``."""

    __slots__ = ("_deadlines", "_g_interval", "_last", "_last_provisional", "_scheduled",
                 "address", "is_invite", "key", "provisional_sent_at", "reliable", "request",
                 "source", "state", "to_tag")

    def __init__(self, request: Request, source: Address, reliable: bool, key: Hashable,
                 address: Address) -> None:
        self.request = request
        self.source = source
        self.reliable = reliable
        self.key = key
        #: Where responses go: the connection's peer on a stream, else per §18.2.2.
        self.address = address
        self.is_invite = request.method == "INVITE"
        self.state = TxState.PROCEEDING if self.is_invite else TxState.TRYING
        #: The To tag of every response of this transaction (and of its CANCEL's).
        self.to_tag = new_tag()
        #: When the last provisional other than 100 went out (the TU's refresh clock).
        self.provisional_sent_at: float | None = None
        self._last: tuple[Response, bytes] | None = None
        self._last_provisional: bytes | None = None
        self._deadlines: dict[_In, float] = {}
        self._g_interval = 0.0
        self._scheduled: float | None = None

    @property
    def can_respond(self) -> bool:
        """No final response has been sent yet."""
        return self.state in (TxState.TRYING, TxState.PROCEEDING)

    @property
    def last_response(self) -> Response | None:
        return self._last[0] if self._last else None

    @property
    def deadline(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def response(self, status: int, reason: str | None = None, *,
                 headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> Response:
        """A response to this transaction's request, with its To tag."""
        return make_response(self.request, status, reason, to_tag=self.to_tag,
                             headers=headers, body=body)

    def __repr__(self) -> str:
        return (f"<ServerTransaction {self.request.method} {self.request.call_id} "
                f"{self.state.name}>")

    def _step(self, inp: _In) -> tuple[_Do, TxState]:
        table = _INVITE if self.is_invite else _NON_INVITE
        try:
            return table[(self.state, inp)]
        except KeyError:
            ident = f"{self.request.call_id} {self.request.cseq}"
            raise InvalidTransition("sip transaction", ident, self.state, inp) from None

    def _enter(self, state: TxState, now: float, timers: TimerConfig) -> None:
        if state is self.state:
            return
        self.state = state
        d = self._deadlines
        d.clear()
        if state is TxState.COMPLETED and self.is_invite:
            if not self.reliable:
                self._g_interval = timers.t1
                d[_In.TIMER_G] = now + timers.t1
            d[_In.TIMER_H] = now + 64 * timers.t1
        elif state is TxState.COMPLETED:
            d[_In.TIMER_J] = now + (0.0 if self.reliable else 64 * timers.t1)
        elif state is TxState.CONFIRMED:
            d[_In.TIMER_I] = now + (0.0 if self.reliable else timers.t4)
        elif state is TxState.ACCEPTED:
            d[_In.TIMER_L] = now + 64 * timers.t1


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new transaction: the TU decides and answers with ``respond``."""

    transaction: ServerTransaction


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK that matched no transaction: the ACK of a 2xx (its own transaction, §17.1.1.3),
    or a late one after the transaction ended."""

    request: Request
    source: Address


@dataclass(frozen=True, slots=True)
class Cancelled:
    """``transaction`` (an INVITE) was cancelled before its final response: the layer sent
    487 to it and 200 to the CANCEL; the TU undoes what it had started (a queued call)."""

    transaction: ServerTransaction
    cancel: Request


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Timer H: the final response of ``transaction`` was never acknowledged."""

    transaction: ServerTransaction


TuEvent = RequestReceived | AckReceived | Cancelled | TimedOut


@dataclass(frozen=True, slots=True)
class TransactionStatistics:
    transactions: int
    requests: int
    retransmissions: int
    acks: int
    acks_to_tu: int
    cancels: int
    cancels_late: int
    cancels_unmatched: int
    responses: int
    response_retransmissions: int
    timeouts: int
    malformed_answered: int
    malformed_dropped: int
    stray_responses: int
    keepalives: int


def _key(request: Request, method: str, to_tag: str | None = None) -> tuple[object, ...]:
    via = request.top_via
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        return ("3261", branch, via.sent_by, method)
    # RFC 2543 (§17.2.3): the To tag is the request's own, except for an ACK, whose tag is
    # the one of the response it acknowledges: the caller says which INVITE tag to try.
    tag = to_tag if request.method == "ACK" else request.to_addr.tag
    return ("2543", request.uri, tag, request.from_addr.tag, request.call_id,
            request.cseq.number, method, request.headers.values("Via")[0])


class TransactionLayer:
    """Every server transaction of one SIP endpoint, over any number of transports."""

    def __init__(self, *, timers: TimerConfig | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.timers = timers or TimerConfig()
        self.limits = limits
        self._by_key: dict[Hashable, ServerTransaction] = {}
        self._heap: list[tuple[float, int, ServerTransaction]] = []
        self._seq = itertools.count()
        self._outbox: list[Transmit] = []
        self._counts = dict.fromkeys(TransactionStatistics.__slots__, 0)

    def __len__(self) -> int:
        return len(self._by_key)

    def statistics(self) -> TransactionStatistics:
        return TransactionStatistics(**{**self._counts, "transactions": len(self._by_key)})

    def datagrams_to_send(self) -> list[Transmit]:
        out, self._outbox = self._outbox, []
        return out

    # -- input ---------------------------------------------------------------------------

    def receive_datagram(self, data: bytes, source: Address, now: float) -> list[TuEvent]:
        """One UDP datagram from ``source``."""
        try:
            message = parse_datagram(data, self.limits)
        except SipProtocolError as exc:
            self.reject(exc, source, reliable=False)
            return []
        if message is None:
            self._counts["keepalives"] += 1
            return []
        return self.receive(message, source, now, reliable=False)

    def receive(self, item: Request | Response | SipProtocolError, source: Address,
                now: float, *, reliable: bool) -> list[TuEvent]:
        """A parsed message (or a ``StreamParser`` error in its place) from ``source``."""
        if isinstance(item, SipProtocolError):
            self.reject(item, source, reliable=reliable)
            return []
        if isinstance(item, Response):
            # A server has no client transactions for a response to match.
            self._counts["stray_responses"] += 1
            return []
        try:
            return self._request(item, source, now, reliable)
        except SipProtocolError as exc:  # a hand-built request without the headers it needs
            self.reject(exc, source, reliable=reliable)
            return []

    def reject(self, error: SipProtocolError, source: Address, *, reliable: bool) -> bool:
        """Answer a malformed message where that is possible (400, 505, 513), else count it
        dropped. True when an answer was queued."""
        response = error_response(error, source=source)
        if response is None:
            self._counts["malformed_dropped"] += 1
            return False
        # Only the top Via is known to parse (a later one may be what was wrong).
        address = source if reliable else \
            parse_via(response.headers.values("Via")[0]).response_address()
        self._outbox.append(Transmit(bytes(response), address, reliable))
        self._counts["malformed_answered"] += 1
        return True

    def _request(self, request: Request, source: Address, now: float,
                 reliable: bool) -> list[TuEvent]:
        method = request.method
        if method == "ACK":
            return self._ack(request, source, now)
        key = _key(request, method)
        txn = self._by_key.get(key)
        if txn is not None:
            self._counts["retransmissions"] += 1
            self._input(txn, _In.RETRANSMISSION, now, [])
            return []
        txn = self._open(request, source, reliable, key)
        self._counts["requests"] += 1
        if method == "CANCEL":
            return self._cancel(txn, now)
        if txn.is_invite:
            # Sent at once rather than after 200 ms (§17.2.1): it stops the caller's
            # retransmissions, and the TU's decision may take longer.
            self.respond(txn, make_response(txn.request, 100), now)
        return [RequestReceived(txn)]

    def _open(self, request: Request, source: Address, reliable: bool,
              key: Hashable) -> ServerTransaction:
        via = request.top_via
        stamped = via.received_from(*source)
        if stamped != via:
            request = request.with_top_via(stamped)
        address = source if reliable else stamped.response_address()
        txn = ServerTransaction(request, source, reliable, key, address)
        self._by_key[key] = txn
        return txn

    def _ack(self, ack: Request, source: Address, now: float) -> list[TuEvent]:
        txn = self._match_ack(ack)
        if txn is None:
            self._counts["acks_to_tu"] += 1
            return [AckReceived(ack, source)]
        self._counts["acks"] += 1
        events: list[TuEvent] = []
        if self._input(txn, _In.ACK, now, events) is _Do.PASS_ACK:
            events.append(AckReceived(ack, source))
        return events

    def _match_ack(self, ack: Request) -> ServerTransaction | None:
        key = _key(ack, "INVITE")
        txn = self._by_key.get(key)
        if key[0] == "3261":
            return txn
        # RFC 2543: an initial INVITE had no To tag, and its ACK has the tag of the response;
        # a re-INVITE had one, and its ACK has the same.
        tag = ack.to_addr.tag
        last = txn.last_response if txn is not None else None
        if last is not None and last.to_addr.tag == tag:
            return txn
        return self._by_key.get(_key(ack, "INVITE", tag))

    def _cancel(self, cancel: ServerTransaction, now: float) -> list[TuEvent]:
        invite = self._by_key.get(_key(cancel.request, "INVITE"))
        if invite is None:
            self._counts["cancels_unmatched"] += 1
            self.respond(cancel, cancel.response(481), now)
            return []
        # §9.2: the CANCEL's response carries the INVITE's To tag.
        cancel.to_tag = invite.to_tag
        self.respond(cancel, cancel.response(200), now)
        if not invite.can_respond:
            self._counts["cancels_late"] += 1
            return []
        self._counts["cancels"] += 1
        self.respond(invite, invite.response(487), now)
        return [Cancelled(invite, cancel.request)]

    # -- the TU's side -------------------------------------------------------------------

    def respond(self, txn: ServerTransaction, response: Response, now: float) -> None:
        """Send ``response`` on ``txn``. After the final response, ``InvalidTransition``
        (check ``txn.can_respond`` first when a CANCEL may have come in between)."""
        if response.cseq != txn.request.cseq:
            raise LocalProtocolError(
                f"response for CSeq {response.cseq} on the transaction of {txn.request.cseq}")
        status = response.status
        inp = _In.PROVISIONAL if status < 200 else _In.SUCCESS if status < 300 else _In.FINAL
        txn._step(inp)  # raises before anything changes
        tag = response.to_addr.tag
        if tag is not None and status != 100:
            txn.to_tag = tag  # what a 487 or the CANCEL's 200 must repeat (§9.2)
        data = bytes(response)
        txn._last = (response, data)
        if status < 200 and status != 100:
            txn._last_provisional = data
            txn.provisional_sent_at = now
        self._counts["responses"] += 1
        self._outbox.append(Transmit(data, txn.address, txn.reliable))
        self._input(txn, inp, now, [], sent=True)
        refresh = self.timers.provisional_refresh
        if refresh is not None and txn.is_invite and txn.state is TxState.PROCEEDING \
                and txn._last_provisional is not None:
            txn._deadlines[_In.TIMER_P] = now + refresh
            self._schedule(txn)

    def resend_provisional(self, txn: ServerTransaction, now: float) -> None:
        """Re-send the last provisional response other than 100 (a 182 Queued, say) while the
        INVITE is proceeding, so that no proxy on the way gives up on it."""
        if txn.state is not TxState.PROCEEDING or txn._last_provisional is None:
            raise LocalProtocolError(f"{txn!r} has no provisional response to re-send")
        self._resend(txn, txn._last_provisional)
        txn.provisional_sent_at = now

    # -- timers --------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            when, _, txn = heap[0]
            if txn._scheduled == when and txn.state is not TxState.TERMINATED:
                return when
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> list[TuEvent]:
        events: list[TuEvent] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, txn = heapq.heappop(heap)
            if txn._scheduled != when or txn.state is TxState.TERMINATED:
                continue  # superseded by a later entry, or already over
            txn._scheduled = None
            self._run_due(txn, now, events)
        return events

    # -- inside --------------------------------------------------------------------------

    def _resend(self, txn: ServerTransaction, data: bytes) -> None:
        self._counts["response_retransmissions"] += 1
        self._outbox.append(Transmit(data, txn.address, txn.reliable))

    def _input(self, txn: ServerTransaction, inp: _In, now: float, events: list[TuEvent],
               *, sent: bool = False) -> _Do | None:
        """Run one input through ``txn``'s table; ``sent``: the TU's response already went."""
        try:
            action, state = txn._step(inp)
        except InvalidTransition:
            return None  # a remote input out of place changes nothing
        if action is _Do.RESEND:
            data = txn._last_provisional if inp is _In.TIMER_P else \
                txn._last[1] if txn._last else None
            if data is not None:
                self._resend(txn, data)
        elif action is _Do.TIME_OUT:
            self._counts["timeouts"] += 1
            events.append(TimedOut(txn))
        elif action is _Do.SEND and not sent:
            raise AssertionError("a TU response goes through respond()")
        txn._enter(state, now, self.timers)
        self._run_due(txn, now, events)
        return action

    def _run_due(self, txn: ServerTransaction, now: float, events: list[TuEvent]) -> None:
        """Fire ``txn``'s timers that are due (a zero timer at once), then schedule the next."""
        d = txn._deadlines
        while txn.state is not TxState.TERMINATED:
            due = [t for t in _TIMER_ORDER if t in d and d[t] <= now]
            if not due:
                break
            timer = min(due, key=lambda t: d[t])
            del d[timer]
            if timer is _In.TIMER_G:
                txn._g_interval = min(2 * txn._g_interval, self.timers.t2)
                d[_In.TIMER_G] = now + txn._g_interval
            elif timer is _In.TIMER_P and self.timers.provisional_refresh is not None:
                d[_In.TIMER_P] = now + self.timers.provisional_refresh
            self._input(txn, timer, now, events)
            return  # _input ran the rest and scheduled
        if txn.state is TxState.TERMINATED:
            if self._by_key.get(txn.key) is txn:
                del self._by_key[txn.key]
            return
        self._schedule(txn)

    def _schedule(self, txn: ServerTransaction) -> None:
        when = txn.deadline
        if when is not None and when != txn._scheduled:
            txn._scheduled = when
            heapq.heappush(self._heap, (when, next(self._seq), txn))
