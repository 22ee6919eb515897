"""Tests for acd.Router: fairness across queues, skill relaxation, ring-no-answer, withdrawal,
state errors, reconfiguration, a stateful property test against a model, and the package's
standard-library-only promise.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from acd import Match, Router, RouterStateError, SkillSchedule, satisfies

ROOT = Path(__file__).resolve().parents[1]


def schedule(*stages: tuple[float, Mapping[str, int]]) -> SkillSchedule:
    return SkillSchedule.parse("test", list(stages))


def free(
    router: Router,
    agent_id: str,
    now: float,
    queues: Sequence[str] = ("q",),
    skills: Mapping[str, int] | None = None,
) -> None:
    """Log an agent in and make it available (no call may be waiting for it)."""
    router.login(agent_id, skills=skills or {}, queues=queues, now=now)
    assert router.make_available(agent_id, now=now) is None


def next_call(router: Router, agent_id: str, now: float) -> str:
    """Make a busy agent available; it must take a waiting call, whose id is returned."""
    match = router.make_available(agent_id, now=now)
    assert match is not None
    assert match.agent_id == agent_id
    assert router.audit(now) == []
    return match.call_id


# -- fairness across queues ---------------------------------------------------------------------


def test_agent_serving_two_queues_takes_the_longest_waiting_call() -> None:
    """Equal priorities: the agent serves calls in the order they started waiting, whichever
    queue they are in (queue A is configured first, so pool order is not what decides)."""
    router = Router()
    router.configure_queue("A")
    router.configure_queue("B")
    router.login("agent", skills={}, queues=["A", "B"], now=0)
    for call_id, queue, at in [("A1", "A", 2), ("B1", "B", 1), ("A2", "A", 3), ("B2", "B", 4)]:
        assert router.submit(call_id, queue=queue, now=at) is None
    taken = [next_call(router, "agent", t) for t in range(10, 14)]
    assert taken == ["B1", "A1", "A2", "B2"]


def test_higher_priority_goes_first_across_queues() -> None:
    router = Router()
    router.configure_queue("A")
    router.configure_queue("B")
    router.login("agent", skills={}, queues=["A", "B"], now=0)
    router.submit("A-old-p0", queue="A", now=0)
    router.submit("B-new-p2", queue="B", now=5, priority=2)
    router.submit("A-new-p1", queue="A", now=6, priority=1)
    taken = [next_call(router, "agent", t) for t in range(10, 13)]
    assert taken == ["B-new-p2", "A-new-p1", "A-old-p0"]


@pytest.mark.parametrize(
    ("free_at", "first"),
    [(2, "B-p3"), (3.5, "B-p3"), (4, "A-aging-p0"), (4.5, "A-aging-p0")],
)
def test_effective_priority_across_queues_with_aging(free_at: float, first: str) -> None:
    """Queue A ages 60 points per minute (1 per second), queue B not at all. Both calls entered
    at t=1: A's priority-0 call has t - 1 points, B's priority-3 call 3. B goes first before
    t=4; at t=4 they tie on effective priority and on enqueued_at, and A, submitted first, goes
    first; after t=4 A goes first."""
    router = Router()
    router.configure_queue("A", strategy="priority", options={"aging_per_minute": 60})
    router.configure_queue("B")
    router.login("agent", skills={}, queues=["A", "B"], now=0)
    router.submit("A-aging-p0", queue="A", now=1)
    router.submit("B-p3", queue="B", now=1, priority=3)
    assert next_call(router, "agent", free_at) == first


def test_agent_only_takes_calls_from_queues_it_serves() -> None:
    router = Router()
    router.configure_queue("A")
    router.configure_queue("B")
    router.login("agent", skills={}, queues=["B"], now=0)
    router.submit("A-old", queue="A", now=0)
    router.submit("B-new", queue="B", now=5)
    assert next_call(router, "agent", 10) == "B-new"
    assert router.make_available("agent", now=11) is None
    assert router.waiting("A") == 1
    assert router.audit(11) == []


# -- skills -------------------------------------------------------------------------------------


BILLING_7_THEN_3 = schedule((0, {"billing": 7}), (30, {"billing": 3}))


def test_skill_relaxation_billing_7_then_3() -> None:
    """A level-5 agent cannot take a "billing >= 7 for 30 s, then billing >= 3" call 29 s after
    it entered, and gets it when the stage relaxes at 30 s (through on_timer)."""
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    router.login("mid", skills={"billing": 5}, queues=["q"], now=0)
    assert router.submit("call", queue="q", now=5) is None
    assert router.next_deadline() == 35
    assert router.make_available("mid", now=34) is None
    assert router.audit(34) == []
    assert router.on_timer(34.999) == []
    assert router.on_timer(35) == [Match("call", "mid", "q", (("billing", 3),))]
    assert router.next_deadline() is None
    assert router.audit(35) == []


def test_skill_relaxation_counts_from_entering_the_queue_not_from_enqueued_at() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    free(router, "mid", 0, skills={"billing": 5})
    assert router.submit("call", queue="q", now=100, enqueued_at=0) is None
    assert router.next_deadline() == 130


def test_relaxed_call_is_taken_by_an_agent_freeing_up_later() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    router.login("mid", skills={"billing": 5}, queues=["q"], now=0)
    router.submit("call", queue="q", now=0)
    assert router.on_timer(30) == []
    assert router.call("call") is not None
    assert router.call("call").requirement == (("billing", 3),)  # type: ignore[union-attr]
    assert next_call(router, "mid", 40) == "call"


def test_qualified_agent_takes_the_call_before_relaxation() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    free(router, "mid", 0, skills={"billing": 5})
    free(router, "senior", 1, skills={"billing": 7})
    assert router.submit("call", queue="q", now=2) == Match(
        "call", "senior", "q", (("billing", 7),)
    )
    assert router.next_deadline() is None


def test_requirement_with_several_skills() -> None:
    """billing >= 5 and spanish >= 5: neither specialist nor the near miss qualifies."""
    router = Router()
    router.configure_queue("q", skills=schedule((0, {"billing": 5, "spanish": 5})))
    free(router, "billing-9", 0, skills={"billing": 9})
    free(router, "spanish-9", 1, skills={"spanish": 9})
    free(router, "near-miss", 2, skills={"billing": 5, "spanish": 4})
    free(router, "both", 3, skills={"billing": 5, "spanish": 5, "french": 1})
    assert router.submit("c1", queue="q", now=4) == Match(
        "c1", "both", "q", (("billing", 5), ("spanish", 5))
    )
    assert router.submit("c2", queue="q", now=5) is None
    assert router.audit(5) == []
    assert router.statistics().agents_available == 3
    assert next_call(router, "both", 6) == "c2"


def test_three_stage_schedule_drops_a_skill_then_everything() -> None:
    """billing 5 + spanish 5, after 20 s billing 3, after 45 s nothing: a spanish-only agent
    gets the call at 45 s, not at 20 s."""
    router = Router()
    router.configure_queue(
        "q", skills=schedule((0, {"billing": 5, "spanish": 5}), (20, {"billing": 3}), (45, {}))
    )
    free(router, "spanish", 0, skills={"spanish": 9})
    assert router.submit("call", queue="q", now=10) is None
    assert router.next_deadline() == 30
    assert router.on_timer(30) == []
    assert router.next_deadline() == 55
    assert router.audit(30) == []
    assert router.on_timer(55) == [Match("call", "spanish", "q", ())]


def test_call_schedule_overrides_the_queue_schedule() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    free(router, "spanish", 0, skills={"spanish": 4})
    free(router, "billing", 1, skills={"billing": 9})
    spanish = schedule((0, {"spanish": 3}))
    assert router.submit("call", queue="q", now=2, skills=spanish) == Match(
        "call", "spanish", "q", (("spanish", 3),)
    )


def test_agent_never_gets_a_call_whose_requirement_it_does_not_meet() -> None:
    router = Router()
    router.configure_queue("q", skills=schedule((0, {"billing": 7})))
    router.configure_queue("other")
    router.login("six", skills={"billing": 6, "spanish": 10}, queues=["q", "other"], now=0)
    assert router.submit("needs-7", queue="q", now=0) is None
    for t in range(1, 5):
        assert router.make_available("six", now=t) is None
        assert router.audit(t) == []
        router.make_unavailable("six")
    router.login("seven", skills={"billing": 7}, queues=["q"], now=10)
    assert next_call(router, "seven", 10) == "needs-7"


# -- ring-no-answer, withdrawal -----------------------------------------------------------------


@pytest.mark.parametrize(("keep_place", "first"), [(True, "X"), (False, "Y")])
def test_resubmitted_call_keeps_its_place(keep_place: bool, first: str) -> None:
    """X rang agent a at t=0 and was not answered; Y arrived at t=15; X comes back at t=20.
    With its original enqueued_at X goes before Y; without it, after."""
    router = Router()
    router.configure_queue("q")
    free(router, "a", 0)
    assert router.submit("X", queue="q", now=0) == Match("X", "a", "q", ())
    assert router.submit("Y", queue="q", now=15) is None
    assert router.submit("X", queue="q", now=20, enqueued_at=0 if keep_place else None) is None
    router.login("b", skills={}, queues=["q"], now=21)
    assert next_call(router, "b", 25) == first


def test_withdraw_a_waiting_call() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    router.login("a", skills={"billing": 9}, queues=["q"], now=0)
    router.submit("gone", queue="q", now=0)
    router.submit("stays", queue="q", now=1)
    assert router.withdraw("gone") is True
    assert router.call("gone") is None
    assert router.waiting("q") == 1
    assert router.audit(2) == []
    assert router.withdraw("gone") is False
    assert router.withdraw("never-seen") is False
    assert next_call(router, "a", 3) == "stays"
    assert router.make_available("a", now=4) is None
    assert router.on_timer(100) == []
    assert router.statistics().calls_waiting == 0


def test_withdraw_cancels_the_calls_timer() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    free(router, "low", 0, skills={"billing": 3})
    router.submit("call", queue="q", now=0)
    assert router.next_deadline() == 30
    assert router.withdraw("call") is True
    assert router.next_deadline() is None
    assert router.on_timer(30) == []
    assert router.agent("low").available


def test_withdraw_a_call_held_for_its_preferred_agent() -> None:
    router = Router()
    router.configure_queue("q", strategy="preferred-agent")
    free(router, "other", 0)
    router.login("pref", skills={}, queues=["q"], now=0)
    assert router.submit("held", queue="q", now=1, preferred_agent="pref") is None
    assert router.withdraw("held") is True
    assert router.audit(1) == []
    assert router.next_deadline() is None
    assert router.make_available("pref", now=2) is None
    assert router.on_timer(31) == []


def test_a_matched_call_id_can_be_submitted_again() -> None:
    router = Router()
    router.configure_queue("q")
    free(router, "a", 0)
    assert router.submit("c", queue="q", now=1) is not None
    assert router.submit("c", queue="q", now=2) is None
    assert router.call("c") is not None


# -- state errors -------------------------------------------------------------------------------


def staffed_router() -> Router:
    router = Router()
    router.configure_queue("q")
    free(router, "a", 0)
    router.login("busy", skills={}, queues=["q"], now=0)
    return router


def test_double_availability_is_an_error() -> None:
    router = staffed_router()
    with pytest.raises(RouterStateError, match="already available"):
        router.make_available("a", now=1)
    assert router.audit(1) == []
    assert router.statistics().agents_available == 1


def test_unavailable_twice_is_an_error() -> None:
    router = staffed_router()
    with pytest.raises(RouterStateError, match="not available"):
        router.make_unavailable("busy")


@pytest.mark.parametrize(
    "operation",
    ["make_available", "make_unavailable", "logout", "record_answer", "record_talk", "agent"],
)
def test_unknown_agent_is_an_error(operation: str) -> None:
    router = staffed_router()
    calls: dict[str, Callable[[], object]] = {
        "make_available": lambda: router.make_available("ghost", now=1),
        "make_unavailable": lambda: router.make_unavailable("ghost"),
        "logout": lambda: router.logout("ghost", now=1),
        "record_answer": lambda: router.record_answer("ghost"),
        "record_talk": lambda: router.record_talk("ghost", 5),
        "agent": lambda: router.agent("ghost"),
    }
    with pytest.raises(RouterStateError, match="'ghost'"):
        calls[operation]()


def test_logged_out_agent_is_unknown() -> None:
    router = staffed_router()
    assert router.logout("a", now=1) == []
    with pytest.raises(RouterStateError):
        router.make_available("a", now=2)
    assert router.audit(2) == []
    assert router.submit("c", queue="q", now=3) is None


def test_login_twice_is_an_error() -> None:
    router = staffed_router()
    with pytest.raises(RouterStateError, match="already logged in"):
        router.login("a", skills={}, queues=["q"], now=1)
    assert router.agent("a").available


def test_duplicate_waiting_call_id_is_an_error() -> None:
    router = Router()
    router.configure_queue("q")
    router.configure_queue("r")
    router.submit("c", queue="q", now=0)
    with pytest.raises(RouterStateError, match="already waiting"):
        router.submit("c", queue="r", now=1)
    assert router.waiting("q") == 1
    assert router.waiting("r") == 0
    assert router.audit(1) == []


def test_unknown_queue_is_an_error() -> None:
    router = staffed_router()
    with pytest.raises(RouterStateError, match="'nowhere'"):
        router.submit("c", queue="nowhere", now=1)
    assert router.call("c") is None
    assert router.statistics().calls_waiting == 0


# -- reconfiguration ----------------------------------------------------------------------------

RECONFIGURE_TARGETS: list[tuple[str, dict[str, object], set[str]]] = [
    ("least-idle", {}, {"a"}),
    ("priority", {"aging_per_minute": 5}, {"a"}),
    ("skill", {}, {"b"}),
    ("fewest-calls", {}, {"b"}),
    ("round-robin", {}, {"b"}),
    ("least-talk-time", {}, {"c"}),
    ("random", {}, {"a", "b", "c"}),
    ("preferred-agent", {"fallback": "least-talk-time"}, {"c"}),
]


@pytest.mark.parametrize("initial", ["least-idle", "least-talk-time", "random", "fewest-calls"])
@pytest.mark.parametrize(
    ("target", "options", "expected"), RECONFIGURE_TARGETS, ids=[t[0] for t in RECONFIGURE_TARGETS]
)
def test_reconfigure_with_agents_available_and_calls_waiting(
    initial: str, target: str, options: dict[str, object], expected: set[str]
) -> None:
    """Agents a (billing 3), b (billing 6), c (billing 4) are free in that idle order while two
    calls needing billing 9 wait. After switching strategy the indexes still agree, the calls
    still wait in order, and the next call goes where the new strategy says:
    least-idle/priority -> a; skill (most billing), fewest-calls (b answered none),
    round-robin (a served this queue already) -> b; least-talk-time -> c."""
    queue_skills = schedule((0, {"billing": 3}))
    needs_9 = schedule((0, {"billing": 9}))
    router = Router(seed=4)
    router.configure_queue("q", strategy=initial, skills=queue_skills)
    router.login("a", skills={"billing": 3}, queues=["q"], now=0)
    router.login("b", skills={"billing": 6}, queues=["q"], now=0)
    router.login("c", skills={"billing": 4}, queues=["q"], now=0)
    assert router.make_available("a", now=0) is None
    assert router.submit("warm-up", queue="q", now=0.5) == Match(
        "warm-up", "a", "q", (("billing", 3),)
    )
    for agent_id, answered, talk in [("a", 2, 10.0), ("b", 0, 100.0), ("c", 1, 5.0)]:
        for _ in range(answered):
            router.record_answer(agent_id)
        router.record_talk(agent_id, talk)
    for t, agent_id in enumerate(("a", "b", "c"), start=1):
        assert router.make_available(agent_id, now=t) is None
    assert router.submit("old", queue="q", now=4, skills=needs_9) is None
    assert router.submit("new", queue="q", now=5, skills=needs_9) is None

    router.configure_queue("q", strategy=target, options=options, skills=queue_skills, now=6)
    assert router.audit(6) == []
    stats = router.statistics()
    assert (stats.agents_available, stats.calls_waiting) == (3, 2)

    match = router.submit("next", queue="q", now=7)
    assert match is not None
    assert match.agent_id in expected
    assert router.audit(7) == []
    router.login("expert", skills={"billing": 9}, queues=["q"], now=8)
    assert next_call(router, "expert", 8) == "old"
    assert next_call(router, "expert", 9) == "new"
    assert router.audit(9) == []


def test_reconfigure_reranks_waiting_calls_by_the_new_aging() -> None:
    """Without aging the priority-5 call goes first; at 60 points per minute the priority-0
    call that waited 100 s longer has 110 points against 5 + 10 at t=110."""
    router = Router()
    router.configure_queue("q")
    router.login("a", skills={}, queues=["q"], now=0)
    router.submit("p0", queue="q", now=0)
    router.submit("p5", queue="q", now=100, priority=5)
    router.configure_queue("q", strategy="priority", options={"aging_per_minute": 60}, now=110)
    assert router.audit(110) == []
    assert next_call(router, "a", 110) == "p0"


def test_reconfigure_adds_pools_for_a_new_schedule() -> None:
    router = Router()
    router.configure_queue("q")
    free(router, "low", 0, skills={"billing": 3})
    free(router, "high", 1, skills={"billing": 8})
    router.configure_queue("q", skills=BILLING_7_THEN_3, now=2)
    assert router.audit(2) == []
    assert router.submit("call", queue="q", now=3) == Match(
        "call", "high", "q", (("billing", 7),)
    )


# -- statistics, logout -------------------------------------------------------------------------


def test_statistics_count_decisions_and_matches() -> None:
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    router.login("a", skills={"billing": 9}, queues=["q"], now=0)
    router.login("b", skills={"billing": 1}, queues=["q"], now=0)
    router.make_available("b", now=0)
    router.submit("c1", queue="q", now=1)
    router.submit("c2", queue="q", now=2)
    router.make_available("a", now=3)
    stats = router.statistics()
    assert stats.agents_logged_in == 2
    assert stats.agents_available == 1
    assert stats.calls_waiting == 1
    assert stats.decisions == 4
    assert stats.matches == 1
    assert stats.pools == 2


def test_logout_of_an_available_agent_leaves_every_index() -> None:
    router = Router()
    router.configure_queue("A", strategy="least-talk-time", skills=BILLING_7_THEN_3)
    router.configure_queue("B", strategy="random")
    router.configure_queue("C", strategy="fewest-calls")
    free(router, "a", 0, queues=["A", "B", "C"], skills={"billing": 8})
    assert router.logout("a", now=1) == []
    assert router.audit(1) == []
    for queue in ("A", "B", "C"):
        assert router.submit(f"call-{queue}", queue=queue, now=2) is None
    router.login("a", skills={}, queues=["C"], now=3)
    assert next_call(router, "a", 3) == "call-C"
    assert router.statistics().calls_waiting == 2


# -- regressions -------------------------------------------------------------------------------


def _raise_timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("on_timer did not return")


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_on_timer_returns_at_a_stage_deadline_that_does_not_round_trip() -> None:
    """Regression: when ``(entered_at + after_s) - entered_at < after_s`` in floating point,
    on_timer re-routed the call to its old stage and rescheduled it at the same instant, forever.
    The alarm turns a hang into a failure."""
    entered = 32763.658  # e.g. a monotonic clock reading
    assert (entered + 30) - entered < 30  # the premise: float addition does not round-trip
    router = Router()
    router.configure_queue("q", skills=BILLING_7_THEN_3)
    free(router, "mid", 0, skills={"billing": 5})
    assert router.submit("call", queue="q", now=entered) is None
    deadline = router.next_deadline()
    assert deadline == entered + 30
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        matches = router.on_timer(deadline)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert matches == [Match("call", "mid", "q", (("billing", 3),))]


def test_tie_goes_by_submission_order_after_a_relaxation() -> None:
    """c1 and c2 both entered at t=0 with priority 0; c1 was submitted first. c1's requirement
    relaxes at 30 s, which re-places it; the agent freeing up at 31 s still takes c1.
    (Regression: ties went by the order calls were last placed in a pool.)"""
    router = Router()
    router.configure_queue("q")
    router.login("a", skills={"billing": 5}, queues=["q"], now=0)
    assert router.submit("c1", queue="q", now=0, skills=BILLING_7_THEN_3) is None
    assert router.submit("c2", queue="q", now=0) is None
    assert router.on_timer(30) == []
    assert next_call(router, "a", 31) == "c1"


# -- the package is standard library only -------------------------------------------------------

IMPORT_PROBE = """
import json, sys
before = set(sys.modules)
import acd
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


