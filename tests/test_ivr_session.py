"""Sessions: the water utility flow walked through every node type, timeouts, retries, invalid
input, lookups that succeed, find nothing, fail or time out; and the variables of branches."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pytest

import ivr
from ivr import (
    Callback,
    CollectDigits,
    Enqueue,
    HangUp,
    Lookup,
    Play,
    Say,
    SkillStage,
    State,
    Transfer,
    Voicemail,
    parse_flow,
)
from ivr.nodes import CaseModel
from ivr.variables import lookup, passes, render

EXAMPLE = Path(__file__).resolve().parent.parent / "ivr" / "examples" / "water-utility.toml"
FLOW = ivr.load_flow(EXAMPLE)
BILL = {"status": "open", "balance": 42.1, "due_date": "2026-06-30"}
Status = Literal["open", "closed", "holiday"]


class Call:
    """A caller on the example flow with a clock that only moves forward."""

    def __init__(self, flow: ivr.Flow = FLOW, hours: Mapping[str, Status] | None = None,
                 variables: Mapping[str, object] | None = None) -> None:
        self.now = 100.0
        states = dict(hours or {})
        self.session, self.actions = flow.start(
            "c1", {"caller": "+15550001"} if variables is None else variables, self.now,
            hours=lambda queue, now: states.get(queue, "open"))

    @property
    def last(self) -> ivr.Action:
        return self.actions[-1]

    def played(self) -> list[ivr.Action]:
        self.now += 3
        self.actions = self.session.on_playback_done(self.now)
        return self.actions

    def press(self, digits: str) -> list[ivr.Action]:
        if self.session.prompt_playing:
            self.played()
        self.now += 1
        self.actions = self.session.on_digits(digits, self.now)
        return self.actions

    def wait(self) -> list[ivr.Action]:
        """Let the pending deadline pass."""
        if self.session.prompt_playing:
            self.played()
        deadline = self.session.next_deadline()
        assert deadline is not None
        self.now = deadline
        self.actions = self.session.on_timeout(self.now)
        return self.actions

    def answer(self, result: Mapping[str, object] | None) -> list[ivr.Action]:
        self.now += 0.5
        self.actions = self.session.on_lookup_result(result, self.now)
        return self.actions


def to_bill(call: Call, meter: str = "12345678#") -> Lookup:
    call.played()  # welcome
    call.press("1")
    call.press(meter)
    assert isinstance(call.last, Lookup)
    return call.last


def test_self_service_bill_ends_in_a_normal_hang_up() -> None:
    call = Call()
    assert call.actions == [Play("c1", "welcome")]
    assert call.session.state is State.PLAYING
    call.played()
    assert call.actions == [CollectDigits("c1", "main", 1, ("main-menu",), 1, 1, "", 6.0, 3.0)]
    call.press("1")
    assert call.actions == [CollectDigits("c1", "bill-meter", 1, ("enter-meter",), 8, 8, "#",
                                          8.0, 4.0)]
    call.press("12345678#")
    assert call.actions == [Lookup("c1", 1, "bill-status", "12345678", 3.0)]
    assert call.session.next_deadline() == call.now + 3.0
    call.answer(BILL)
    assert call.actions == [Play("c1", "bill-amount", (Say("42.1", "currency"),
                                                       Say("2026-06-30", "date")))]
    call.played()
    call.press("#")
    (hang,) = call.actions
    assert isinstance(hang, HangUp)
    assert (hang.cause, hang.prompt) == ("normal", "goodbye")
    assert call.session.done
    assert call.session.outcome == "hangup"
    assert call.session.next_deadline() is None
    assert dict(hang.data) == {
        "service_choice": "1", "meter": "12345678", "bill": BILL, "ivr_flow": "water-utility",
        "ivr_path": ("welcome", "main", "bill-meter", "bill-lookup", "bill-check",
                     "bill-amount", "bill-more", "goodbye"),
    }
    assert call.session.started_at == 100.0
    assert call.session.ended_at == call.now


@pytest.mark.parametrize(("bill", "prompt"), [
    ({"status": "overdue", "balance": "118.75"}, "bill-overdue"),
    ({"status": "paid", "balance": 0}, "bill-paid"),
    ({"status": "open", "balance": "-3.5"}, "bill-paid"),
    ({"status": "open"}, "bill-amount"),  # no balance: le fails, the default plays
])
def test_branch_on_the_lookup_result(bill: dict[str, object], prompt: str) -> None:
    call = Call()
    to_bill(call)
    (play,) = call.answer(bill)
    assert isinstance(play, Play)
    assert play.prompt == prompt


def test_bill_then_billing_agents_carries_what_was_typed() -> None:
    call = Call()
    to_bill(call)
    call.answer(BILL)
    call.played()
    (enq,) = call.press("1")
    assert isinstance(enq, Enqueue)
    assert enq.queue == "billing"
    assert enq.priority is None
    assert enq.skills == (SkillStage(0.0, {"billing": 3}),)
    assert enq.announcements == ivr.Announcements(60.0, position=True, expected_wait=True)
    assert enq.max_wait_s == 240.0
    assert enq.data["meter"] == "12345678"
    assert enq.data["service"] == "billing"
    assert call.session.state is State.QUEUED
    assert not call.session.done
    assert call.session.next_deadline() is None


def test_lookup_not_found_asks_again() -> None:
    call = Call()
    to_bill(call)
    (play,) = call.answer(None)
    assert play == Play("c1", "meter-unknown")
    (ask,) = call.played()
    assert isinstance(ask, CollectDigits)
    assert (ask.node, ask.attempt) == ("bill-meter", 1)


def test_lookup_failure_goes_to_the_fallback() -> None:
    call = Call()
    lookup_action = to_bill(call)
    call.now += 1
    (play,) = call.session.on_lookup_failed(call.now, request=lookup_action.request)
    assert play == Play("c1", "system-down")
    (enq,) = call.played()
    assert isinstance(enq, Enqueue)
    assert enq.queue == "billing"


def test_lookup_timeout_goes_to_the_fallback_and_a_late_answer_is_ignored() -> None:
    call = Call()
    first = to_bill(call)
    assert call.session.on_timeout(call.now + 2.9) == []  # not yet
    assert call.wait() == [Play("c1", "system-down")]
    assert call.session.on_lookup_result(BILL, call.now + 1, request=first.request) == []
    assert call.session.on_lookup_failed(call.now + 1) == []
    assert call.session.ignored == 3
    assert "bill" not in call.session.data


def test_an_answer_to_an_older_lookup_is_ignored() -> None:
    call = Call()
    first = to_bill(call)
    call.answer(None)  # not found: asks for the meter again
    call.played()
    call.press("87654321#")
    second = call.last
    assert isinstance(second, Lookup)
    assert second.request == first.request + 1
    assert call.session.on_lookup_result(BILL, call.now, request=first.request) == []
    (play,) = call.session.on_lookup_result({"status": "overdue", "balance": 9},
                                            call.now, request=second.request)
    assert isinstance(play, Play)
    assert play.prompt == "bill-overdue"


def test_leak_goes_to_repairs_with_high_priority_and_on_to_the_emergency_line() -> None:
    call = Call()
    call.played()
    assert call.press("2") == [Play("c1", "leak-safety")]
    (enq,) = call.played()
    assert isinstance(enq, Enqueue)
    assert (enq.queue, enq.priority, enq.max_wait_s) == ("repairs", 10.0, 600.0)
    assert enq.skills == (SkillStage(0.0, {"repairs": 5}),)
    assert enq.announcements == ivr.Announcements(45.0, position=True, prompt="still-waiting")
    assert enq.data["report"] == "leak"
    assert call.session.on_max_wait(call.now + 600) == [
        Transfer("c1", "+18005550199", call.session.attached())]
    assert call.session.outcome == "transfer"


def test_complaint_becomes_a_voicemail_ticket() -> None:
    call = Call()
    call.played()
    (vm,) = call.press("3")
    assert isinstance(vm, Voicemail)
    assert (vm.prompt, vm.max_s, vm.queue) == ("complaint-record", 180.0, "complaints")
    assert vm.data["ticket"] == "complaint"
    assert call.session.outcome == "voicemail"


def test_zero_for_an_agent_when_open() -> None:
    call = Call()
    call.played()
    (enq,) = call.press("0")
    assert isinstance(enq, Enqueue)
    assert (enq.queue, enq.max_wait_s) == ("general", None)
    assert enq.announcements == ivr.Announcements(60.0, expected_wait=True)
    assert call.session.done
    assert call.session.outcome == "queued"
    assert call.session.on_max_wait(call.now) == []  # nothing to resume


@pytest.mark.parametrize(("queue", "status", "prompt"), [
    ("general", "closed", "closed"),
    ("general", "holiday", "closed"),  # general-hours has no holiday branch
])
def test_general_hours(queue: str, status: Status, prompt: str) -> None:
    call = Call(hours={queue: status})
    call.played()
    assert call.press("0") == [Play("c1", prompt)]
    (vm,) = call.played()
    assert isinstance(vm, Voicemail)
    assert vm.queue == "general"


@pytest.mark.parametrize(("status", "prompt"), [("closed", "closed"), ("holiday", "holiday")])
def test_billing_hours(status: Status, prompt: str) -> None:
    call = Call(hours={"billing": status})
    to_bill(call)
    call.answer(BILL)
    call.played()
    assert call.press("1") == [Play("c1", prompt)]
    (vm,) = call.played()
    assert isinstance(vm, Voicemail)
    assert (vm.prompt, vm.queue) == ("leave-message", "billing")


def test_hours_are_asked_with_the_queue_and_the_time() -> None:
    asked: list[tuple[str, float]] = []

    def hours(queue: str, now: float) -> Status:
        asked.append((queue, now))
        return "open"

    session, _ = FLOW.start("c1", {}, 0.0, hours=hours)
    session.on_playback_done(1.0)
    session.on_digits("0", 2.0)
    assert asked == [("general", 2.0)]


def test_menu_invalid_input_and_timeouts_then_the_default() -> None:
    call = Call()
    call.played()
    (ask,) = call.press("7")
    assert isinstance(ask, CollectDigits)
    assert (ask.attempt, ask.prompts) == (2, ("invalid-choice", "main-menu"))
    (ask,) = call.wait()  # nothing typed: the timeout prompt, not the invalid one
    assert isinstance(ask, CollectDigits)
    assert (ask.attempt, ask.prompts) == (3, ("no-input", "main-menu"))
    (enq,) = call.wait()  # third failure: the default, an agent
    assert isinstance(enq, Enqueue)
    assert enq.queue == "general"
    assert call.session.path[:2] == ["welcome", "main"]
    assert "service_choice" not in call.session.data


def test_an_empty_digit_string_is_no_input() -> None:
    call = Call()
    call.played()
    (ask,) = call.press("")
    assert isinstance(ask, CollectDigits)
    assert ask.prompts == ("no-input", "main-menu")


def test_the_no_input_timer_starts_when_the_prompt_ends() -> None:
    call = Call()
    call.played()
    assert call.session.prompt_playing
    # the prompt may be long: only the guard deadline runs until it ends
    assert call.session.next_deadline() == call.now + FLOW.header.prompt_timeout_s
    call.now += 20
    call.session.on_playback_done(call.now)
    assert call.session.next_deadline() == call.now + 6.0


def test_a_prompt_whose_end_is_never_reported_does_not_hang_the_call() -> None:
    call = Call()
    assert call.session.next_deadline() == 100.0 + 120.0
    (ask,) = call.wait()  # the welcome prompt's end never came
    assert isinstance(ask, CollectDigits)
    assert ask.node == "main"
    call.now = call.session.next_deadline() or 0.0
    assert call.session.on_timeout(call.now) == []  # the menu prompt's guard: timer starts
    assert call.session.next_deadline() == call.now + 6.0


def test_collect_rejects_short_input_then_fails_over() -> None:
    call = Call()
    call.played()
    call.press("1")
    (ask,) = call.press("1234#")  # too short
    assert isinstance(ask, CollectDigits)
    assert (ask.attempt, ask.prompts) == (2, ("invalid-meter", "enter-meter"))
    (ask,) = call.press("#")  # terminator alone: nothing typed, too short
    assert isinstance(ask, CollectDigits)
    assert ask.attempt == 3
    (enq,) = call.wait()
    assert isinstance(enq, Enqueue)
    assert enq.queue == "billing"
    assert "meter" not in call.session.data


def test_collect_digit_by_digit_and_the_interdigit_timer() -> None:
    call = Call()
    call.played()
    call.press("1")
    for digit in "1234":
        assert call.press(digit) == []
    assert call.session.next_deadline() == call.now + 4.0
    (ask,) = call.wait()  # 4 digits then silence: fewer than 8
    assert isinstance(ask, CollectDigits)
    assert ask.attempt == 2
    for digit in "8765432":
        call.press(digit)
    assert isinstance(call.press("1")[0], Lookup)  # the 8th digit completes it
    assert call.session.data["meter"] == "87654321"


def test_non_keypad_characters_are_ignored() -> None:
    call = Call()
    call.played()
    assert call.press("x") == []
    assert call.press(" 3")[0].__class__ is Voicemail


def test_callback_after_the_longest_wait_keeps_the_callers_number() -> None:
    call = Call()
    to_bill(call)
    call.answer(BILL)
    call.played()
    call.press("1")
    (ask,) = call.session.on_max_wait(call.now + 240)
    assert isinstance(ask, CollectDigits)
    assert ask.node == "offer-callback"
    assert call.session.outcome is None
    (cb,) = call.press("1")
    assert isinstance(cb, Callback)
    assert (cb.queue, cb.number, cb.prompt) == ("billing", "+15550001", "callback-confirmed")
    assert cb.skills == (SkillStage(0.0, {"billing": 3}),)
    assert cb.data["meter"] == "12345678"
    assert call.session.outcome == "callback"


def test_declining_the_callback_keeps_waiting() -> None:
    call = Call()
    to_bill(call)
    call.answer(BILL)
    call.played()
    call.press("1")
    call.session.on_max_wait(call.now)
    (enq,) = call.press("2")
    assert isinstance(enq, Enqueue)
    assert enq.queue == "billing"
    assert call.session.state is State.QUEUED
    call.session.on_max_wait(call.now)
    (enq,) = call.wait()  # no answer to the offer: keeps waiting too (the default)
    assert isinstance(enq, Enqueue)
    assert call.session.on_answered(call.now) == []
    assert call.session.outcome == "answered"
    assert call.session.done


def test_callback_without_a_caller_number_hangs_up() -> None:
    call = Call(variables={})
    to_bill(call)
    call.answer(BILL)
    call.played()
    call.press("1")
    call.session.on_max_wait(call.now)
    (hang,) = call.press("1")
    assert isinstance(hang, HangUp)
    assert hang.cause == "ivr-no-callback-number"


def test_the_caller_hanging_up_ends_the_session() -> None:
    call = Call()
    call.played()
    assert call.session.on_hangup(call.now) == []
    assert call.session.outcome == "abandoned"
    assert call.session.done
    assert call.session.next_deadline() is None
    assert call.press("1") == []
    assert call.session.on_hangup(call.now) == []  # once


def test_stray_inputs_are_ignored_and_counted() -> None:
    call = Call()
    assert call.session.on_digits("1", 101.0) == []  # over a plain prompt
    assert call.session.on_lookup_result(BILL, 101.0) == []
    assert call.session.on_max_wait(101.0) == []
    assert call.session.on_timeout(101.0) == []  # early
    assert call.session.begin(101.0) == []  # twice
    assert call.session.ignored == 5
    assert call.session.state is State.PLAYING
    assert call.session.path == ["welcome"]


# -- step limit, templates, multi-digit menus ------------------------------------------------

LOOPY = """
[flow]
start = "menu"
max_steps = 3
on_step_limit = "operator"

