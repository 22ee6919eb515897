"""The switchboard running IVR flows: the water utility's flow walked through the production
switchboard with a fake PBX (menu, collection, lookup, queue, agent, screen pop with what was
collected), timeouts and retries through the timer queue, the caller hanging up in the flow,
voicemail, self-service and failed hang-ups, a transfer and a callback after the flow's own
max wait, announcements, and a site without flows paying nothing for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from switchboard_driver import Drive, notes_of, records

import acd
import ivr
from cti.core import (
    AgentConfig,
    AgentLogin,
    AgentReady,
    CallEnded,
    CollectDigits,
    ConnectAgent,
    CustomerLookupDone,
    CustomerRecord,
    DigitsEntered,
    ForceQueue,
    HangUp,
    LookupCustomer,
    LookupData,
    Output,
    ParkWithMusic,
    PlayPrompt,
    PromptDone,
    PromptFile,
    QueueConfig,
    Record,
    RecordingDone,
    Redirect,
    ScreenPop,
    SwitchboardConfig,
    Target,
    TargetKind,
    TicketCreated,
    WrapUpDone,
)

ROOT = Path(__file__).resolve().parent.parent
FLOW = ivr.load_flow(ROOT / "ivr" / "examples" / "water-utility.toml")
BILL = {"status": "open", "balance": 42.1, "due_date": "2026-06-30"}
NUMBER = "3100"


def site(*agents: AgentConfig, flow: ivr.Flow = FLOW, customer_lookup: bool = False) -> Drive:
    queues = tuple(QueueConfig(name, wrap_up_s=5) for name in
                   ("billing", "repairs", "complaints", "general"))
    config = SwitchboardConfig(queues=queues, agents=agents, customer_lookup=customer_lookup,
                               flows=dict.fromkeys((*flow.numbers, NUMBER), flow))
    drive = Drive(config)

    def audit(out: Output, timer: bool) -> None:
        assert drive.sb.audit(drive.now) == []

    drive.observe = audit
    for agent in agents:
        drive.send(AgentLogin(agent.agent_id))
        drive.send(AgentReady(agent.agent_id))
    return drive


BILLING_AGENT = AgentConfig("a1", skills={"billing": 5}, queues=("billing",), endpoint="user/a1")


def only(out: Output, kind: type) -> object:
    found = [c for c in out.commands if isinstance(c, kind)]
    assert len(found) == 1, out.commands
    return found[0]


def collect(out: Output) -> CollectDigits:
    cmd = only(out, CollectDigits)
    assert isinstance(cmd, CollectDigits)
    return cmd


def to_bill_amount(d: Drive, cid: str = "c1", start: float = 0.0) -> None:
    """Welcome, the main menu's 1, a meter number, its bill found and read out."""
    out = d.arrive(cid, dialed=NUMBER, at=start)
    play = only(out, PlayPrompt)
    assert isinstance(play, PlayPrompt)
    assert play.prompts == (PromptFile("welcome", "welcome.wav", "Welcome to City Water."),)
    menu = collect(d.prompt_done(cid, at=start + 3))
    assert (menu.node, menu.attempt, menu.max_digits, menu.timeout_s) == ("main", 1, 1, 6.0)
    d.prompt_done(cid, at=start + 12)
    meter = collect(d.press(cid, "1", at=start + 13))
    assert (meter.node, meter.min_digits, meter.max_digits, meter.terminator) == (
        "bill-meter", 8, 8, "#")
    assert meter.prompts[0].file == "enter-meter.wav"
    d.prompt_done(cid, at=start + 17)
    ask = only(d.press(cid, "12345678", at=start + 22), LookupData)
    assert isinstance(ask, LookupData)
    assert (ask.source, ask.key, ask.timeout_s) == ("bill-status", "12345678", 3.0)
    amount = only(d.found(cid, BILL, at=start + 22.5), PlayPrompt)
    assert isinstance(amount, PlayPrompt)
    assert [(s.value, s.kind) for s in amount.say] == [("42.1", "currency"),
                                                       ("2026-06-30", "date")]
    more = collect(d.prompt_done(cid, at=start + 27))
    assert more.node == "bill-more"
    d.prompt_done(cid, at=start + 33)