@pytest.fixture(scope="module")
def modules_imported_by_acd() -> list[str]:
    """The modules ``import acd`` adds to a fresh interpreter's ``sys.modules``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout)
    assert "acd.router" in modules
    return modules


def test_acd_imports_only_the_standard_library(modules_imported_by_acd: list[str]) -> None:
    foreign = [
        name
        for name in modules_imported_by_acd
        if (top := name.split(".")[0]) != "acd" and top not in sys.stdlib_module_names
        and not top.endswith("__mypyc")  # the shared library of the compiled build (setup.py)
    ]
    assert foreign == []


@pytest.mark.parametrize("module", ["asyncio", "socket", "selectors", "ssl"])
def test_acd_does_not_import_networking(module: str, modules_imported_by_acd: list[str]) -> None:
    assert module not in modules_imported_by_acd


# -- stateful property test ---------------------------------------------------------------------

QUEUES = ("q0", "q1", "q2")
AGENTS = ("a0", "a1", "a2", "a3", "a4", "a5")
SKILL_NAMES = ("billing", "spanish")
SKILL_LEVELS = st.fixed_dictionaries(
    {}, optional={skill: st.sampled_from([1, 3, 5, 6, 7, 8, 9, 10]) for skill in SKILL_NAMES}
)
QUEUE_SETS = st.frozensets(st.sampled_from(QUEUES), min_size=1, max_size=len(QUEUES))
#: Keeps arrivals and agents in balance, so that both kinds of decision happen often.
MAX_WAITING = 3

#: Aging rates are whole or half points per second so effective priorities compare exactly.
STRATEGY_CONFIGS: tuple[tuple[str, dict[str, object]], ...] = (
    ("least-idle", {}),
    ("round-robin", {}),
    ("fewest-calls", {}),
    ("least-talk-time", {}),
    ("random", {}),
    ("skill", {}),
    ("priority", {"aging_per_minute": 60}),
    ("priority", {"aging_per_minute": 30}),
    ("preferred-agent", {"wait_s": 25}),
    ("preferred-agent", {"wait_s": 10, "fallback": "skill"}),
    (
        "preferred-agent",
        {"wait_s": 15, "fallback": "priority", "fallback_options": {"aging_per_minute": 120}},
    ),
    ("preferred-agent", {"fallback": "random"}),
    ("preferred-agent", {"wait_s": 0, "fallback": "round-robin"}),
)

SCHEDULES: tuple[SkillSchedule, ...] = (
    SkillSchedule.fixed(),
    schedule((0, {"billing": 7}), (30, {"billing": 3})),
    schedule((0, {"billing": 5, "spanish": 5}), (20, {"billing": 3}), (45, {})),
    schedule((0, {"spanish": 8}), (10, {"spanish": 6, "billing": 2}), (40, {"spanish": 2})),
    schedule((0, {"billing": 2})),
)


@dataclass
class QueueModel:
    strategy: str
    options: Mapping[str, object]
    schedule: SkillSchedule
    ordering: str = field(init=False)
    aging_per_s: float = field(init=False)
    wait_s: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.wait_s = None
        name, options = self.strategy, self.options
        if name == "preferred-agent":
            self.wait_s = float(options.get("wait_s", 30))  # type: ignore[arg-type]
            name = str(options.get("fallback", "least-idle"))
            options = options.get("fallback_options", {})  # type: ignore[assignment]
        self.ordering = name
        per_minute = options.get("aging_per_minute", 1) if name == "priority" else 0
        self.aging_per_s = float(per_minute) / 60  # type: ignore[arg-type]


@dataclass
class AgentModel:
    skills: dict[str, int]
    queues: frozenset[str]
    idle_since: float
    free: bool = False
    order: int = 0
    answered: int = 0
    talk_s: float = 0.0
    last_match: dict[str, int] = field(default_factory=dict)


@dataclass
class CallModel:
    queue: str
    priority: float
    enqueued_at: float
    entered_at: float
    schedule: SkillSchedule
    preferred: str | None
    #: Submission order (every submit, ring-no-answer included): the last tie-break.
    order: int = 0


def meets(skills: Mapping[str, int], req: Sequence[tuple[str, int]]) -> bool:
    """The model's own check that an agent meets a requirement."""
    return all(skills.get(skill, 0) >= level for skill, level in req)