[nodes.menu]
type = "menu"
prompt = "m"
choices = { "9" = "menu", "1" = "operator", "12" = "transfer" }
default = "operator"

[nodes.operator]
type = "menu"
prompt = "o"
choices = { "9" = "operator" }

[nodes.transfer]
type = "transfer"
number = "${office.phone}"
"""


def test_the_step_limit_goes_to_on_step_limit_once_then_hangs_up() -> None:
    flow = parse_flow(LOOPY)
    session, _ = flow.start("c", {}, 0.0)
    session.on_playback_done(1.0)
    assert isinstance(session.on_digits("9", 2.0)[0], CollectDigits)
    assert isinstance(session.on_digits("9", 3.0)[0], CollectDigits)
    (ask,) = session.on_digits("9", 4.0)  # the 4th entry: over the limit
    assert isinstance(ask, CollectDigits)
    assert ask.node == "operator"
    session.on_digits("9", 5.0)
    session.on_digits("9", 6.0)
    (hang,) = session.on_digits("9", 7.0)
    assert isinstance(hang, HangUp)
    assert hang.cause == "ivr-step-limit"
    assert session.path == ["menu", "menu", "menu", "operator", "operator", "operator"]


def test_multi_digit_choices_wait_for_the_next_digit() -> None:
    flow = parse_flow(LOOPY)
    session, _ = flow.start("c", {"office": {"phone": "+331"}}, 0.0)
    session.on_playback_done(1.0)
    assert session.on_digits("1", 2.0) == []  # "1" or "12"?
    assert session.next_deadline() == 5.0
    assert session.on_digits("2", 3.0) == [Transfer("c", "+331", session.attached())]
    session, _ = flow.start("c", {}, 0.0)
    session.on_playback_done(1.0)
    session.on_digits("1", 2.0)
    (ask,) = session.on_timeout(5.0)  # no second digit: "1"
    assert isinstance(ask, CollectDigits)
    assert ask.node == "operator"


def test_a_menu_without_default_hangs_up_when_retries_run_out() -> None:
    flow = parse_flow(LOOPY)
    session, _ = flow.start("c", {}, 0.0)
    session.on_playback_done(1.0)
    session.on_digits("1", 2.0)
    session.on_timeout(5.0)  # operator
    session.on_digits("5", 6.0)
    session.on_digits("5", 7.0)
    (hang,) = session.on_digits("5", 8.0)
    assert isinstance(hang, HangUp)
    assert hang.cause == "ivr-invalid-input"


def test_transfer_to_an_empty_number_hangs_up() -> None:
    session, _ = parse_flow(LOOPY).start("c", {}, 0.0)
    session.on_playback_done(1.0)
    (hang,) = session.on_digits("12", 2.0)
    assert isinstance(hang, HangUp)
    assert hang.cause == "ivr-no-transfer-number"


def test_lookup_with_no_key_value_is_not_asked() -> None:
    flow = parse_flow("""