def test_menu_collect_lookup_queue_agent_and_the_screen_pop_carries_what_was_typed() -> None:
    d = site(BILLING_AGENT)
    to_bill_amount(d)
    out = d.press("c1", "1", at=34.0)  # speak to billing
    assert isinstance(only(out, ParkWithMusic), ParkWithMusic)
    connect = only(out, ConnectAgent)
    assert isinstance(connect, ConnectAgent)
    assert connect.agent_id == "a1"
    assert connect.variables["meter"] == "12345678"
    (pop,) = notes_of(out, ScreenPop)
    path = ("welcome", "main", "bill-meter", "bill-lookup", "bill-check", "bill-amount",
            "bill-more", "to-billing", "billing-hours", "billing-queue")
    assert pop.queue == "billing"
    assert pop.waited_s == 0.0  # the time in the IVR is not waiting in line
    assert pop.data["meter"] == "12345678"
    assert dict(pop.data["bill"]) == BILL  # type: ignore[call-overload]
    assert pop.data["service"] == "billing"
    assert pop.data["service_choice"] == "1"
    assert pop.data["ivr_flow"] == "water-utility"
    assert pop.data["ivr_path"] == path
    assert pop.data["ivr_exit"] == "queued"
    call = d.sb.calls["c1"]
    assert call.skills is not None
    assert call.skills.stages[0].requirement == (("billing", 3),)
    d.answer("c1", at=36.0)
    rec = records(d.hang_up("c1", at=100.0))["c1"]
    assert rec.disposition == "answered"
    assert [p.state for p in rec.phases] == ["arrived", "screened", "in-ivr", "queued",
                                              "offered", "connected", "ended"]
    assert rec.wait_s == pytest.approx(2.0)
    assert rec.enqueued_at == 34.0
    assert rec.data["ivr_path"] == path
    assert rec.data["meter"] == "12345678"
    assert d.sb.queues["billing"].answered == 1


def test_no_key_retries_through_the_timer_queue_then_the_menu_default() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    d.prompt_done("c1", at=12.0)  # the menu prompt ended: 6 s to press a key
    assert d.sb.next_deadline() == 18.0
    retry = collect(d.advance(18.0))
    assert (retry.node, retry.attempt) == ("main", 2)
    assert [p.name for p in retry.prompts] == ["no-input", "main-menu"]
    d.prompt_done("c1", at=25.0)
    assert d.sb.next_deadline() == 31.0
    assert collect(d.advance(31.0)).attempt == 3
    d.prompt_done("c1", at=40.0)
    out = d.advance(46.0)  # the last attempt: default, a person
    assert isinstance(only(out, ParkWithMusic), ParkWithMusic)
    call = d.sb.calls["c1"]
    assert call.queue == "general"
    assert call.data["service"] == "general"
    assert d.sb.queues["general"].in_progress == 1


def test_a_prompt_whose_end_is_never_reported_ends_by_its_timeout() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    assert d.sb.next_deadline() == 120.0  # the flow's prompt_timeout_s
    assert collect(d.advance(120.0)).node == "main"


def test_a_report_about_an_earlier_prompt_is_stale() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    stale = d.sb.stale_events
    out = d.send(PromptDone("c1", 1), at=4.0)  # the welcome's, again
    assert out.commands == []
    assert d.sb.stale_events == stale + 1
    assert d.sb.next_deadline() == 123.0  # the menu prompt's own timeout, untouched


def test_the_caller_hanging_up_in_the_flow_ends_ivr_abandoned() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    rec = records(d.hang_up("c1", at=5.0))["c1"]
    assert rec.disposition == "ivr-abandoned"
    assert rec.queue is None
    assert rec.data["ivr_path"] == ("welcome", "main")
    assert rec.data["ivr_exit"] == "abandoned"
    assert d.sb.ended["ivr-abandoned"] == 1
    assert all(q.offered == 0 for q in d.sb.queues.values())
    assert d.sb.trunks["default"].in_use == 0
    assert d.sb._ivr.runs == {}
    assert d.sb.next_deadline() is None


def test_a_complaint_is_a_voicemail_ticket_with_the_flow_data() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    out = d.press("c1", "3", at=5.0)
    record = only(out, Record)
    assert record == Record("c1", "complaint-record", 180.0, "complaint-record.wav")
    out = d.send(d.pbx.recorded("c1"), at=60.0)
    (ticket,) = notes_of(out, TicketCreated)
    assert (ticket.kind, ticket.queue) == ("voicemail", "complaints")
    assert ticket.data["ticket"] == "complaint"
    assert ticket.data["recording"] == "file:///vm/c1.wav"
    assert ticket.data["ivr_path"] == ("welcome", "main", "complaint", "complaint-message")
    rec = records(out)["c1"]
    assert (rec.disposition, rec.queue) == ("voicemail", "complaints")