def order_key(
    ordering: str, agent: AgentModel, queue: str, req: Sequence[tuple[str, int]]
) -> tuple[float, ...]:
    """The model of each strategy's agent order (lowest first): its own criterion, then longest
    idle, then whoever became available first."""
    idle = (agent.idle_since, agent.order)
    if ordering == "skill":
        return (-sum(agent.skills.get(skill, 0) for skill, _ in req), *idle)
    if ordering == "fewest-calls":
        return (agent.answered, *idle)
    if ordering == "least-talk-time":
        return (agent.talk_s, *idle)
    if ordering == "round-robin":
        return (agent.last_match.get(queue, -1), *idle)
    assert ordering in {"least-idle", "priority"}, ordering
    return idle


ORDERED_STRATEGIES: tuple[tuple[str, dict[str, object], str], ...] = (
    ("least-idle", {}, "least-idle"),
    ("round-robin", {}, "round-robin"),
    ("fewest-calls", {}, "fewest-calls"),
    ("least-talk-time", {}, "least-talk-time"),
    ("skill", {}, "skill"),
    ("priority", {"aging_per_minute": 60}, "priority"),
    ("preferred-agent", {"fallback": "skill"}, "skill"),
    ("preferred-agent", {"fallback": "round-robin"}, "round-robin"),
    ("preferred-agent", {"fallback": "least-talk-time"}, "least-talk-time"),
)


