"""The switchboard, driven as a PBX and agents' desktops would drive it.

Two parts:

- Scenario tests: one behaviour each, deterministic, read top to bottom like the documentation
  of what a contact-center engineer sees (ring-no-answer, retry delays, overflow, closed queues,
  blacklist, trunk blocking, VIP lookups, screen pops, callbacks, transfers, pending not-ready).
  The last ones pin bugs found while writing these tests; each was fixed and stays as a guard.
- ``SwitchboardModel``: a hypothesis ``RuleBasedStateMachine`` that drives one switchboard of a
  small site through random calls, PBX answers, agent commands and time, and checks the core's
  invariants after every step (see ``SwitchboardModel.site_invariants``). The PBX side is
  ``tests/switchboard_driver.FakePbx``: it only sends events a PBX could send given the commands
  it received, and it checks every command against what it was told before.

Time in the model starts at 0 or at a POSIX time and moves by zero, small, large and odd steps;
skill stages like 7.3 s then fall on instants where ``now - entered_at`` rounds (see
``test_router_timer_terminates_on_inexact_stage``).
"""

from __future__ import annotations

import contextlib
import itertools
import signal
from collections import Counter
from collections.abc import Iterator, Mapping
from types import FrameType

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from switchboard_driver import Drive, merge, notes_of, records

import acd
from acd import SkillSchedule
from cti.core import (
    AgentConfig,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    BusinessCalendar,
    CallArrived,
    CallEnded,
    CallHungUp,
    CallRecord,
    CallState,
    CancelOffer,
    ConnectAgent,
    CtiError,
    CustomerLookupDone,
    CustomerRecord,
    Event,
    ForceQueue,
    HangUp,
    HoldCall,
    InvalidTransition,
    LegFailure,
    LocalProtocolError,
    LookupCustomer,
    Output,
    ParkWithMusic,
    QueueConfig,
    Record,
    RecordingDone,
    Redirect,
    RingPolicy,
    ScreenPop,
    SetHold,
    SwitchboardConfig,
    Target,
    TicketCreated,
    TransferCall,
    TrunkConfig,
    WrapUpDone,
)

# -- helpers for the scenarios ------------------------------------------------------------------


def agent(agent_id: str, *queues: str, **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, skills=skills, queues=queues, endpoint=f"user/{agent_id}")


def site(*queues: QueueConfig, agents: tuple[AgentConfig, ...] = (), **kw: object) -> Drive:
    config = SwitchboardConfig(
        queues=queues, agents=agents, default_queue=queues[0].name, **kw  # type: ignore[arg-type]
    )
    return Drive(config)


def staff(d: Drive, *agent_ids: str) -> Output:
    """Log agents in and make them ready, in the order given, at the current time."""
    return merge(
        out for a in agent_ids for out in (d.send(AgentLogin(a)), d.send(AgentReady(a)))
    )


def connects(out: Output) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in out.commands if isinstance(c, ConnectAgent)]


def states(out: Output, agent_id: str) -> list[tuple[str, str | None]]:
    return [(n.state, n.reason) for n in notes_of(out, AgentStateChanged) if n.agent_id == agent_id]


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the run) if the block takes longer than ``seconds``."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s: an endless loop")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NO_RETRY = dict.fromkeys(LegFailure, 0.0)

# -- scenarios: offers that fail ----------------------------------------------------------------


def test_ring_no_answer_requeues_at_the_front_and_stops_the_agent_after_max_misses() -> None:
    d = site(
        QueueConfig("sales", ring_timeout_s=10),
        agents=(agent("ann", "sales"), agent("bob", "sales")),
        ring=RingPolicy(max_misses=2, retry_s={**NO_RETRY, LegFailure.NO_ANSWER: 3.0}),
    )
    staff(d, "ann")
    assert connects(d.arrive("c1", at=1)) == [("c1", "ann")]
    d.ring("c1", at=1.5)
    assert connects(d.arrive("c2", at=2)) == []  # nobody free: c2 waits behind c1

    # Ann lets it ring: at 1 + 10 s the offer is withdrawn and c1 waits again.
    out = d.advance(11)
    assert CancelOffer("c1", "ann") in out.commands
    assert states(out, "ann") == [("not-ready", "retry-no-answer")]
    assert d.sb.calls["c1"].state is CallState.QUEUED

    # Bob comes in: he gets c1, which keeps its place ahead of c2 although it came back later.
    assert connects(staff(d, "bob")) == [("c1", "bob")]
    d.answer("c1", at=12)
    # Ann's retry delay ends at 14: she is ready again and gets c2, the next call waiting.
    out = d.advance(14)
    assert states(out, "ann") == [("ready", None), ("reserved", None)]
    assert connects(out) == [("c2", "ann")]
    d.ring("c2", at=14.5)
    # Her second miss in a row reaches max_misses: not ready "no-answer", with no way back by
    # itself; a person has to make her ready again.
    out = d.advance(24)
    assert states(out, "ann") == [("not-ready", "no-answer")]
    assert d.sb.agents["ann"].deadline is None
    d.advance(10_000)
    assert d.state("ann") == ("not-ready", "no-answer")
    assert d.sb.audit(d.now) == []


def test_busy_agent_is_kept_out_for_the_busy_retry_delay_then_ready_again() -> None:
    d = site(
        QueueConfig("sales"),
        agents=(agent("ann", "sales"),),
        ring=RingPolicy(retry_s={**NO_RETRY, LegFailure.BUSY: 30.0, LegFailure.REJECTED: 2.0}),
    )
    staff(d, "ann")
    d.arrive("c1", at=0)
    out = d.fail("c1", LegFailure.BUSY, at=1)
    assert states(out, "ann") == [("not-ready", "retry-busy")]
    assert d.sb.next_deadline() == 31.0  # the busy delay, not the rejected one
    d.advance(30.875)
    assert d.state("ann") == ("not-ready", "retry-busy")
    # The timer brings her back at exactly 31, and the call that waited meanwhile is hers again.
    out = d.advance(31)
    assert states(out, "ann") == [("ready", None), ("reserved", None)]
    assert connects(out) == [("c1", "ann")]
    assert d.sb.agents["ann"].statistics(31).not_ready_s == {"login": 0.0, "retry-busy": 30.0}