def test_goodbye_after_the_bill_is_self_service_with_the_goodbye_prompt() -> None:
    d = site()
    to_bill_amount(d)
    out = d.press("c1", "#", at=34.0)
    hangup = only(out, HangUp)
    assert hangup == HangUp("c1", "normal", PromptFile(
        "goodbye", "goodbye.wav", "Thank you for calling City Water. Goodbye."))
    rec = records(out)["c1"]
    assert rec.disposition == "self-service"
    assert rec.data["ivr_exit"] == "hangup"
    assert dict(rec.data["bill"]) == BILL  # type: ignore[call-overload]
    assert d.sb.ended["self-service"] == 1
    assert d.sb.trunks["default"].in_use == 0


SHORT = """
[flow]
start = "menu"
[nodes.menu]
type = "menu"
prompt = "menu"
choices = { "1" = "queue" }
retries = 0
[nodes.queue]
type = "queue"
queue = "general"
"""


def test_a_flow_that_gives_up_on_the_caller_ends_ivr_failed() -> None:
    d = site(flow=ivr.parse_flow(SHORT))
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=2.0)
    out = d.advance(7.0)  # no key within the menu's 5 s, and no retries
    assert only(out, HangUp) == HangUp("c1", "ivr-no-input")
    rec = records(out)["c1"]
    assert rec.disposition == "ivr-failed"
    assert rec.data["ivr_cause"] == "ivr-no-input"


def to_leak_queue(d: Drive) -> None:
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    safety = only(d.press("c1", "2", at=5.0), PlayPrompt)
    assert isinstance(safety, PlayPrompt)
    assert safety.prompts[0].name == "leak-safety"
    assert isinstance(only(d.prompt_done("c1", at=10.0), ParkWithMusic), ParkWithMusic)


def test_announcements_then_the_flows_max_wait_transfers_out() -> None:
    d = site()
    to_leak_queue(d)
    call = d.sb.calls["c1"]
    assert (call.queue, call.priority) == ("repairs", 10.0)
    d.advance(10.0 + 135.0)
    assert [(t, a.position, a.prompt.name if a.prompt else None)
            for t, a in d.pbx.announced] == [(55.0, 1, "still-waiting"),
                                             (100.0, 1, "still-waiting"),
                                             (145.0, 1, "still-waiting")]
    out = d.advance(10.0 + 600.0)
    assert only(out, Redirect) == Redirect("c1", "+18005550199")
    rec = records(out)["c1"]
    assert rec.disposition == "transferred"
    assert rec.data["ivr_exit"] == "transfer"
    assert rec.data["ivr_path"][-2:] == ("repairs-queue", "emergency-line")
    repairs = d.sb.queues["repairs"]
    assert (repairs.offered, repairs.overflowed, repairs.in_progress) == (1, 1, 0)


def test_a_second_caller_in_line_hears_position_two() -> None:
    d = site()
    to_leak_queue(d)
    d.arrive("c2", dialed=NUMBER, at=20.0)
    d.prompt_done("c2", at=23.0)
    d.press("c2", "2", at=25.0)
    d.prompt_done("c2", at=30.0)
    d.advance(80.0)
    assert [(t, a.call_id, a.position) for t, a in d.pbx.announced] == [
        (55.0, "c1", 1), (75.0, "c2", 2)]


def to_billing_line(d: Drive) -> None:
    """Into the billing line (the billing system is down: straight to the team)."""
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    d.press("c1", "1", at=5.0)
    d.prompt_done("c1", at=8.0)
    d.press("c1", "12345678", at=12.0)
    down = only(d.lookup_failed("c1", at=13.0), PlayPrompt)
    assert isinstance(down, PlayPrompt)
    assert down.prompts[0].name == "system-down"
    assert isinstance(only(d.prompt_done("c1", at=18.0), ParkWithMusic), ParkWithMusic)


def test_a_lookup_that_never_answers_takes_the_fallback_by_the_timer() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    d.press("c1", "1", at=5.0)
    d.prompt_done("c1", at=8.0)
    d.press("c1", "12345678", at=12.0)
    assert d.sb.next_deadline() == 15.0
    down = only(d.advance(15.0), PlayPrompt)
    assert isinstance(down, PlayPrompt)
    assert down.prompts[0].name == "system-down"
    late = d.send(d.pbx.data_found("c1", BILL), at=16.0)  # after its timeout: ignored
    assert late.commands == []