@settings(max_examples=150, deadline=None)
@given(
    config=st.sampled_from(ORDERED_STRATEGIES),
    requirement_i=st.integers(0, len(SCHEDULES) - 1),
    staff=st.lists(
        st.tuples(SKILL_LEVELS, st.integers(0, 3), st.sampled_from([0, 5, 30, 120])),
        min_size=2,
        max_size=6,
    ),
    served=st.lists(st.integers(0, 5), max_size=4),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 2)), max_size=25),
)
def test_each_strategy_chooses_the_agent_its_rule_names(
    config: tuple[str, dict[str, object], str],
    requirement_i: int,
    staff: list[tuple[dict[str, int], int, float]],
    served: list[int],
    steps: list[tuple[bool, int, int]],
) -> None:
    """Many agents free at once, with different skills, answer counts, talk times and calls
    already served: each call goes to the agent the strategy's rule names (see ``order_key``),
    and agents coming back reorder as the rule says."""
    name, options, ordering = config
    req_schedule = SCHEDULES[requirement_i]
    router = Router()
    router.configure_queue("q", strategy=name, options=options, skills=req_schedule)
    agents: dict[str, AgentModel] = {}
    ids = [f"a{i}" for i in range(len(staff))]
    for agent_id, (skills, _, _) in zip(ids, staff, strict=True):
        router.login(agent_id, skills=skills, queues=["q"], now=0)
        agents[agent_id] = AgentModel(dict(skills), frozenset({"q"}), 0)
    matches = 0
    # Warm-up calls from this queue, one agent free at a time (round-robin remembers them).
    for i in served:
        agent_id = ids[i % len(ids)]
        if not meets(agents[agent_id].skills, req_schedule.at(0)[0]):
            continue
        assert router.make_available(agent_id, now=0) is None
        match = router.submit(f"warm-{matches}", queue="q", now=0)
        assert match is not None
        assert match.agent_id == agent_id
        matches += 1
        agents[agent_id].last_match["q"] = matches
    for agent_id, (_, answered, talk_s) in zip(ids, staff, strict=True):
        for _ in range(answered):
            router.record_answer(agent_id)
        router.record_talk(agent_id, talk_s)
        agents[agent_id].answered += answered
        agents[agent_id].talk_s += talk_s
    now = 1.0
    order = 0

    def make_free(agent_id: str) -> None:
        nonlocal order
        assert router.make_available(agent_id, now=now) is None
        order += 1
        model = agents[agent_id]
        model.free, model.idle_since, model.order = True, now, order

    for agent_id in ids:
        make_free(agent_id)
        now += 1
    for is_call, pick, dt in steps:
        now += dt
        busy = [a for a in ids if not agents[a].free]
        if is_call or not busy:
            req = req_schedule.at(0)[0]
            candidates = [a for a in ids if agents[a].free and meets(agents[a].skills, req)]
            match = router.submit(f"call-{matches}", queue="q", now=now)
            if not candidates:
                assert match is None
                assert router.withdraw(f"call-{matches}")
                continue
            expected = min(candidates, key=lambda a: order_key(ordering, agents[a], "q", req))
            assert match is not None
            assert match.agent_id == expected, (match, candidates)
            matches += 1
            agents[expected].free = False
            agents[expected].last_match["q"] = matches
        else:
            agent_id = busy[pick % len(busy)]
            router.record_answer(agent_id)
            router.record_talk(agent_id, 10 * pick)
            agents[agent_id].answered += 1
            agents[agent_id].talk_s += 10 * pick
            make_free(agent_id)
        assert router.audit(now) == []