[flow]
start = "find"
[nodes.find]
type = "lookup"
source = "crm"
key = "account"
next = "end"
fallback = "end"
not_found = "set"
[nodes.set]
type = "set"
data = { who = "${caller} unknown", n = 3 }
next = "end"
[nodes.end]
type = "hangup"
""")
    session, (hang,) = flow.start("c", {"caller": "+1"}, 0.0)
    assert isinstance(hang, HangUp)
    assert session.data == {"who": "+1 unknown", "n": 3}
    session, (lk,) = flow.start("c", {"account": 77}, 0.0)
    assert lk == Lookup("c", 1, "crm", "77", 3.0)


# -- variables -------------------------------------------------------------------------------


def case(**kwargs: object) -> CaseModel:
    return CaseModel.model_validate({"var": "x", "next": "n", **kwargs})


@pytest.mark.parametrize(("kwargs", "value", "expected"), [
    ({"equals": "1"}, "1", True),
    ({"equals": 1}, "1", True),
    ({"equals": 42}, "42.0", True),
    ({"equals": True}, "true", True),
    ({"equals": "a"}, "b", False),
    ({"equals": "a"}, None, False),
    ({"not_equals": "a"}, "b", True),
    ({"not_equals": "a"}, None, False),
    ({"in": ["1", "2"]}, "2", True),
    ({"in": ["1", "2"]}, "3", False),
    ({"gt": 10}, "10.5", True),
    ({"gt": 10}, 10, False),
    ({"ge": 10, "lt": 20}, 10, True),
    ({"le": 0}, "abc", False),
    ({"le": 0}, True, False),
    ({"matches": "[0-9]{3}"}, "123", True),
    ({"matches": "[0-9]{3}"}, "1234", False),
    ({"exists": True}, "", True),
    ({"exists": False}, None, True),
    ({"exists": True}, None, False),
])
def test_case_tests(kwargs: dict[str, object], value: object, expected: bool) -> None:
    assert passes(case(**kwargs), value) is expected


def test_dotted_lookup_and_templates() -> None:
    data = {"bill": {"amount": 12.0, "lines": {"n": 2}}, "meter": "1"}
    start = {"caller": "+1", "bill.amount": "shadowed", "flat.name": "x"}
    assert lookup("bill.amount", data, start) == 12.0
    assert lookup("bill.lines.n", data, start) == 2
    assert lookup("flat.name", data, start) == "x"
    assert lookup("bill.none", data, start) is None
    assert lookup("meter.x", data, start) is None
    assert render("${bill.amount} for ${ caller }${missing}", data, start) == "12 for +1"
    assert render("no template", data) == "no template"