def test_caller_hanging_up_while_the_agent_rings_frees_the_agent_for_the_next_call() -> None:
    d = site(QueueConfig("sales"), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    d.ring("c1", at=1.5)
    d.arrive("c2", at=2)
    out = d.hang_up("c1", at=3)
    assert CancelOffer("c1", "ann") in out.commands
    assert states(out, "ann") == [("ready", None), ("reserved", None)]
    assert connects(out) == [("c2", "ann")]
    rec = records(out)["c1"]
    assert rec.disposition == "abandoned"
    assert rec.wait_s == 2.0
    assert d.sb.agents["ann"].missed == 0  # the caller left: not the agent's miss
    sales = d.sb.statistics(3).queues["sales"]
    assert (sales.offered, sales.abandoned, sales.in_progress) == (2, 1, 1)


# -- scenarios: where callers go when a queue will not keep them ---------------------------------


def test_max_wait_overflows_to_the_target_queue_keeping_the_original_enqueue_time() -> None:
    d = site(
        QueueConfig("sales", max_wait_s=30, on_max_wait=Target.parse("x", "queue:support")),
        QueueConfig("support"),
        agents=(agent("sue", "support"),),
    )
    out = d.arrive("c1", at=10)
    assert ParkWithMusic("c1") in out.commands
    out = d.advance(40)
    assert ParkWithMusic("c1") in out.commands  # parked again, in support now
    assert d.sb.calls["c1"].queue == "support"
    d.advance(50)
    out = staff(d, "sue")
    (pop,) = notes_of(out, ScreenPop)
    assert (pop.queue, pop.waited_s) == ("support", 40.0)  # waited since 10, not since 40
    d.answer("c1", at=52)
    rec = records(d.hang_up("c1", at=100))["c1"]
    assert rec.disposition == "answered"
    assert (rec.queue, rec.enqueued_at, rec.answered_at, rec.wait_s) == ("support", 10, 52, 42)
    assert [p.state for p in rec.phases].count("overflowed") == 1
    stats = d.sb.statistics(100).queues
    assert (stats["sales"].offered, stats["sales"].overflowed) == (1, 1)
    assert (stats["support"].offered, stats["support"].answered) == (1, 1)
    assert stats["support"].wait_answered_s == 12.0  # its own share: from 40 to 52


CLOSED = BusinessCalendar.parse(entry="queues.day.calendar", hours={})


@pytest.mark.parametrize(
    ("on_closed", "disposition", "command"),
    [
        ("hangup", "closed", HangUp("c1", "closed")),
        ("number:+3222", "transferred", Redirect("c1", "+3222")),
        ("voicemail", None, Record("c1")),
        ("queue:night", None, ParkWithMusic("c1")),
    ],
)
def test_closed_queue_sends_callers_to_on_closed(
    on_closed: str, disposition: str | None, command: object
) -> None:
    d = site(
        QueueConfig("day", calendar=CLOSED, on_closed=Target.parse("x", on_closed)),
        QueueConfig("night"),
    )
    out = d.arrive("c1", dialed="100", at=5)
    assert command in out.commands
    assert ParkWithMusic("c1") not in out.commands or on_closed.startswith("queue:")
    ended = records(out)
    assert (ended["c1"].disposition if ended else None) == disposition
    day = d.sb.statistics(5).queues["day"]
    assert (day.state, day.offered, day.blocked, day.in_progress) == ("closed", 1, 1, 0)
    if on_closed == "voicemail":
        out = d.send(d.pbx.recorded("c1"), at=60)
        (ticket,) = notes_of(out, TicketCreated)
        assert (ticket.kind, ticket.call_id, ticket.data["recording"]) == (
            "voicemail", "c1", "file:///vm/c1.wav",
        )
        assert records(out)["c1"].disposition == "voicemail"
        assert HangUp("c1", "normal") in out.commands


def test_blacklisted_caller_is_rejected_before_any_queue() -> None:
    d = site(QueueConfig("sales"), agents=(agent("ann", "sales"),), blacklist=frozenset({"+666"}))
    staff(d, "ann")
    out = d.arrive("c1", caller="+666", at=1)
    assert out.commands == [HangUp("c1", "rejected")]
    assert records(out)["c1"].disposition == "rejected"
    stats = d.sb.statistics(1)
    assert stats.queues["sales"].offered == 0
    assert stats.trunks["default"].in_use == 0
    assert d.state("ann") == ("ready", None)


def test_full_trunk_blocks_the_next_call_and_counts_it_blocked_in_its_queue() -> None:
    d = site(QueueConfig("sales"), trunks=(TrunkConfig("pri", capacity=1),))
    assert ParkWithMusic("c1") in d.arrive("c1", trunk="pri", at=1).commands
    out = d.arrive("c2", trunk="pri", at=2)
    assert out.commands == [HangUp("c2", "blocked")]
    assert records(out)["c2"].disposition == "blocked"
    stats = d.sb.statistics(2)
    sales, pri = stats.queues["sales"], stats.trunks["pri"]
    assert (sales.offered, sales.blocked, sales.in_progress) == (2, 1, 1)
    assert (pri.state, pri.in_use, pri.blocked) == ("full", 1, 1)
    d.hang_up("c1", at=3)  # the channel comes back...
    assert ParkWithMusic("c3") in d.arrive("c3", trunk="pri", at=4).commands  # ...and is reused
    assert d.sb.statistics(4).trunks["pri"].seized == 2


# -- scenarios: customer lookup and what the agent sees ------------------------------------------


def lookup_site(**kw: object) -> Drive:
    return site(
        QueueConfig("sales", strategy="priority"),
        agents=(agent("ann", "sales"),),
        customer_lookup=True,
        lookup_timeout_s=1.0,
        **kw,
    )


def test_vip_found_by_the_customer_lookup_overtakes_an_earlier_normal_caller() -> None:
    d = lookup_site()
    d.send(AgentLogin("ann"), at=0)
    out = d.arrive("c1", caller="+100", at=0)
    assert out.commands == [LookupCustomer("c1", "+100")]  # not queued until the answer
    d.send(d.pbx.looked_up("c1", CustomerRecord("K1")), at=0.25)
    d.arrive("c2", caller="+200", at=1)
    d.send(d.pbx.looked_up("c2", CustomerRecord("K2", vip=True)), at=1.25)
    out = d.send(AgentReady("ann"), at=5)
    assert connects(out) == [("c2", "ann")]
    assert d.sb.calls["c2"].priority == d.sb.calls["c1"].priority + 5.0


def test_a_lookup_answer_after_the_timeout_is_stale() -> None:
    d = lookup_site()
    d.arrive("c1", at=0)
    out = d.advance(1.0)  # the lookup timed out: the call is routed without a record
    assert ParkWithMusic("c1") in out.commands
    out = d.send(d.pbx.looked_up("c1", CustomerRecord("K1", vip=True)), at=1.5)
    assert out == Output([], [])
    assert d.sb.stale_events == 1
    assert d.sb.calls["c1"].customer is None
    assert d.sb.calls["c1"].priority == 0.0


def test_screen_pop_carries_caller_queue_wait_data_and_customer() -> None:
    d = lookup_site()
    d.send(AgentLogin("ann"))
    d.arrive("c1", caller="+4930123", dialed="800", data={"ivr": "2", "order": "A-17"}, at=2)
    customer = CustomerRecord("K9", name="Ada", data={"tier": "gold"})
    d.send(d.pbx.looked_up("c1", customer), at=2.5)
    out = d.send(AgentReady("ann"), at=14)
    (pop,) = notes_of(out, ScreenPop)
    assert pop == ScreenPop(
        agent_id="ann", call_id="c1", caller="+4930123", dialed="800", queue="sales",
        waited_s=11.5, data={"ivr": "2", "order": "A-17", "customer_id": "K9"},
        customer=customer, at=14, transferred_from=None,
    )
    connect = d.connect_of(out, "c1")
    assert connect.endpoint == "user/ann"
    assert connect.variables == {
        "cti_call_id": "c1", "cti_queue": "sales", "ivr": "2", "order": "A-17",
        "customer_id": "K9",
    }


# -- scenarios: callbacks, transfers, requests made during a call --------------------------------


def test_callback_on_max_wait_keeps_the_callers_place() -> None:
    d = site(
        QueueConfig("sales", max_wait_s=60, on_max_wait=Target.parse("x", "callback")),
        agents=(agent("ann", "sales"),),
        trunks=(TrunkConfig("pri", capacity=5),),
    )
    d.send(AgentLogin("ann"))
    d.arrive("c1", caller="+111", trunk="pri", data={"topic": "refund"}, at=0)
    d.arrive("c2", caller="+222", trunk="pri", at=30)
    out = d.advance(60)
    assert HangUp("c1", "callback-scheduled") in out.commands
    (ticket,) = notes_of(out, TicketCreated)
    assert (ticket.kind, ticket.call_id, ticket.caller, ticket.queue, ticket.at) == (
        "callback", "c1", "+111", "sales", 60,
    )
    assert ticket.data == {"topic": "refund"}
    assert not records(out)  # the call lives on without its caller's leg
    assert d.sb.statistics(60).trunks["pri"].in_use == 1  # only c2 holds a channel now
    # The PBX reports the hang-up it was asked for: nothing changes.
    assert d.send(d.pbx.echo("c1"), at=60.5) == Output([], [])
    assert d.sb.calls["c1"].state is CallState.CALLBACK

    out = d.send(AgentReady("ann"), at=70)  # c1 still goes before c2, who came 30 s later
    assert connects(out) == [("c1", "ann")]
    assert d.connect_of(out, "c1").callback_number == "+111"
    d.ring("c1", at=71)
    d.answer("c1", at=75)
    rec = records(d.hang_up("c1", at=100))["c1"]
    assert (rec.disposition, rec.wait_s, rec.talk_s) == ("answered", 75, 25)
    sales = d.sb.statistics(100).queues["sales"]
    assert (sales.offered, sales.answered, sales.in_progress) == (2, 1, 1)


def test_transfer_to_a_queue_pops_the_call_on_the_new_agent_with_who_sent_it() -> None:
    d = site(
        QueueConfig("sales"), QueueConfig("billing"),
        agents=(agent("ann", "sales"), agent("bea", "billing")),
    )
    staff(d, "ann")
    d.arrive("c1", caller="+111", data={"order": "A-17"}, at=1)
    d.answer("c1", at=3)
    d.send(AgentLogin("bea"), at=4)
    out = d.send(TransferCall("ann", to_queue="billing"), at=20)
    assert ParkWithMusic("c1") in out.commands
    assert states(out, "ann") == [("wrap-up", None)]
    out = d.send(AgentReady("bea"), at=25)
    (pop,) = notes_of(out, ScreenPop)
    assert (pop.agent_id, pop.queue, pop.transferred_from) == ("bea", "billing", "ann")
    assert (pop.caller, pop.data, pop.waited_s) == ("+111", {"order": "A-17"}, 24)
    stats = d.sb.statistics(25).queues
    assert (stats["sales"].answered, stats["sales"].in_progress) == (1, 0)
    assert (stats["billing"].offered, stats["billing"].in_progress) == (1, 1)
    d.answer("c1", at=26)
    rec = records(d.hang_up("c1", at=40))["c1"]
    assert (rec.disposition, rec.agent_id, rec.queue) == ("answered", "bea", "billing")


@pytest.mark.parametrize("end", ["timer", "wrap-up-done"])
def test_not_ready_requested_during_a_call_applies_after_wrap_up(end: str) -> None:
    d = site(QueueConfig("sales", wrap_up_s=10), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    d.answer("c1", at=2)
    assert d.send(AgentNotReady("ann", "lunch"), at=5) == Output([], [])  # remembered
    assert d.state("ann") == ("on-call", None)
    d.hang_up("c1", at=20)
    d.arrive("c2", at=21)
    out = d.advance(30) if end == "timer" else d.send(WrapUpDone("ann"), at=25)
    assert states(out, "ann") == [("not-ready", "lunch")]
    assert connects(out) == []  # c2 is not offered to an agent who asked for a break
    assert d.sb.calls["c2"].state is CallState.QUEUED
    assert d.sb.statistics(d.now).queues["sales"].handled == 1


def test_refused_agent_commands_change_nothing() -> None:
    d = site(QueueConfig("sales"), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    before = (d.sb.statistics(1), d.state("ann"))
    with pytest.raises(InvalidTransition):
        d.send(AgentReady("ann"))  # reserved for c1
    with pytest.raises(InvalidTransition):
        d.send(WrapUpDone("ann"))
    with pytest.raises(InvalidTransition):
        d.send(TransferCall("ann", to_queue="sales"))  # not talking yet
    with pytest.raises(LocalProtocolError):
        d.send(AgentReady("nobody"))
    with pytest.raises(LocalProtocolError):
        d.send(TransferCall("ann", to_queue="sales", to_number="+1"))
    assert (d.sb.statistics(1), d.state("ann")) == before
    assert d.sb.on_timer(1) == Output([], [])  # nothing half-done is left to flush
    assert d.sb.audit(1) == []


# -- bugs found while writing this file, fixed, kept as guards ----------------------------------


def test_router_timer_terminates_on_inexact_stage() -> None:
    """A stage deadline fired exactly at ``entered_at + after_s`` moves the call to the next
    stage even when ``(entered_at + after_s) - entered_at`` rounds below ``after_s`` (it used to
    re-arm the same instant and loop for ever; fixed in f7b2cde). POSIX times, which calendars
    require, and stages like 7.3 s hit it; the simulator fires deadlines exactly."""
    stages = SkillSchedule.parse("queues.sales.skills", [(0, {"sales": 5}), (7.3, {})])
    start = 1521924889.8251512  # (start + 7.3) - start == 7.299999952316284
    d = Drive(SwitchboardConfig(queues=(QueueConfig("sales", skills=stages),),
                                default_queue="sales"), now=start)
    d.arrive("c1", at=start)
    with time_limit(2.0):
        d.advance(start + 8)
    assert d.sb.router.call("c1") is not None
    assert d.sb.router.call("c1").requirement == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("request_", [AgentNotReady("ann", "lunch"), AgentLogout("ann")])
def test_request_made_while_ringing_survives_the_caller_hanging_up(request_: Event) -> None:
    """A not-ready or logout asked for while the agent is reserved or ringing is remembered;
    when the caller hangs up first it applies at once: the agent is not given the next call
    (it used to apply only after that next call's wrap-up; fixed in 1f42c5f)."""
    d = site(QueueConfig("sales"), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    d.ring("c1", at=1.5)
    d.arrive("c2", at=2)
    assert d.send(request_, at=3) == Output([], [])
    out = d.hang_up("c1", at=4)
    assert connects(out) == []  # c2 must not go to an agent who asked to leave
    expected = ("not-ready", "lunch") if isinstance(request_, AgentNotReady) else (
        "logged-out", None)
    assert d.state("ann") == expected


def test_transferred_call_abandoned_in_its_new_queue_counts_as_abandoned() -> None:
    """A call transferred to a queue keeps ``answered_at`` from its first agent; when its caller
    hangs up while waiting there, the new queue books an abandon (it used to book an overflow,
    which the audit could not see, and wallboards under-reported abandons of transfer queues)."""
    d = site(QueueConfig("sales"), QueueConfig("billing"), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    d.answer("c1", at=2)
    d.send(TransferCall("ann", to_queue="billing"), at=10)
    d.hang_up("c1", at=30)
    billing = d.sb.statistics(30).queues["billing"]
    assert (billing.offered, billing.abandoned, billing.overflowed) == (1, 1, 0)
    assert billing.wait_abandoned_s == 20


def test_echo_of_the_callback_hangup_does_not_cancel_the_callback() -> None:
    """The PBX reports the caller's leg that the switchboard hung up to schedule a callback
    (``HangUp(..., "callback-scheduled")``), possibly after an agent freed up and the callback is
    OFFERED. Until the customer answers the callback no other leg of theirs exists, so the report
    is the echo and the callback lives on (it used to be taken for an abandon and lost)."""
    d = site(
        QueueConfig("sales", max_wait_s=30, on_max_wait=Target.parse("x", "callback")),
        agents=(agent("ann", "sales"),),
    )
    d.send(AgentLogin("ann"))
    d.arrive("c1", at=1)
    d.advance(31)
    assert connects(d.send(AgentReady("ann"), at=31.125)) == [("c1", "ann")]
    out = d.send(d.pbx.echo("c1"), at=31.25)
    assert not records(out)
    assert d.sb.calls["c1"].state is CallState.OFFERED


def test_answered_callback_transferred_to_a_queue_is_a_normal_call_again() -> None:
    """After a callback was answered (the customer is on the line) and transferred to a queue,
    it is an ordinary call: the next ``ConnectAgent`` must not ask the PBX to dial the customer
    again (a failed offer would then put it back in CALLBACK, where the customer's hang-up is
    ignored and the call never ends)."""
    d = site(
        QueueConfig("sales", max_wait_s=30, on_max_wait=Target.parse("x", "callback")),
        QueueConfig("billing"),
        agents=(agent("ann", "sales"), agent("bea", "billing")),
    )
    d.send(AgentLogin("ann"))
    d.send(AgentLogin("bea"))
    d.arrive("c1", caller="+111", at=1)
    d.advance(31)
    d.send(AgentReady("ann"), at=32)
    d.answer("c1", at=33)  # the customer picked up the callback
    d.send(TransferCall("ann", to_queue="billing"), at=40)
    out = d.send(AgentReady("bea"), at=41)
    assert d.connect_of(out, "c1").callback_number is None


def test_logout_during_wrap_up_still_books_the_call_as_handled() -> None:
    """Logging out in WRAP_UP books the call in the queue's ``handled`` with the wrap-up seconds
    spent so far (they used to be lost, or credited to the queue of the agent's next call)."""
    d = site(QueueConfig("sales", wrap_up_s=30), agents=(agent("ann", "sales"),))
    staff(d, "ann")
    d.arrive("c1", at=1)
    d.answer("c1", at=2)
    d.hang_up("c1", at=10)
    d.send(AgentLogout("ann"), at=15)
    sales = d.sb.statistics(15).queues["sales"]
    assert (sales.handled, sales.talk_s, sales.wrap_up_s) == (1, 8.0, 5.0)


def test_login_to_an_unknown_queue_is_a_protocol_error() -> None:
    """Commands naming unknown queues raise ``LocalProtocolError``, as the switchboard's
    contract says (``AgentLogin`` used to raise ``ConfigurationError``, a ``ValueError`` that
    callers handling agent commands do not expect), and nothing changes."""
    d = site(QueueConfig("sales"))
    with pytest.raises(LocalProtocolError):
        d.send(AgentLogin("zed", skills={}, queues=("sales", "nowhere")))
    assert "zed" not in d.sb.agents


# -- the model ----------------------------------------------------------------------------------

SALES = SkillSchedule.parse(
    "queues.sales.skills", [(0, {"sales": 7}), (7.3, {"sales": 4}), (30, {})]
)
SUPPORT = SkillSchedule.parse(
    "queues.support.skills", [(0, {"support": 5, "english": 3}), (20, {"support": 3})]
)
BILLING = SkillSchedule.parse("queues.billing.skills", [(0, {"billing": 2})])
SCHEDULES = {"sales": SALES, "support": SUPPORT, "billing": BILLING, "night": SkillSchedule.fixed()}

ROSTER = (
    agent("a1", "sales", "support", sales=9, english=5),
    agent("a2", "sales", "support", "billing", sales=5, support=6, billing=3, english=3),
    agent("a3", "support", "billing", sales=2, support=8, english=1),  # no billing skill
    agent("a4", "billing", "sales", billing=7, sales=8),
    agent("a5", "support", "billing", "sales", support=4, billing=5, english=4),
)
#: a6 is not in the roster: it logs in with its own skills; zz never exists.
AGENTS = ("a1", "a2", "a3", "a4", "a5", "a6", "zz")
ALT_SKILLS = {"sales": 4, "support": 3, "billing": 2, "english": 3}
ALT_QUEUES = ("sales", "support", "billing")
BLACKLISTED = "+15550666"
PRI_CAPACITY = 2
NUMBERS = {"100": "sales", "200": "support", "300": "billing", "400": "night"}
REASONS = ("break", "lunch", "training")
RETRY = {
    LegFailure.NO_ANSWER: 3.0,
    LegFailure.BUSY: 8.0,
    LegFailure.REJECTED: 0.0,
    LegFailure.UNREACHABLE: 12.0,
}
LOOKUP_TIMEOUT = 1.5


def model_config(*, lookup: bool, max_misses: int, seed: int) -> SwitchboardConfig:
    return SwitchboardConfig(
        site="model",
        queues=(
            QueueConfig("sales", strategy="skill", skills=SALES, max_wait_s=45,
                        on_max_wait=Target.parse("x", "queue:support"), wrap_up_s=5,
                        ring_timeout_s=8),
            QueueConfig("support", strategy="priority", options={"aging_per_minute": 2},
                        skills=SUPPORT, max_size=3, on_full=Target.parse("x", "voicemail"),
                        max_wait_s=120, on_max_wait=Target.parse("x", "callback"),
                        wrap_up_s=0, ring_timeout_s=6),
            QueueConfig("billing", strategy="preferred-agent",
                        options={"wait_s": 10, "fallback": "round-robin"}, skills=BILLING,
                        priority=1, max_wait_s=60,
                        on_max_wait=Target.parse("x", "number:+18005550000"), wrap_up_s=3,
                        ring_timeout_s=10),
            QueueConfig("night", calendar=CLOSED, on_closed=Target.parse("x", "queue:support")),
        ),
        agents=ROSTER,
        trunks=(TrunkConfig("pri", capacity=PRI_CAPACITY),),
        numbers=NUMBERS,
        blacklist=frozenset({BLACKLISTED}),
        customer_lookup=lookup,
        lookup_timeout_s=LOOKUP_TIMEOUT,
        ring=RingPolicy(max_misses=max_misses, retry_s=RETRY, reserve_timeout_s=4),
        seed=seed,
    )


#: Time steps: none or small ones often (races), large ones for timeouts, and odd fractions.
STEPS = st.one_of(
    st.integers(0, 24).map(lambda k: k / 8),
    st.integers(1, 150).map(float),
    st.floats(0, 10, allow_nan=False, allow_infinity=False),
)
BUSY_STATES = ("reserved", "ringing", "on-call")
COMING_BACK = (AgentState.LOGGED_OUT, AgentState.NOT_READY, AgentState.WRAP_UP)
WORKING = (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP,
           AgentState.NOT_READY)
COMMANDS = ("login", "login-alt", "logout", "ready", "not-ready", "wrap-up-done", "hold",
            "transfer", "transfer")
DESTINATIONS = ("sales", "support", "billing", "night", "nowhere", "number", "two")
SENSIBLE = {
    AgentState.RESERVED: ("not-ready", "logout"),
    AgentState.RINGING: ("not-ready", "logout"),
    AgentState.ON_CALL: ("transfer", "transfer", "hold", "not-ready", "logout"),
    AgentState.WRAP_UP: ("wrap-up-done", "wrap-up-done", "ready", "not-ready", "logout"),
    AgentState.NOT_READY: ("ready", "not-ready", "logout"),
}


class SwitchboardModel(RuleBasedStateMachine):
    """One switchboard, a fake PBX, agents clicking at random, and time passing."""

    def __init__(self) -> None:
        super().__init__()
        self.d: Drive | None = None

    # -- set-up and plumbing ----------------------------------------------------------------

    @initialize(
        lookup=st.booleans(), max_misses=st.integers(1, 3), seed=st.integers(0, 3),
        start=st.sampled_from([0.0, 1521924889.8251512]),  # a POSIX time: sums round
        staffed=st.lists(st.sampled_from([a.agent_id for a in ROSTER]), unique=True),
        waiting=st.lists(st.sampled_from(sorted(NUMBERS)), max_size=4),
    )
    def build(
        self, lookup: bool, max_misses: int, seed: int, start: float, staffed: list[str],
        waiting: list[str],
    ) -> None:
        self.config = model_config(lookup=lookup, max_misses=max_misses, seed=seed)
        self.d = Drive(self.config, now=start)
        self.d.observe = self.observe
        self.roster = {a.agent_id: a for a in ROSTER}
        #: What each agent logged in with, as the skill check must see it.
        self.skills: dict[str, Mapping[str, int]] = {}
        self.served: dict[str, tuple[str, ...]] = {}
        self.misses: Counter[str] = Counter()
        #: Requests made while busy, due when the call is over: ("not-ready", reason) or
        #: ("logout", None).
        self.pending: dict[str, tuple[str, str | None]] = {}
        #: The agent ending their own wrap-up by a command (checked in check_accepted).
        self.commanding: str | None = None
        #: call -> the agent who last transferred it to a queue.
        self.transferred_from: dict[str, str] = {}
        #: Calls turned into callbacks (their caller's leg was hung up, the call lives on).
        self.went_callback: set[str] = set()
        self.first_answer: dict[str, float] = {}
        self.answered: set[str] = set()
        self.stale = 0
        self.ids = itertools.count(1)
        for dialed in waiting:  # callers who were waiting for the lines to open
            self.call_arrives(dialed, None, "default", False, None, 1)
        for agent_id in staffed:  # the shift starts with some agents in, in a random order
            self.agent_gets_ready(agent_id)

    def agent_gets_ready(self, agent_id: str) -> None:
        """An agent comes (back) to work: logs in if needed, then clicks ready."""
        d = self.drive
        agent = d.sb.agents.get(agent_id)
        if agent is None or agent.state is AgentState.LOGGED_OUT:
            self.agent_command(agent_id, "login", "break", "sales")
        self.agent_command(agent_id, "ready", "break", "sales")
        assert d.state(agent_id)[0] in ("ready", "reserved")

    @property
    def drive(self) -> Drive:
        assert self.d is not None
        return self.d

    def observe(self, out: Output, timer: bool) -> None:
        """Checks on every output, whether an event or a timer produced it."""
        d = self.drive
        now = d.now
        pops = {(p.call_id, p.agent_id): p for p in notes_of(out, ScreenPop)}
        self.went_callback.update(c.call_id for c in out.commands
                                  if isinstance(c, HangUp) and c.cause == "callback-scheduled")
        for cmd in out.commands:
            if isinstance(cmd, ConnectAgent):
                self.check_qualified(cmd, now)
                self.check_pop(cmd, pops.get((cmd.call_id, cmd.agent_id)), now)
            elif isinstance(cmd, CancelOffer) and timer:
                # Only a ring or reserve timeout withdraws an offer on a timer: a miss.
                offer = d.pbx.cancelled[cmd.call_id]
                cause = LegFailure.NO_ANSWER if offer.ringing else LegFailure.UNREACHABLE
                self.check_miss(out, cmd.agent_id, cause)
        for rec in records(out).values():
            self.check_record(rec)
        for note in notes_of(out, AgentStateChanged):
            if note.previous == "wrap-up" and note.agent_id != self.commanding:
                self.check_call_over(note.agent_id, (note.state, note.reason))

    def check_call_over(self, agent_id: str, change: tuple[str, str | None]) -> None:
        """Wrap-up is over: a request made during the call applies now, else the agent is
        ready (and may be reserved for the next call at once, in a later notification)."""
        pending = self.pending.pop(agent_id, None)
        if pending is None:
            assert change == ("ready", None), (agent_id, change)
        elif pending[0] == "logout":
            assert change == ("logged-out", None), (agent_id, change)
        else:
            assert change == pending, (agent_id, change)

    def check_qualified(self, cmd: ConnectAgent, now: float) -> None:
        queue = cmd.variables["cti_queue"]
        assert isinstance(queue, str)
        entered = self.drive.pbx.entered[cmd.call_id]
        required, _ = SCHEDULES[queue].current(entered, now)
        skills = self.skills[cmd.agent_id]
        assert acd.satisfies(skills, required), (
            f"{cmd.call_id} offered to {cmd.agent_id} {dict(skills)} after {now - entered} s in "
            f"{queue}, which requires {required}"
        )
        assert queue in self.served[cmd.agent_id], f"{cmd.agent_id} does not serve {queue}"
        expected = self.roster[cmd.agent_id].endpoint if cmd.agent_id in self.roster else ""
        assert cmd.endpoint == expected

    def check_pop(self, cmd: ConnectAgent, pop: ScreenPop | None, now: float) -> None:
        """Every offer pops the call on the agent's screen, with what the desktop needs."""
        pbx = self.drive.pbx
        cid = cmd.call_id
        arrived = pbx.arrived[cid]
        assert pop is not None, f"{cid} rings {cmd.agent_id} without a screen pop"
        assert (pop.caller, pop.dialed, pop.queue, pop.at) == (
            arrived.caller, arrived.dialed, cmd.variables["cti_queue"], now)
        assert pop.waited_s == now - pbx.first_parked[cid]
        assert pop.data.items() >= arrived.data.items()
        assert {k: v for k, v in cmd.variables.items() if not k.startswith("cti_")} == pop.data
        assert pop.transferred_from == self.transferred_from.get(cid)
        assert cmd.callback_number == (arrived.caller if cid in self.went_callback else None)
        queue = self.config.queue(pop.queue)
        assert cmd.timeout_s == queue.ring_timeout_s

    def check_record(self, rec: CallRecord) -> None:
        pbx = self.drive.pbx
        assert rec.caller == pbx.arrived[rec.call_id].caller
        assert rec.enqueued_at == pbx.first_parked.get(rec.call_id)
        assert rec.answered_at == self.first_answer.get(rec.call_id)
        assert rec.offers == sum(1 for _, c in pbx.connects if c.call_id == rec.call_id)

    def check_miss(self, out: Output, agent_id: str, cause: LegFailure) -> None:
        self.misses[agent_id] += 1
        changes = [
            n for n in notes_of(out, AgentStateChanged)
            if n.agent_id == agent_id and n.previous in ("reserved", "ringing")
        ]
        assert changes, f"{agent_id} missed an offer but stayed {self.drive.state(agent_id)}"
        limit = self.misses[agent_id] >= self.config.ring.max_misses
        expected = "no-answer" if limit else f"retry-{cause.value}"
        assert (changes[0].state, changes[0].reason) == ("not-ready", expected)
        pending = self.pending.pop(agent_id, None)
        if pending is not None:  # a request made while the phone rang applies at once
            mine = [(n.state, n.reason) for n in notes_of(out, AgentStateChanged)
                    if n.agent_id == agent_id]
            expected_next = ("logged-out", None) if pending[0] == "logout" else pending
            first = mine.index((changes[0].state, changes[0].reason))
            assert mine[first + 1:first + 2] == [expected_next], (agent_id, pending, mine)

    def send(self, event: Event) -> Output:
        with time_limit(10):
            return self.drive.send(event)

    def send_stale(self, event: Event) -> None:
        """An event about something that has moved on: counted, otherwise ignored."""
        out = self.send(event)
        self.stale += 1
        assert out == Output([], []), f"stale {event} produced {out}"

    def alive(self, cid: str) -> bool:
        pbx = self.drive.pbx
        return cid in pbx.arrived and cid not in pbx.ended

    # -- calls --------------------------------------------------------------------------------

    @rule(
        dialed=st.sampled_from([*NUMBERS, "999"]),
        direct=st.sampled_from([None, None, None, "billing", "sales", "nowhere"]),
        trunk=st.sampled_from(["pri", "pri", "default", "elsewhere"]),
        blacklisted=st.integers(0, 7).map(lambda k: k == 0),
        priority=st.sampled_from([None, None, 0.0, 3.0]),
        caller=st.integers(0, 3),
    )
    def call_arrives(
        self, dialed: str, direct: str | None, trunk: str, blacklisted: bool,
        priority: float | None, caller: int,
    ) -> None:
        d = self.drive
        cid = f"c{next(self.ids)}"
        number = BLACKLISTED if blacklisted else f"+1555010{caller}"
        blocked = trunk == "pri" and d.pbx.channel_count("pri") >= PRI_CAPACITY
        routed = (direct in NUMBERS.values()) or (direct is None and dialed in NUMBERS)
        ev = CallArrived(cid, number, dialed, trunk, direct, priority, {"ivr": dialed})
        out = d.send(d.pbx.arrive(ev))
        ended = records(out)
        if blocked or blacklisted or not routed:
            disposition = "blocked" if blocked else "rejected"
            assert ended[cid].disposition == disposition, (out, d.pbx.channels)
            cause = "blocked" if blocked else ("rejected" if blacklisted else "no-route")
            assert HangUp(cid, cause) in out.commands
        elif self.config.customer_lookup:
            assert LookupCustomer(cid, number) in out.commands
            assert cid not in ended
        else:
            assert cid not in ended
            assert ParkWithMusic(cid) in out.commands or Record(cid) in out.commands

    @precondition(lambda self: self.d is not None and self.d.pbx.lookups)
    @rule(
        data=st.data(),
        record=st.sampled_from([
            None,
            CustomerRecord("K1"),
            CustomerRecord("K2", vip=True),
            CustomerRecord("K3", account_manager="a4"),
            CustomerRecord("K4", vip=True, account_manager="a3"),  # a3 cannot take billing
            CustomerRecord("K5", account_manager="zz"),
        ]),
    )
    def lookup_answers(self, data: st.DataObject, record: CustomerRecord | None) -> None:
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(d.pbx.lookups)), label="call")
        asked = d.pbx.lookups[cid]
        late = not self.alive(cid) or d.now >= asked + LOOKUP_TIMEOUT
        event = d.pbx.looked_up(cid, record)
        if late:
            self.send_stale(event)
            return
        out = self.send(event)
        assert ParkWithMusic(cid) in out.commands or Record(cid) in out.commands

    @precondition(lambda self: self.d is not None and any(
        not o.ringing for o in self.d.pbx.offers.values()))
    @rule(data=st.data())
    def agent_phone_rings(self, data: st.DataObject) -> None:
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(
            c for c, o in d.pbx.offers.items() if not o.ringing)), label="call")
        agent_id = d.pbx.offers[cid].agent_id
        self.send(d.pbx.ringing(cid))
        assert d.state(agent_id)[0] == "ringing"

    @precondition(lambda self: self.d is not None and self.d.pbx.offers)
    @rule(data=st.data())
    def agent_answers(self, data: st.DataObject) -> None:
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(d.pbx.offers)), label="call")
        self.agent_answers_call(cid)

    @precondition(lambda self: self.d is not None and self.d.pbx.offers)
    @rule(data=st.data(), delay=st.sampled_from([0.0, 0.5, 3.0]))
    def agent_phone_rings_and_is_answered(self, data: st.DataObject, delay: float) -> None:
        """The common case, in one step: ringing, then the answer a moment later."""
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(d.pbx.offers)), label="call")
        if not d.pbx.offers[cid].ringing:
            self.send(d.pbx.ringing(cid))
        d.advance(d.now + delay)
        if cid in d.pbx.offers:  # unless the ring timed out meanwhile
            self.agent_answers_call(cid)

    @precondition(lambda self: self.d is not None and self.d.pbx.offers)
    @rule(data=st.data(), cause=st.sampled_from(LegFailure))
    def agent_leg_fails(self, data: st.DataObject, cause: LegFailure) -> None:
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(d.pbx.offers)), label="call")
        agent_id = d.pbx.offers[cid].agent_id
        out = self.send(d.pbx.fail(cid, cause))
        self.check_miss(out, agent_id, cause)
        assert self.alive(cid)

    @precondition(lambda self: self.d is not None and self.d.pbx.caller_up)
    @rule(data=st.data())
    def caller_hangs_up(self, data: st.DataObject) -> None:
        d = self.drive
        talking = sorted(d.pbx.bridged)
        if len(talking) > 0 and data.draw(st.booleans(), label="ends a conversation"):
            cid = data.draw(st.sampled_from(talking), label="call")
        else:
            cid = data.draw(st.sampled_from(sorted(d.pbx.caller_up)), label="call")
        voicemail = cid in d.pbx.recording
        out = self.hang_up(cid)
        rec = records(out)[cid]
        expected = "voicemail" if voicemail else (
            "answered" if cid in self.answered else "abandoned")
        assert rec.disposition == expected, rec
        if voicemail:
            assert [t.kind for t in notes_of(out, TicketCreated)] == ["voicemail"]

    def hang_up(self, cid: str) -> Output:
        d = self.drive
        ringing = d.pbx.offers[cid].agent_id if cid in d.pbx.offers else None
        out = self.send(d.pbx.hang_up(cid))
        if ringing is not None and ringing in self.pending:
            # A break or logout asked for while the phone rang applies now, not after the
            # next call (test_request_made_while_ringing_survives_the_caller_hanging_up).
            pending = self.pending.pop(ringing)
            expected = ("logged-out", None) if pending[0] == "logout" else pending
            assert d.state(ringing) == expected, (ringing, pending)
        return out

    @precondition(lambda self: self.d is not None and self.d.pbx.recording)
    @rule(data=st.data())
    def voicemail_recorded(self, data: st.DataObject) -> None:
        d = self.drive
        cid = data.draw(st.sampled_from(sorted(d.pbx.recording)), label="call")
        out = self.send(d.pbx.recorded(cid))
        assert records(out)[cid].disposition == "voicemail"
        (ticket,) = notes_of(out, TicketCreated)
        assert (ticket.kind, ticket.call_id) == ("voicemail", cid)
        assert HangUp(cid, "normal") in out.commands

    @rule(data=st.data(), kind=st.sampled_from(["ended", "unknown", "echo", "lookup", "vm"]))
    def stale_event(self, data: st.DataObject, kind: str) -> None:
        """Events about calls that ended, never existed, or legs the switchboard hung up."""
        d = self.drive
        pbx = d.pbx
        if kind == "echo" and pbx.echoes:
            cid = data.draw(st.sampled_from(sorted(pbx.echoes)), label="call")
            if self.alive(cid) and (cid in pbx.offers or cid in pbx.bridged):
                return  # the echo race of a callback: see test_echo_of_the_callback_hangup...
            echo = pbx.echo(cid)
            if self.alive(cid):  # a callback waiting: the report of its own hang-up
                assert self.send(echo) == Output([], [])
                assert d.sb.calls[cid].state is CallState.CALLBACK
                return
            self.send_stale(echo)
            return
        ended = sorted(cid for cid in pbx.ended if cid not in pbx.echoes)
        if kind == "unknown" or not ended:
            cid = f"ghost{next(self.ids)}"
        else:
            cid = data.draw(st.sampled_from(ended), label="call")
        event: Event
        if kind == "lookup":
            event = CustomerLookupDone(cid, CustomerRecord("K0"))
        elif kind == "vm":
            event = RecordingDone(cid, "file:///late")
        else:
            event = CallHungUp(cid)
        self.send_stale(event)

    # -- agents -------------------------------------------------------------------------------

    @precondition(lambda self: self.d is not None and any(
        a not in self.d.sb.agents or self.d.sb.agents[a].state in COMING_BACK for a in AGENTS[:6]))
    @rule(data=st.data())
    def agent_comes_back(self, data: st.DataObject) -> None:
        sb = self.drive.sb
        agent_id = data.draw(st.sampled_from([
            a for a in AGENTS[:6] if a not in sb.agents or sb.agents[a].state in COMING_BACK]))
        self.agent_gets_ready(agent_id)

    @precondition(lambda self: self.d is not None and any(
        a.state in WORKING for a in self.d.sb.agents.values()))
    @rule(
        data=st.data(),
        command=st.sampled_from(COMMANDS),
        reason=st.sampled_from(REASONS),
        dest=st.sampled_from(DESTINATIONS),
    )
    def agent_at_work_acts(
        self, data: st.DataObject, command: str, reason: str, dest: str
    ) -> None:
        """What agents do with a call: transfer, hold, wrap up, ask for a break or to leave;
        or, when not ready, come back; and now and then something their state does not allow."""
        sb = self.drive.sb
        by_state: dict[AgentState, list[str]] = {}
        for agent_id, agent in sorted(sb.agents.items()):
            if agent.state in WORKING:
                by_state.setdefault(agent.state, []).append(agent_id)
        group = data.draw(st.sampled_from(sorted(by_state, key=WORKING.index)), label="state")
        agent_id = data.draw(st.sampled_from(by_state[group]), label="agent")
        if data.draw(st.integers(0, 3), label="sensible") > 0:
            command = data.draw(st.sampled_from(SENSIBLE[group]), label="command")
            dest = data.draw(st.sampled_from((*DESTINATIONS[:3], "number")), label="dest")
        self.agent_command(agent_id, command, reason, dest)

    @rule(
        agent_id=st.sampled_from(AGENTS),
        command=st.sampled_from(COMMANDS),
        reason=st.sampled_from(REASONS),
        dest=st.sampled_from(DESTINATIONS),
    )
    def agent_command(self, agent_id: str, command: str, reason: str, dest: str) -> None:
        """Agents click anything; what their state does not allow is refused, changing nothing."""
        d = self.drive
        sb = d.sb
        known = agent_id in sb.agents
        state = sb.agents[agent_id].state.value if known else None
        event, expected = self.agent_event(agent_id, command, reason, dest, state)
        held = sb.agents[agent_id].call_id if known else None
        if command == "transfer" and expected is None and dest != "number":
            assert held is not None
            if held in self.went_callback:
                return  # see test_answered_callback_transferred_to_a_queue_is_a_normal_call
            self.transferred_from[held] = agent_id  # its next pop says so, maybe at once
        before = (sb.statistics(d.now), self.agent_details(agent_id))
        refused: CtiError | None = None
        # Ending wrap-up by hand is checked in check_accepted, by the timer in observe.
        self.commanding = agent_id if state == "wrap-up" else None
        try:
            out = self.send(event)
        except CtiError as exc:
            refused = exc
        finally:
            self.commanding = None
        if refused is not None:
            assert type(refused) is expected, f"{event} in {state}: {refused!r}, not {expected}"
            after = (sb.statistics(d.now), self.agent_details(agent_id))
            assert after == before, f"refused {event} changed something"
            assert sb.on_timer(d.now) == Output([], []), "a refused command left output behind"
            assert sb.audit(d.now) == []
            return
        assert expected is None, f"{event} in {state} was accepted, expected {expected}"
        self.check_accepted(agent_id, command, reason, dest, state, held, out)

    def agent_details(self, agent_id: str) -> object:
        agent = self.drive.sb.agents.get(agent_id)
        if agent is None:
            return None
        return (agent.state, agent.reason, agent.pending, agent.call_id, agent.deadline,
                agent.misses, dict(agent.skills), agent.queues, agent.on_hold)

    def agent_event(
        self, agent_id: str, command: str, reason: str, target: str, state: str | None
    ) -> tuple[Event, type[CtiError] | None]:
        """The event for ``command`` and the error the contract says it must raise, if any."""
        sb = self.drive.sb
        in_roster = agent_id in self.roster
        if command in ("login", "login-alt"):
            alt = command == "login-alt" or not in_roster
            event: Event = (AgentLogin(agent_id, ALT_SKILLS, ALT_QUEUES) if alt and agent_id != "zz"
                            else AgentLogin(agent_id))
            if agent_id == "zz":
                return event, LocalProtocolError
            return event, None if state in (None, "logged-out") else InvalidTransition
        if command == "transfer":
            event = TransferCall(
                agent_id,
                to_queue=None if target == "number" else ("sales" if target == "two" else target),
                to_number="+18005550199" if target in ("number", "two") else None,
            )
        else:
            event = {
                "logout": AgentLogout(agent_id),
                "ready": AgentReady(agent_id),
                "not-ready": AgentNotReady(agent_id, reason),
                "wrap-up-done": WrapUpDone(agent_id),
                "hold": HoldCall(agent_id, hold=reason == "break"),
            }[command]
        if state is None or (command == "transfer" and target == "two"):
            return event, LocalProtocolError
        allowed = {
            "logout": state != "logged-out",
            "ready": state in ("ready", "not-ready", "wrap-up"),
            "not-ready": state != "logged-out",
            "wrap-up-done": state == "wrap-up",
            "hold": state == "on-call",
            "transfer": state == "on-call",
        }[command]
        if not allowed:
            return event, InvalidTransition
        if command == "transfer" and target != "number":
            full = target == "support" and sb.router.waiting("support") >= 3
            if target in ("nowhere", "night") or full:
                return event, LocalProtocolError
        return event, None

    def check_accepted(
        self, agent_id: str, command: str, reason: str, target: str, state: str | None,
        held: str | None, out: Output,
    ) -> None:
        d = self.drive
        now_state, now_reason = d.state(agent_id)
        agent = d.sb.agents[agent_id]
        if command in ("login", "login-alt"):
            assert (now_state, now_reason) == ("not-ready", "login")
            self.skills[agent_id] = dict(agent.skills)
            self.served[agent_id] = agent.queues
            roster = self.roster.get(agent_id)
            if command == "login" and roster is not None:
                assert (self.skills[agent_id], self.served[agent_id]) == (
                    roster.skills, roster.queues)
            self.misses[agent_id] = 0
            self.pending.pop(agent_id, None)
        elif command == "logout":
            if state in BUSY_STATES:
                assert now_state == state  # remembered for after the call
                self.pending[agent_id] = ("logout", None)
            else:
                assert now_state == "logged-out"
                self.pending.pop(agent_id, None)
        elif command == "ready":
            if state == "ready":
                assert out == Output([], [])
            else:
                assert now_state in ("ready", "reserved")
                self.pending.pop(agent_id, None)
        elif command == "not-ready":
            if state in BUSY_STATES:
                assert now_state == state
                assert out == Output([], [])
                self.pending[agent_id] = ("not-ready", reason)
            else:
                assert (now_state, now_reason) == ("not-ready", reason)
                assert agent.deadline is None
                self.pending.pop(agent_id, None)
        elif command == "wrap-up-done":
            self.check_call_over(agent_id, states(out, agent_id)[0])
        elif command == "hold":
            assert [c for c in out.commands if isinstance(c, SetHold)] == [
                SetHold(agent.call_id or "", reason == "break")]
        else:
            assert states(out, agent_id)[:1] == [("wrap-up", None)]
            assert held is not None
            if target == "number":
                assert records(out)[held].disposition == "transferred"
                assert Redirect(held, "+18005550199") in out.commands
            else:
                assert ParkWithMusic(held) in out.commands

    # -- time ---------------------------------------------------------------------------------

    @rule(step=STEPS)
    def time_passes(self, step: float) -> None:
        with time_limit(10):
            self.drive.advance(self.drive.now + step)

    @precondition(lambda self: self.d is not None and self.d.sb.next_deadline() is not None)
    @rule()
    def until_next_deadline(self) -> None:
        deadline = self.drive.sb.next_deadline()
        assert deadline is not None
        with time_limit(10):
            self.drive.advance(deadline)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def site_invariants(self) -> None:
        if self.d is None:
            return
        d = self.d
        sb, pbx, now = d.sb, d.pbx, d.now
        assert sb.audit(now) == []
        stats = sb.statistics(now)

        # Agents: the PBX's view, the published states and the machines agree.
        for agent_id, agent in sb.agents.items():
            state = agent.state.value
            assert pbx.agent_states[agent_id] == (state, agent.reason), agent_id
            held = pbx.held_by(agent_id)  # asserts at most one call per agent
            if state in ("reserved", "ringing"):
                assert held is not None
                assert held == agent.call_id
                assert pbx.offers[held].ringing == (state == "ringing")
            elif state == "on-call":
                assert held is not None
                assert held == agent.call_id
                assert pbx.bridged[held] == agent_id
            else:
                assert held is None, f"{agent_id} is {state} but the PBX connects {held}"
            if agent.state in (AgentState.RESERVED, AgentState.RINGING, AgentState.WRAP_UP):
                assert agent.deadline is not None
                assert agent.deadline > now, f"{agent_id} {state} past its deadline"
            elif agent.state is AgentState.NOT_READY and (agent.reason or "").startswith("retry-"):
                assert agent.deadline is not None
                assert agent.deadline > now
            else:
                assert agent.deadline is None, f"{agent_id} {state} with a deadline"
        assert not [a for a in pbx.agent_states if a not in sb.agents]

        # Calls: each ends once, and what is alive is where the PBX was told it is.
        assert set(pbx.arrived) == set(sb.calls) | set(pbx.ended)
        assert not set(sb.calls) & set(pbx.ended)
        for cid, call in sb.calls.items():
            if call.state is CallState.QUEUED:
                assert cid in pbx.parked
                assert call.queue is not None
                max_wait = self.config.queue(call.queue).max_wait_s
                assert max_wait is None or now < pbx.entered[cid] + max_wait, (
                    f"{cid} waited in {call.queue} since {pbx.entered[cid]}, past its max wait")
            elif call.state is CallState.VOICEMAIL:
                assert cid in pbx.recording
            elif call.state is CallState.CALLBACK:
                assert cid not in pbx.caller_up
            elif call.state is CallState.ARRIVED:
                assert call.deadline is not None
                assert call.deadline == pbx.lookups[cid] + LOOKUP_TIMEOUT > now
            elif call.state is CallState.OFFERED:
                assert cid in pbx.offers
            else:
                assert call.state is CallState.CONNECTED, call.state

        # Counters.
        for name, q in stats.queues.items():
            assert q.offered == (q.answered + q.abandoned + q.blocked + q.overflowed
                                 + q.in_progress), name
        ended = Counter(rec.disposition for rec in pbx.ended.values())
        assert ended == Counter({k: v for k, v in stats.ended.items() if v})
        assert stats.arrived == len(pbx.arrived) == sum(stats.ended.values()) + stats.calls_active
        assert stats.stale_events == self.stale
        for name, trunk in stats.trunks.items():
            assert trunk.in_use == pbx.channel_count(name), name
            assert trunk.capacity is None or trunk.in_use <= trunk.capacity

        # Time: every timer due has been fired.
        deadline = sb.next_deadline()
        assert deadline is None or deadline > now

    # -- teardown -----------------------------------------------------------------------------

    def teardown(self) -> None:
        """Let the day end: every call finishes, every agent comes back, nothing leaks."""
        if self.d is None:
            return
        d = self.d
        d.advance(d.now + 1000)
        self.site_invariants()
        for _ in range(40):
            if not d.sb.calls:
                break
            self.answer_everything()
            for cid in sorted(d.pbx.recording):
                if cid in d.pbx.recording:
                    self.send(d.pbx.recorded(cid))
            for cid in sorted(d.pbx.caller_up):
                if cid in d.pbx.caller_up:
                    self.hang_up(cid)
            if d.sb.calls:  # callbacks wait for an agent to call the customer back
                self.staff_everybody()
                self.answer_everything()
            d.advance(d.now + 50)
            self.site_invariants()
        assert not d.sb.calls, f"calls never ended: {sorted(d.sb.calls)}"
        for agent_id, agent in d.sb.agents.items():
            if agent.state is AgentState.WRAP_UP:
                self.agent_command(agent_id, "wrap-up-done", "break", "sales")
        d.advance(d.now + 1000)
        self.site_invariants()
        for agent_id, agent in d.sb.agents.items():
            assert agent.state in (
                AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT), agent_id
            assert agent.call_id is None
            assert not (agent.reason or "").startswith("retry-"), (agent_id, agent.reason)
        assert not self.pending, f"requests never applied: {self.pending}"
        stats = d.sb.statistics(d.now)
        assert all(t.in_use == 0 for t in stats.trunks.values())
        assert all(q.in_progress == 0 and q.waiting == 0 for q in stats.queues.values())
        assert set(d.pbx.ended) == set(d.pbx.arrived)
        assert len(notes_of(merge(d.outputs), CallEnded)) == len(d.pbx.arrived)

    def staff_everybody(self) -> None:
        d = self.drive
        for agent_id in self.roster:
            agent = d.sb.agents.get(agent_id)
            if agent is None or agent.state is AgentState.LOGGED_OUT:
                self.agent_command(agent_id, "login", "break", "sales")
            if d.sb.agents[agent_id].state in (AgentState.NOT_READY, AgentState.WRAP_UP):
                self.agent_command(agent_id, "ready", "break", "sales")

    def answer_everything(self) -> None:
        d = self.drive
        while d.pbx.offers:
            self.agent_answers_call(min(d.pbx.offers))

    def agent_answers_call(self, cid: str) -> None:
        d = self.drive
        agent_id = d.pbx.offers[cid].agent_id
        self.send(d.pbx.answer(cid))
        self.misses[agent_id] = 0
        self.answered.add(cid)
        self.first_answer.setdefault(cid, d.now)
        assert d.state(agent_id)[0] == "on-call"
        assert d.sb.calls[cid].state is CallState.CONNECTED


SwitchboardModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSwitchboardModel = SwitchboardModel.TestCase


def test_supervisor_closes_and_reopens_a_queue() -> None:
    """A forced close turns new callers to ``on_closed`` while those waiting stay; back to the
    calendar, the (always open) queue takes calls again."""
    d = site(QueueConfig("sales", on_closed=Target.parse("x", "voicemail")),
             agents=(agent("ann", "sales"),))
    d.arrive("c1", at=1)  # nobody ready: c1 waits
    d.send(ForceQueue("sales", False), at=2)
    assert not d.sb.queues["sales"].is_open
    d.arrive("c2", at=3)
    assert d.sb.calls["c2"].state is CallState.VOICEMAIL
    assert d.sb.calls["c1"].state is CallState.QUEUED
    d.send(ForceQueue("sales", None), at=4)
    assert d.sb.queues["sales"].is_open
    with pytest.raises(LocalProtocolError):
        d.send(ForceQueue("nowhere", True), at=5)