AGING_QUEUES: tuple[tuple[str, str, dict[str, object], float], ...] = (
    ("flat", "least-idle", {}, 0.0),
    ("slow", "priority", {"aging_per_minute": 30}, 0.5),
    ("fast", "priority", {"aging_per_minute": 120}, 2.0),
    ("held", "preferred-agent", {"fallback": "priority", "fallback_options": {}}, 1 / 60),
)


@settings(max_examples=150, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.integers(0, len(AGING_QUEUES) - 1),
            st.sampled_from([0, 1, 2, 5]),
            st.integers(0, 30),
        ),
        min_size=1,
        max_size=12,
    ),
    gaps=st.lists(st.sampled_from([0, 1, 3, 10, 60]), min_size=12, max_size=12),
)
def test_agent_takes_calls_in_effective_priority_order_across_queues(
    calls: list[tuple[int, int, int]], gaps: list[int]
) -> None:
    """One agent serves four queues that age at different rates. Each time it frees up it takes
    the call with the highest ``priority + aging_per_s * (now - enqueued_at)``, then the one
    enqueued earliest, then the one submitted first."""
    router = Router()
    for queue, name, options, _ in AGING_QUEUES:
        router.configure_queue(queue, strategy=name, options=options)
    router.login("agent", skills={}, queues=[q[0] for q in AGING_QUEUES], now=0)
    waiting: dict[str, tuple[float, float, int, float]] = {}
    now = 100.0
    for n, (queue_i, priority, waited) in enumerate(calls):
        queue, _, _, aging = AGING_QUEUES[queue_i]
        call_id = f"c{n}"
        assert router.submit(call_id, queue=queue, now=now, priority=priority,
                             enqueued_at=now - waited) is None
        waiting[call_id] = (priority, now - waited, n, aging)
    for gap in gaps[: len(calls)]:
        now += gap
        rank = {
            call_id: (-(priority + aging * (now - enqueued_at)), enqueued_at, submitted)
            for call_id, (priority, enqueued_at, submitted, aging) in waiting.items()
        }
        expected = min(waiting, key=rank.__getitem__)
        assert next_call(router, "agent", now) == expected, sorted(rank.items(), key=lambda r: r[1])
        del waiting[expected]
    assert waiting == {}