def test_after_the_flows_max_wait_a_callback_keeps_the_place() -> None:
    d = site()
    to_billing_line(d)
    offer = collect(d.advance(18.0 + 240.0))  # the flow's max wait: offer a callback
    assert (offer.node, offer.prompts[0].name) == ("offer-callback", "callback-offer")
    call = d.sb.calls["c1"]
    assert call.state.value == "queued"  # still in line while the menu plays
    assert d.sb.router.call("c1") is not None
    d.prompt_done("c1", at=266.0)
    out = d.press("c1", "1", at=267.0)
    hangup = only(out, HangUp)
    assert isinstance(hangup, HangUp)
    assert hangup.cause == "callback-scheduled"
    assert hangup.prompt is not None
    assert hangup.prompt.name == "callback-confirmed"
    (ticket,) = notes_of(out, TicketCreated)
    assert (ticket.kind, ticket.queue) == ("callback", "billing")
    assert call.state.value == "callback"
    assert d.sb.router.call("c1") is not None
    d.send(AgentLogin("a1", skills={"billing": 5}, queues=("billing",)), at=300.0)
    out = d.send(AgentReady("a1"), at=300.0)
    connect = only(out, ConnectAgent)
    assert isinstance(connect, ConnectAgent)
    assert connect.callback_number == "+15550100"
    assert connect.variables["ivr_exit"] == "callback"


def test_holding_on_after_the_max_wait_goes_back_to_music_in_the_same_place() -> None:
    d = site()
    to_billing_line(d)
    d.advance(258.0)
    d.prompt_done("c1", at=266.0)
    out = d.press("c1", "2", at=267.0)
    assert only(out, ParkWithMusic) == ParkWithMusic("c1", "default")
    billing = d.sb.queues["billing"]
    assert (billing.offered, billing.in_progress, billing.overflowed) == (1, 1, 0)
    assert d.sb.calls["c1"].enqueued_at == 18.0
    assert collect(d.advance(267.0 + 240.0)).node == "offer-callback"  # the max wait again


def test_a_call_routed_by_the_pbx_skips_the_flow() -> None:
    d = site()
    out = d.arrive("c1", dialed=NUMBER, queue="general", at=0.0)
    assert isinstance(only(out, ParkWithMusic), ParkWithMusic)
    assert not [c for c in out.commands if isinstance(c, PlayPrompt)]


def test_the_customer_lookup_comes_before_the_flow() -> None:
    d = site(customer_lookup=True)
    out = d.arrive("c1", dialed=NUMBER, at=0.0)
    assert isinstance(only(out, LookupCustomer), LookupCustomer)
    out = d.send(CustomerLookupDone("c1", CustomerRecord("cust-1", vip=True)), at=0.2)
    assert only(out, PlayPrompt).prompts[0].name == "welcome"  # type: ignore[attr-defined]
    session = d.sb._ivr.runs["c1"].session
    assert session.variables["customer"]["customer_id"] == "cust-1"  # type: ignore[index]
    d.prompt_done("c1", at=3.0)
    d.press("c1", "2", at=5.0)
    d.prompt_done("c1", at=10.0)
    # A VIP gets the boost on top of the flow's priority.
    assert d.sb.calls["c1"].priority == 10.0 + d.sb.config.vip_priority_boost


def test_hanging_up_during_the_customer_lookup_leaves_nothing_behind() -> None:
    d = site(customer_lookup=True)
    d.arrive("c1", dialed=NUMBER, at=0.0)
    rec = records(d.hang_up("c1", at=0.5))["c1"]
    assert rec.disposition == "abandoned"
    assert d.sb._ivr.pending == {}


def test_a_site_without_flows_never_looks_at_the_ivr() -> None:
    config = SwitchboardConfig(queues=(QueueConfig("general", skills=acd.SkillSchedule.fixed()),),
                               default_queue="general")
    d = Drive(config)
    ivr = d.sb._ivr
    out = d.arrive("c1", dialed=NUMBER, at=0.0)
    assert isinstance(only(out, ParkWithMusic), ParkWithMusic)
    # Nothing was admitted to, pending in or served by the IVR (a compiled switchboard's
    # attributes are typed, so the IVR cannot be swapped for a tripwire here).
    assert (ivr.runs, ivr.pending, ivr._serving) == ({}, {}, {})
    out = d.hang_up("c1", at=5.0)
    assert (ivr.runs, ivr.pending, ivr._serving) == ({}, {}, {})
    assert records(out)["c1"].disposition == "abandoned"
    assert isinstance(notes_of(out, CallEnded)[0], CallEnded)


def test_voicemail_hang_up_before_the_recording_ends_keeps_the_ticket() -> None:
    d = site()
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=3.0)
    d.press("c1", "3", at=5.0)
    out = d.hang_up("c1", at=40.0)
    (ticket,) = notes_of(out, TicketCreated)
    assert ticket.kind == "voicemail"
    assert records(out)["c1"].disposition == "voicemail"
    assert d.send(RecordingDone("c1"), at=41.0).commands == []  # stale now