class RouterMachine(RuleBasedStateMachine):
    """Drives a Router with random operations and non-decreasing time, against a model of
    who is free, which calls wait, and what each strategy should choose."""

    def __init__(self) -> None:
        super().__init__()
        self.router = Router()
        self.now = 0.0
        self.queues: dict[str, QueueModel] = {}
        self.agents: dict[str, AgentModel] = {}
        self.calls: dict[str, CallModel] = {}
        self.matches = 0
        self.availabilities = 0
        self.submitted = 0
        self.orders = 0
        #: Recently matched calls, which may come back after ring-no-answer.
        self.rang: dict[str, CallModel] = {}

    # -- model helpers --------------------------------------------------------------------------

    def requirement_now(self, call: CallModel) -> tuple[tuple[str, int], ...]:
        return call.schedule.current(call.entered_at, self.now)[0]

    def expected_route(self, call: CallModel) -> tuple[str, set[str]]:
        """Where routing ``call`` now must send it: ("match", acceptable agents), ("held", {})
        or ("wait", {})."""
        q = self.queues[call.queue]
        req = self.requirement_now(call)
        pref_id = call.preferred
        if (
            q.wait_s
            and pref_id is not None
            and pref_id in self.agents
            and self.now < call.entered_at + q.wait_s
        ):
            pref = self.agents[pref_id]
            if meets(pref.skills, req):  # never held for an agent who could not take it
                return ("match", {pref_id}) if pref.free else ("held", set())
        candidates = {
            agent_id: agent
            for agent_id, agent in self.agents.items()
            if agent.free and call.queue in agent.queues and meets(agent.skills, req)
        }
        if not candidates:
            return "wait", set()
        if q.ordering == "random":
            return "match", set(candidates)
        best = min(
            candidates,
            key=lambda a: order_key(q.ordering, candidates[a], call.queue, req),
        )
        return "match", {best}

    def record_match(self, match: Match, *, by: str | None = None) -> None:
        """Check a match and apply it to the model; ``by`` is the agent that asked for work."""
        assert match.call_id in self.calls, f"{match.call_id} is not waiting (matched twice?)"
        call = self.calls.pop(match.call_id)
        self.rang[match.call_id] = call
        if len(self.rang) > 5:
            del self.rang[next(iter(self.rang))]
        agent = self.agents[match.agent_id]
        if by is None:
            assert agent.free, f"{match.agent_id} was matched without being available"
        else:
            assert match.agent_id == by
            assert not agent.free
        assert match.queue == call.queue
        req = self.requirement_now(call)
        assert match.requirement == req
        assert satisfies(agent.skills, match.requirement)
        assert meets(agent.skills, match.requirement)
        assert call.queue in agent.queues or match.agent_id == call.preferred
        agent.free = False
        self.matches += 1
        agent.last_match[call.queue] = self.matches

    def check_routed(self, call_id: str, match: Match | None) -> None:
        """``call_id`` was just routed; compare with the model, then apply."""
        kind, acceptable = self.expected_route(self.calls[call_id])
        if match is None:
            assert kind != "match", f"{call_id} should have gone to one of {acceptable}"
            entry = self.router.call(call_id)
            assert entry is not None
            assert (entry.pool is None) == (kind == "held")
        else:
            assert match.call_id == call_id
            assert kind == "match", f"{call_id} should be {kind}, got {match}"
            assert match.agent_id in acceptable, (match, acceptable)
            self.record_match(match)

    def next_order(self) -> int:
        self.orders += 1
        return self.orders

    def is_held(self, call_id: str) -> bool:
        entry = self.router.call(call_id)
        assert entry is not None
        return entry.pool is None

    # -- rules ----------------------------------------------------------------------------------

    def logged_in(self, *, free: bool | None = None) -> list[str]:
        return sorted(a for a, m in self.agents.items() if free is None or m.free == free)

    @initialize(
        configs=st.lists(
            st.tuples(
                st.integers(0, len(STRATEGY_CONFIGS) - 1), st.integers(0, len(SCHEDULES) - 1)
            ),
            min_size=len(QUEUES),
            max_size=len(QUEUES),
        ),
        staff=st.lists(
            st.tuples(SKILL_LEVELS, QUEUE_SETS, st.booleans()), min_size=2, max_size=len(AGENTS)
        ),
        seed=st.integers(0, 3),
    )
    def configure(
        self,
        configs: list[tuple[int, int]],
        staff: list[tuple[dict[str, int], frozenset[str], bool]],
        seed: int,
    ) -> None:
        self.router = Router(seed=seed)
        for queue, (strategy_i, schedule_i) in zip(QUEUES, configs, strict=True):
            self.reconfigure(queue, strategy_i, schedule_i)
        for skills, queues, available in staff:
            self.login(0, skills, queues, available)

    @rule(
        queue=st.sampled_from(QUEUES),
        strategy_i=st.integers(0, len(STRATEGY_CONFIGS) - 1),
        schedule_i=st.integers(0, len(SCHEDULES) - 1),
    )
    def reconfigure(self, queue: str, strategy_i: int, schedule_i: int) -> None:
        name, options = STRATEGY_CONFIGS[strategy_i]
        skills = SCHEDULES[schedule_i]
        self.router.configure_queue(
            queue, strategy=name, options=options, skills=skills, now=self.now
        )
        self.queues[queue] = QueueModel(name, options, skills)

    @precondition(lambda self: len(self.agents) < len(AGENTS))
    @rule(
        pick=st.integers(0, 1000),
        skills=SKILL_LEVELS,
        queues=QUEUE_SETS,
        available=st.booleans(),
    )
    def login(
        self, pick: int, skills: dict[str, int], queues: frozenset[str], available: bool
    ) -> None:
        out = [a for a in AGENTS if a not in self.agents]
        agent_id = out[pick % len(out)]
        self.router.login(agent_id, skills=skills, queues=queues, now=self.now)
        self.agents[agent_id] = AgentModel(dict(skills), queues, self.now)
        if available:
            self.make_available(agent_id)

    @precondition(lambda self: len(self.agents) > 2)
    @rule(pick=st.integers(0, 1000))
    def logout(self, pick: int) -> None:
        agents = self.logged_in()
        agent_id = agents[pick % len(agents)]
        held = [
            c for c, call in self.calls.items() if call.preferred == agent_id and self.is_held(c)
        ]
        matches = self.router.logout(agent_id, now=self.now)
        del self.agents[agent_id]
        by_call = {m.call_id: m for m in matches}
        assert len(by_call) == len(matches)
        assert set(by_call) <= set(held)
        for call_id in held:  # the router re-routes them in the order they were held
            self.check_routed(call_id, by_call.get(call_id))

    @precondition(lambda self: any(not a.free for a in self.agents.values()))
    @rule(pick=st.integers(0, 1000), awaited=st.booleans())
    def free_up(self, pick: int, awaited: bool) -> None:
        """A busy agent frees up; ``awaited`` prefers one that a held call is waiting for."""
        busy = self.logged_in(free=False)
        if awaited:
            held_for = {c.preferred for c_id, c in self.calls.items() if self.is_held(c_id)}
            busy = [a for a in busy if a in held_for] or busy
        self.make_available(busy[pick % len(busy)])

    def make_available(self, agent_id: str) -> None:
        agent = self.agents[agent_id]
        candidates: dict[str, tuple[float, float, int]] = {}
        for call_id, call in self.calls.items():
            if not meets(agent.skills, self.requirement_now(call)):
                continue
            held = self.is_held(call_id)
            if (held and call.preferred == agent_id) or (not held and call.queue in agent.queues):
                aging = self.queues[call.queue].aging_per_s
                effective = call.priority + aging * (self.now - call.enqueued_at)
                candidates[call_id] = (-effective, call.enqueued_at, call.order)
        match = self.router.make_available(agent_id, now=self.now)
        if match is None:
            assert candidates == {}, f"{agent_id} should have taken one of {candidates}"
            agent.free = True
            agent.idle_since = self.now
            self.availabilities += 1
            agent.order = self.availabilities
            return
        assert match.call_id == min(candidates, key=candidates.__getitem__), (match, candidates)
        self.record_match(match, by=agent_id)

    @precondition(lambda self: any(a.free for a in self.agents.values()))
    @rule(pick=st.integers(0, 1000))
    def make_unavailable(self, pick: int) -> None:
        free_agents = self.logged_in(free=True)
        agent_id = free_agents[pick % len(free_agents)]
        self.router.make_unavailable(agent_id)
        self.agents[agent_id].free = False

    @precondition(lambda self: any(not a.free for a in self.agents.values()))
    @rule(pick=st.integers(0, 1000), talk_s=st.sampled_from([0, 5, 30, 120]))
    def record_work(self, pick: int, talk_s: float) -> None:
        """Answers and talk time change only while an agent is busy (the router's contract)."""
        busy = self.logged_in(free=False)
        agent_id = busy[pick % len(busy)]
        self.router.record_answer(agent_id)
        self.router.record_talk(agent_id, talk_s)
        self.agents[agent_id].answered += 1
        self.agents[agent_id].talk_s += talk_s

    @precondition(lambda self: len(self.calls) < MAX_WAITING)
    @rule(
        queue=st.sampled_from(QUEUES),
        priority=st.sampled_from([0, 0, 1, 3]),
        waited=st.sampled_from([0, 0, 0, 5, 30, 120]),
        schedule_i=st.none() | st.integers(0, len(SCHEDULES) - 1),
        preferred=st.none() | st.sampled_from((*AGENTS, "ghost")),
    )
    def submit(
        self,
        queue: str,
        priority: float,
        waited: float,
        schedule_i: int | None,
        preferred: str | None,
    ) -> None:
        self.submitted += 1
        call_id = f"c{self.submitted}"
        skills = None if schedule_i is None else SCHEDULES[schedule_i]
        self.calls[call_id] = CallModel(
            queue,
            priority,
            self.now - waited,
            self.now,
            skills or self.queues[queue].schedule,
            preferred,
            self.next_order(),
        )
        match = self.router.submit(
            call_id,
            queue=queue,
            now=self.now,
            priority=priority,
            enqueued_at=self.now - waited,
            skills=skills,
            preferred_agent=preferred,
        )
        self.check_routed(call_id, match)

    @precondition(lambda self: len(self.calls) < MAX_WAITING)
    @rule(queue=st.sampled_from(QUEUES), priority=st.sampled_from([0, 1]))
    def submit_plain(self, queue: str, priority: float) -> None:
        """The common case, drawn as often as the general one: queue schedule, no preference."""
        self.submit(queue, priority, 0, None, None)

    @precondition(
        lambda self: len(self.calls) < MAX_WAITING and any(not a.free for a in self.agents.values())
    )
    @rule(pick=st.integers(0, 1000))
    def submit_for_a_busy_agent(self, pick: int) -> None:
        """A caller asks for an agent who is busy: preferred-agent queues hold the call."""
        busy = self.logged_in(free=False)
        holding = [q for q, m in self.queues.items() if m.wait_s] or list(QUEUES)
        self.submit(holding[pick % len(holding)], 0, 0, None, busy[pick % len(busy)])

    @precondition(lambda self: bool(self.rang) and len(self.calls) < MAX_WAITING)
    @rule(pick=st.integers(0, 1000))
    def ring_no_answer(self, pick: int) -> None:
        """A matched call was not answered: it comes back with its original enqueued_at."""
        call_id = sorted(self.rang)[pick % len(self.rang)]
        call = self.rang.pop(call_id)
        call.entered_at = self.now
        call.order = self.next_order()
        self.calls[call_id] = call
        match = self.router.submit(
            call_id,
            queue=call.queue,
            now=self.now,
            priority=call.priority,
            enqueued_at=call.enqueued_at,
            skills=call.schedule,
            preferred_agent=call.preferred,
        )
        self.check_routed(call_id, match)

    @precondition(lambda self: bool(self.calls))
    @rule(pick=st.integers(0, 1000))
    def withdraw(self, pick: int) -> None:
        waiting = sorted(self.calls)
        call_id = waiting[pick % len(waiting)]
        assert self.router.withdraw(call_id) is True
        del self.calls[call_id]

    @rule(dt=st.sampled_from([0, 1, 2, 5, 9, 10, 15, 20, 25, 30, 45]))
    def advance(self, dt: float) -> None:
        self.now += dt
        for match in self.router.on_timer(self.now):
            assert match.call_id in self.calls, match
            self.check_routed(match.call_id, match)

    @rule(
        misuse=st.sampled_from(
            [
                "login-again",
                "unknown-agent",
                "available-twice",
                "unavailable-while-busy",
                "duplicate-call",
                "unknown-queue",
                "withdraw-unknown",
            ]
        ),
        pick=st.integers(0, 1000),
    )
    def misuse(self, misuse: str, pick: int) -> None:
        """Calls inconsistent with the router's state fail and change nothing (the invariants
        compare the whole state with the model after this step)."""
        router, now = self.router, self.now

        def one(names: Sequence[str]) -> str | None:
            return names[pick % len(names)] if names else None

        if misuse == "login-again" and (agent_id := one(self.logged_in())):
            with pytest.raises(RouterStateError):
                router.login(agent_id, skills={}, queues=QUEUES, now=now)
        elif misuse == "unknown-agent":
            ghost = one([a for a in (*AGENTS, "ghost") if a not in self.agents])
            assert ghost is not None
            for operation in (
                lambda: router.make_available(ghost, now=now),
                lambda: router.make_unavailable(ghost),
                lambda: router.logout(ghost, now=now),
                lambda: router.record_answer(ghost),
            ):
                with pytest.raises(RouterStateError):
                    operation()
        elif misuse == "available-twice" and (agent_id := one(self.logged_in(free=True))):
            with pytest.raises(RouterStateError):
                router.make_available(agent_id, now=now)
        elif misuse == "unavailable-while-busy" and (
            agent_id := one(self.logged_in(free=False))
        ):
            with pytest.raises(RouterStateError):
                router.make_unavailable(agent_id)
        elif misuse == "duplicate-call" and (call_id := one(sorted(self.calls))):
            with pytest.raises(RouterStateError):
                router.submit(call_id, queue=QUEUES[0], now=now)
        elif misuse == "unknown-queue":
            with pytest.raises(RouterStateError):
                router.submit("lost", queue="nowhere", now=now)
        elif misuse == "withdraw-unknown":
            assert router.withdraw("never-submitted") is False

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def indexes_agree(self) -> None:
        assert self.router.audit(self.now) == []

    @invariant()
    def model_agrees(self) -> None:
        router = self.router
        stats = router.statistics()
        assert stats.calls_waiting == len(self.calls)
        assert stats.agents_logged_in == len(self.agents)
        assert stats.agents_available == sum(a.free for a in self.agents.values())
        assert stats.matches == self.matches
        for queue in self.queues:
            assert router.waiting(queue) == sum(c.queue == queue for c in self.calls.values())
        for agent_id, agent in self.agents.items():
            assert router.agent(agent_id).available == agent.free
        changes: list[float] = []
        held = 0
        for call_id, call in self.calls.items():
            entry = router.call(call_id)
            assert entry is not None
            req, change = call.schedule.at(self.now - call.entered_at)
            assert entry.requirement == req
            if change is not None:
                changes.append(call.entered_at + change)
            if entry.pool is None:
                held += 1
                assert call.preferred in self.agents
                pref = self.agents[call.preferred]
                assert not (pref.free and meets(pref.skills, req))
            else:
                assert not any(
                    a.free and call.queue in a.queues and meets(a.skills, req)
                    for a in self.agents.values()
                ), f"{call_id} waits while a qualified agent is free"
        deadline = router.next_deadline()
        if held:
            assert deadline is not None
            assert self.now < deadline <= min(changes, default=math.inf)
        else:
            assert deadline == min(changes, default=None)


RouterMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRouterMachine = RouterMachine.TestCase