KEYS = ["1", "2", "3", "0", "9", "#", "7", "12345678", "1234#", "87654321", "1", "2"]
DELAYS = [0.5, 1.0, 2.0, 3.0, 20.0, 250.0]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 10_000), min_size=10, max_size=150))
def test_any_walk_of_callers_through_the_flow_keeps_the_switchboard_sound(
    choices: list[int],
) -> None:
    # Each step takes one of the things the PBX, the shell, the callers or the agents could do
    # now (as a state machine model would), at one of a few delays; the driver checks every
    # command against the PBX protocol and the switchboard's audit after every output.
    d = site(AgentConfig("a1", skills={"billing": 5}, queues=("billing", "general"),
                         endpoint="user/a1"),
             AgentConfig("a2", skills={"repairs": 6}, queues=("repairs", "general"),
                         endpoint="user/a2"))
    pbx = d.pbx
    arrived: list[str] = []
    for choice in choices:
        d.advance(d.now + DELAYS[choice % len(DELAYS)])
        x = choice // len(DELAYS)
        moves: list[tuple[str, str]] = []
        if len(arrived) < 4:
            moves.append(("arrive", f"c{len(arrived)}"))
        moves.append(("wait", ""))
        for cid in sorted(pbx.caller_up):
            if cid in pbx.media:
                moves += [("played", cid), ("press", cid), ("press", cid)]
            if cid in pbx.data_lookups:
                moves += [("found", cid), ("missing", cid), ("failed", cid)]
            if cid in pbx.offers:
                moves += [("answer", cid), ("answer", cid)]
                if not pbx.offers[cid].ringing:
                    moves.append(("ring", cid))
            moves.append(("hang-up", cid))
        if pbx.recording:
            moves.append(("recorded", sorted(pbx.recording)[0]))
        moves += [("wrapped", a) for a in ("a1", "a2")
                  if d.sb.agents[a].state.value == "wrap-up"]
        what, cid = moves[x % len(moves)]
        x //= len(moves)
        if what == "arrive":
            arrived.append(cid)
            d.arrive(cid, dialed=NUMBER, caller=f"+1555{len(arrived)}")
        elif what == "played":
            d.prompt_done(cid)
        elif what == "press":
            if isinstance(pbx.media[cid], CollectDigits):
                d.press(cid, KEYS[x % len(KEYS)])
            else:  # keys over a prompt that wants none: the switchboard counts them stale
                d.send(DigitsEntered(cid, "5", pbx.media[cid].step))
        elif what in ("found", "missing"):
            d.found(cid, BILL if what == "found" else None)
        elif what == "failed":
            d.lookup_failed(cid)
        elif what == "answer":
            d.answer(cid)
        elif what == "ring":
            d.ring(cid)
        elif what == "hang-up":
            d.hang_up(cid)
        elif what == "recorded":
            d.send(pbx.recorded(cid))
        elif what == "wrapped":
            d.send(WrapUpDone(cid))
    d.advance(d.now + 4000.0)  # every flow timer and max wait runs out
    for cid in sorted(pbx.caller_up):
        if cid in pbx.offers:
            d.answer(cid)
        if cid in pbx.caller_up:
            d.hang_up(cid)
    d.advance(d.now + 4000.0)
    assert set(pbx.ended) | set(d.sb.calls) == set(arrived)
    # What is left waits for an agent to call back (the caller is gone), or in line with an
    # agent's offer failed (the fake agents never log out or refuse): nothing is in a flow.
    assert all(c.state.value in ("callback", "queued", "offered") for c in d.sb.calls.values())
    assert sum(d.sb.ended.values()) == len(pbx.ended)


def test_a_queue_that_refuses_the_flows_call_sends_it_on_with_its_own_target() -> None:
    queues = (QueueConfig("general", on_closed=Target(TargetKind.VOICEMAIL)),)
    d = Drive(SwitchboardConfig(queues=queues, flows={NUMBER: ivr.parse_flow(SHORT)}))
    d.send(ForceQueue("general", False))
    d.arrive("c1", dialed=NUMBER, at=0.0)
    d.prompt_done("c1", at=2.0)
    out = d.press("c1", "1", at=3.0)
    assert isinstance(only(out, Record), Record)
    out = d.send(d.pbx.recorded("c1"), at=30.0)
    (ticket,) = notes_of(out, TicketCreated)
    assert (ticket.kind, ticket.queue) == ("voicemail", "general")
    assert ticket.data["ivr_exit"] == "queued"
    general = d.sb.queues["general"]
    assert (general.offered, general.blocked) == (1, 1)
    assert d.sb._ivr.runs == {}
