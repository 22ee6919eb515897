"""Tests for acd's built-in routing strategies: who is chosen, and why.

Every test builds a small router by hand, so the expected agent or call follows from the
strategy's rule and nothing else. Agents become available at distinct times unless the test is
about a tie, so "longest idle" always has one answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import ClassVar

import pytest

from acd import (
    AgentEntry,
    Match,
    Requirement,
    Router,
    SkillSchedule,
    Strategy,
    available_strategies,
)
from acd.strategy import AgentKey

Q = "sales"
BILLING_3 = SkillSchedule.parse("queues.sales.skills", [(0, {"billing": 3})])


def make_router(
    strategy: str,
    options: Mapping[str, object] | None = None,
    *,
    seed: int = 0,
    skills: SkillSchedule | None = None,
) -> Router:
    router = Router(seed=seed)
    router.configure_queue(Q, strategy=strategy, options=options, skills=skills)
    return router


def staff(
    router: Router,
    agents: Mapping[str, Mapping[str, int]] | Sequence[str],
    *,
    start: float = 0.0,
    queues: Sequence[str] = (Q,),
) -> None:
    """Log agents in and make them available one second apart, in the order given."""
    levels: Mapping[str, Mapping[str, int]] = (
        agents if isinstance(agents, Mapping) else {a: {} for a in agents}
    )
    for i, agent_id in enumerate(levels):
        router.login(agent_id, skills=levels[agent_id], queues=queues, now=start)
        assert router.make_available(agent_id, now=start + i) is None


def take(router: Router, call_id: str, now: float, **kwargs: object) -> str:
    """Submit a call that must be answered at once; return the agent that took it."""
    match = router.submit(call_id, queue=Q, now=now, **kwargs)  # type: ignore[arg-type]
    assert match is not None, f"{call_id} should have been routed at once"
    assert match.call_id == call_id
    assert match.queue == Q
    assert router.audit(now) == []
    return match.agent_id


def test_every_documented_strategy_is_built_in() -> None:
    """The eight strategies the package documents are registered under these names."""
    assert {
        "least-idle",
        "round-robin",
        "fewest-calls",
        "least-talk-time",
        "random",
        "skill",
        "priority",
        "preferred-agent",
    } <= set(available_strategies())


# -- least-idle ---------------------------------------------------------------------------------


def test_least_idle_picks_the_agent_available_earliest() -> None:
    """Agents became available c (t=1), a (t=2), b (t=3): c has been idle longest."""
    router = make_router("least-idle")
    for agent_id in ("a", "b", "c"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
    router.make_available("c", now=1)
    router.make_available("a", now=2)
    router.make_available("b", now=3)
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["c", "a", "b"]


def test_least_idle_sends_a_returning_agent_to_the_back() -> None:
    """An agent that takes a call and frees up again has been idle for less than the others."""
    router = make_router("least-idle")
    staff(router, ["a", "b", "c"])
    assert take(router, "call1", 10) == "a"
    assert router.make_available("a", now=11) is None
    assert [take(router, f"call{i}", 20 + i) for i in range(2, 5)] == ["b", "c", "a"]


def test_least_idle_ignores_login_time() -> None:
    """Idle time counts from becoming available, not from logging in."""
    router = make_router("least-idle")
    router.login("early-login", skills={}, queues=[Q], now=0)
    router.login("late-login", skills={}, queues=[Q], now=50)
    router.make_available("late-login", now=60)
    router.make_available("early-login", now=70)
    assert take(router, "call", 80) == "late-login"


# -- round-robin --------------------------------------------------------------------------------


def test_round_robin_rotates_through_three_agents_in_order() -> None:
    """After a, b, c each took one call, they come back in reverse order (c idle longest).

    least-idle would now pick c; round-robin picks a, whose last call is the oldest, then b, c.
    """
    router = make_router("round-robin")
    staff(router, ["a", "b", "c"])
    assert [take(router, f"first{i}", 10 + i) for i in range(3)] == ["a", "b", "c"]
    for t, agent_id in enumerate(("c", "b", "a"), start=20):
        assert router.make_available(agent_id, now=t) is None
    assert [take(router, f"second{i}", 30 + i) for i in range(3)] == ["a", "b", "c"]
    for t, agent_id in enumerate(("b", "c", "a"), start=40):
        assert router.make_available(agent_id, now=t) is None
    assert [take(router, f"third{i}", 50 + i) for i in range(3)] == ["a", "b", "c"]


def test_round_robin_serves_a_never_served_agent_first() -> None:
    """d logs in and frees up last, but has never had a call from this queue."""
    router = make_router("round-robin")
    staff(router, ["a", "b"])
    take(router, "call1", 10)
    take(router, "call2", 11)
    router.make_available("a", now=12)
    router.make_available("b", now=13)
    router.login("d", skills={}, queues=[Q], now=14)
    router.make_available("d", now=15)
    assert take(router, "call3", 16) == "d"
    assert take(router, "call4", 17) == "a"


def test_round_robin_counts_calls_from_this_queue_only() -> None:
    """b's recent call came from another queue, so for this queue b is still never served."""
    router = make_router("round-robin")
    router.configure_queue("other", strategy="least-idle")
    for agent_id in ("a", "b"):
        router.login(agent_id, skills={}, queues=[Q, "other"], now=0)
    router.make_available("a", now=1)
    assert take(router, "q-call", 2) == "a"
    router.make_available("b", now=3)
    other = router.submit("other-call", queue="other", now=4)
    assert other is not None
    assert other.agent_id == "b"
    router.make_available("a", now=5)
    router.make_available("b", now=6)
    assert take(router, "q-call2", 7) == "b"


def test_round_robin_breaks_ties_between_never_served_agents_by_idle_time() -> None:
    router = make_router("round-robin")
    for agent_id in ("x", "y", "z"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
    router.make_available("z", now=1)
    router.make_available("x", now=2)
    router.make_available("y", now=3)
    assert [take(router, f"c{i}", 10 + i) for i in range(3)] == ["z", "x", "y"]


# -- fewest-calls -------------------------------------------------------------------------------


def test_fewest_calls_prefers_the_agent_who_answered_fewest() -> None:
    """a answered 2 calls, b none, c one; a has been idle longest but answered most."""
    router = make_router("fewest-calls")
    for agent_id in ("a", "b", "c"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
    for _ in range(2):
        router.record_answer("a")
    router.record_answer("c")
    for t, agent_id in enumerate(("a", "b", "c"), start=1):
        router.make_available(agent_id, now=t)
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["b", "c", "a"]


def test_fewest_calls_breaks_ties_by_idle_time() -> None:
    """a and b answered one call each; b has been idle longer."""
    router = make_router("fewest-calls")
    for agent_id in ("a", "b"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
        router.record_answer(agent_id)
    router.make_available("b", now=1)
    router.make_available("a", now=2)
    assert take(router, "call", 3) == "b"


def test_fewest_calls_counts_answers_recorded_while_busy() -> None:
    """Answers recorded between calls reorder the agents at their next availability."""
    router = make_router("fewest-calls")
    staff(router, ["a", "b"])
    assert take(router, "call1", 10) == "a"
    router.record_answer("a")
    assert take(router, "call2", 11) == "b"
    router.record_answer("b")
    router.record_answer("b")
    router.make_available("b", now=12)  # b is idle longer than a but answered more
    router.make_available("a", now=13)
    assert take(router, "call3", 14) == "a"


def test_fewest_calls_order_holds_across_many_distinct_counts() -> None:
    """Twelve agents with twelve different answer counts, free in an unrelated order, are served
    fewest answers first. When they come back with one more answer each, the order still holds,
    though the index has by then dropped the buckets of the counts nobody has any more."""
    router = make_router("fewest-calls")
    answered = {f"a{i:02}": (i * 5) % 12 for i in range(12)}
    for t, (agent_id, count) in enumerate(answered.items()):
        router.login(agent_id, skills={}, queues=[Q], now=0)
        for _ in range(count):
            router.record_answer(agent_id)
        assert router.make_available(agent_id, now=t) is None
    by_count = sorted(answered, key=answered.__getitem__)
    assert [take(router, f"first{i}", 100 + i) for i in range(12)] == by_count
    for t, agent_id in enumerate(reversed(by_count), start=200):
        router.record_answer(agent_id)
        assert router.make_available(agent_id, now=t) is None
    assert [take(router, f"second{i}", 300 + i) for i in range(12)] == by_count
    router.login("newcomer", skills={}, queues=[Q], now=400)
    router.make_available("newcomer", now=400)
    assert take(router, "third", 401) == "newcomer"


# -- least-talk-time ----------------------------------------------------------------------------


def test_least_talk_time_prefers_the_agent_who_talked_least() -> None:
    """Talk time 300 s, 45.5 s, 120 s: b, then c, then a, whatever their idle order."""
    router = make_router("least-talk-time")
    for agent_id in ("a", "b", "c"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
    router.record_talk("a", 300)
    router.record_talk("b", 45.5)
    router.record_talk("c", 100)
    router.record_talk("c", 20)
    for t, agent_id in enumerate(("a", "c", "b"), start=1):
        router.make_available(agent_id, now=t)
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["b", "c", "a"]


def test_least_talk_time_breaks_ties_by_idle_time() -> None:
    router = make_router("least-talk-time")
    for agent_id in ("a", "b"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
        router.record_talk(agent_id, 60)
    router.make_available("b", now=1)
    router.make_available("a", now=2)
    assert take(router, "call", 3) == "b"


# -- random -------------------------------------------------------------------------------------


def random_draws(seed: int, draws: int, agents: Sequence[str] = ("a", "b", "c")) -> list[str]:
    """Route ``draws`` calls one by one; the chosen agent frees up again right after."""
    router = make_router("random", seed=seed)
    staff(router, agents)
    chosen = []
    for i in range(draws):
        match = router.submit(f"call{i}", queue=Q, now=100 + i)
        assert match is not None
        chosen.append(match.agent_id)
        assert router.make_available(match.agent_id, now=100 + i) is None
    assert router.audit(100 + draws) == []
    return chosen


def test_random_is_repeatable_for_the_same_seed() -> None:
    assert random_draws(7, 300) == random_draws(7, 300)


def test_random_choices_differ_across_seeds() -> None:
    """Two seeds giving the same 300 choices among 3 agents would mean the seed is ignored."""
    assert random_draws(1, 300) != random_draws(2, 300)


def test_random_is_not_least_idle() -> None:
    """Over many draws the longest-idle agent is not always the one chosen."""
    router = make_router("random", seed=3)
    staff(router, ["a", "b", "c"])
    not_longest_idle = 0
    for i in range(200):
        longest_idle = min(
            (router.agent(a) for a in "abc" if router.agent(a).available),
            key=lambda entry: entry.idle_since,
        )
        match = router.submit(f"call{i}", queue=Q, now=10 + i)
        assert match is not None
        not_longest_idle += match.agent_id != longest_idle.agent_id
        router.make_available(match.agent_id, now=10 + i)
    assert not_longest_idle > 50


def test_random_is_uniform_among_three_agents() -> None:
    """3000 draws among 3 agents: each within 15 % of 1000, and chi-square below the 0.1 %
    critical value for 2 degrees of freedom (13.82). The seed is fixed, so this cannot flake."""
    draws = 3000
    counts = Counter(random_draws(11, draws))
    expected = draws / 3
    assert set(counts) == {"a", "b", "c"}
    for agent_id, n in counts.items():
        assert abs(n - expected) <= 0.15 * expected, (agent_id, counts)
    chi_square = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi_square < 13.82, counts


def test_random_only_chooses_among_qualified_agents() -> None:
    """Only b and d meet billing >= 3; a and c are never chosen, both b and d are."""
    router = make_router("random", seed=5, skills=BILLING_3)
    staff(router, {"a": {"billing": 2}, "b": {"billing": 3}, "c": {}, "d": {"billing": 9}})
    chosen: Counter[str] = Counter()
    for i in range(200):
        agent_id = take(router, f"call{i}", 10 + i)
        chosen[agent_id] += 1
        router.make_available(agent_id, now=10 + i)
    assert set(chosen) == {"b", "d"}


# -- skill --------------------------------------------------------------------------------------


def test_skill_picks_the_most_proficient_agent() -> None:
    """Levels 4, 9, 6 in billing: the level-9 agent wins although the level-4 one idled longest."""
    router = make_router("skill", skills=BILLING_3)
    staff(router, {"a": {"billing": 4}, "b": {"billing": 9}, "c": {"billing": 6}})
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["b", "c", "a"]


def test_skill_sums_levels_over_the_required_skills_only() -> None:
    """billing + spanish: b (6 + 6 = 12) beats a (9 + 2 = 11); c's french 10 does not count."""
    both = SkillSchedule.parse("q", [(0, {"billing": 2, "spanish": 2})])
    router = make_router("skill", skills=both)
    staff(
        router,
        {
            "c": {"billing": 5, "spanish": 5, "french": 10},
            "a": {"billing": 9, "spanish": 2},
            "b": {"billing": 6, "spanish": 6},
        },
    )
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["b", "a", "c"]


def test_skill_breaks_ties_by_idle_time() -> None:
    """a and b both have billing 7; b became available first."""
    router = make_router("skill", skills=BILLING_3)
    router.login("a", skills={"billing": 7}, queues=[Q], now=0)
    router.login("b", skills={"billing": 7}, queues=[Q], now=0)
    router.login("c", skills={"billing": 5}, queues=[Q], now=0)
    router.make_available("c", now=1)
    router.make_available("b", now=2)
    router.make_available("a", now=3)
    assert [take(router, f"call{i}", 10 + i) for i in range(3)] == ["b", "a", "c"]


def test_skill_without_a_requirement_is_least_idle() -> None:
    """With nothing required every agent has proficiency 0, so idle time decides."""
    router = make_router("skill")
    router.login("expert", skills={"billing": 10}, queues=[Q], now=0)
    router.login("novice", skills={"billing": 1}, queues=[Q], now=0)
    router.make_available("novice", now=1)
    router.make_available("expert", now=2)
    assert take(router, "call", 3) == "novice"


def test_skill_uses_the_calls_own_requirement() -> None:
    """A call asking for spanish goes to the best spanish speaker, not the best in billing."""
    router = make_router("skill", skills=BILLING_3)
    staff(router, {"a": {"billing": 10, "spanish": 3}, "b": {"billing": 4, "spanish": 9}})
    spanish = SkillSchedule.parse("call", [(0, {"spanish": 2})])
    assert take(router, "call", 10, skills=spanish) == "b"


# -- priority -----------------------------------------------------------------------------------


def queue_then_free(
    router: Router, calls: Sequence[tuple[str, float, float]], free_at: float
) -> str:
    """Let ``(call_id, priority, enqueued_at)`` calls wait, then free one agent; return its call."""
    router.login("agent", skills={}, queues=[Q], now=0)
    for call_id, priority, at in calls:
        assert router.submit(call_id, queue=Q, now=at, priority=priority) is None
    match = router.make_available("agent", now=free_at)
    assert match is not None
    assert router.audit(free_at) == []
    return match.call_id


def test_priority_higher_priority_beats_an_older_call() -> None:
    """Default aging is 1 point per minute: after 60 s the older call has 1 + 0 < 5 + 0."""
    router = make_router("priority")
    assert queue_then_free(router, [("old-p0", 0, 0), ("new-p5", 5, 60)], free_at=60) == "new-p5"


def test_priority_without_aging_is_strict_priority_then_fifo() -> None:
    router = make_router("priority", {"aging_per_minute": 0})
    calls = [("p0-old", 0, 0), ("p1", 1, 10), ("p0-new", 0, 20), ("p1-new", 1, 30)]
    router.login("agent", skills={}, queues=[Q], now=0)
    for call_id, priority, at in calls:
        router.submit(call_id, queue=Q, now=at, priority=priority)
    order = []
    for t in range(100_000, 100_004):
        match = router.make_available("agent", now=t)
        assert match is not None
        order.append(match.call_id)
    assert order == ["p1", "p1-new", "p0-old", "p0-new"]


@pytest.mark.parametrize(
    ("p5_arrives_at", "winner"),
    [(149, "p5"), (151, "p0")],
    ids=["p5-within-crossover", "p0-waited-past-crossover"],
)
def test_priority_aging_crossover(p5_arrives_at: float, winner: str) -> None:
    """aging_per_minute = 2 adds 2/60 point per second waited, so a priority-0 call catches up
    5 points after 5 / (2/60) = 150 s. The order does not depend on when the agent frees up: both
    calls age at the same rate, only the 150 s head start matters."""
    aging_per_minute = 2.0
    crossover = 5 / (aging_per_minute / 60)
    assert crossover == pytest.approx(150)
    for free_at in (p5_arrives_at, 1_000, 10_000):
        router = make_router("priority", {"aging_per_minute": aging_per_minute})
        calls = [("p0", 0, 0), ("p5", 5, p5_arrives_at)]
        assert queue_then_free(router, calls, free_at=free_at) == winner


def test_priority_aging_at_the_exact_crossover_falls_back_to_waiting_time() -> None:
    """At 60 points per minute (1 per second) a priority-5 call arriving 5 s later has exactly
    the same effective priority as the priority-0 one: the one waiting longer goes first."""
    router = make_router("priority", {"aging_per_minute": 60})
    assert queue_then_free(router, [("p0", 0, 0), ("p5", 5, 5)], free_at=5) == "p0"
    router = make_router("priority", {"aging_per_minute": 60})
    assert queue_then_free(router, [("p0", 0, 0), ("p5", 5, 4)], free_at=5) == "p5"


def test_priority_agents_are_chosen_least_idle() -> None:
    router = make_router("priority")
    for agent_id in ("a", "b"):
        router.login(agent_id, skills={}, queues=[Q], now=0)
    router.make_available("b", now=1)
    router.make_available("a", now=2)
    assert take(router, "call", 3, priority=9) == "b"


# -- preferred-agent ----------------------------------------------------------------------------


def preferred_router(options: Mapping[str, object] | None = None) -> Router:
    """Queue with preferred-agent; "other" idles since t=0, "pref" logged in but busy."""
    router = make_router("preferred-agent", options)
    router.login("other", skills={}, queues=[Q], now=0)
    router.login("pref", skills={}, queues=[Q], now=0)
    assert router.make_available("other", now=0) is None
    return router


def test_preferred_agent_gets_the_call_when_free_even_if_others_idle_longer() -> None:
    router = preferred_router()
    router.make_available("pref", now=50)
    assert take(router, "call", 60, preferred_agent="pref") == "pref"


def test_preferred_agent_holds_the_call_while_the_agent_is_busy() -> None:
    """pref is busy at t=10: the call waits for pref although "other" is free, and pref gets it
    when it frees up at t=30, inside the 30 s window (which ends at t=40)."""
    router = preferred_router()
    assert router.submit("call", queue=Q, now=10, preferred_agent="pref") is None
    assert router.audit(10) == []
    assert router.next_deadline() == 40
    assert router.on_timer(39.5) == []
    assert router.make_available("pref", now=39.5) == Match("call", "pref", Q, ())
    assert router.agent("other").available
    assert router.next_deadline() is None
    assert router.audit(39.5) == []


def test_preferred_agent_window_ends_after_wait_s() -> None:
    """wait_s = 12: the call entered at t=100 routes normally from t=112 via on_timer."""
    router = preferred_router({"wait_s": 12})
    assert router.submit("call", queue=Q, now=100, preferred_agent="pref") is None
    assert router.next_deadline() == 112
    assert router.on_timer(111.999) == []
    assert router.on_timer(112) == [Match("call", "other", Q, ())]
    assert router.audit(112) == []
    assert router.statistics().calls_waiting == 0


def test_preferred_agent_window_counts_from_entering_the_queue() -> None:
    """A ring-no-answer call keeps its original enqueued_at, but gets a fresh window."""
    router = preferred_router({"wait_s": 20})
    assert router.submit("call", queue=Q, now=100, enqueued_at=0, preferred_agent="pref") is None
    assert router.next_deadline() == 120


def test_preferred_agent_logout_routes_the_held_call_at_once() -> None:
    router = preferred_router()
    assert router.submit("call", queue=Q, now=5, preferred_agent="pref") is None
    assert router.logout("pref", now=6) == [Match("call", "other", Q, ())]
    assert router.audit(6) == []
    assert router.next_deadline() is None


def test_preferred_agent_logout_with_nobody_free_leaves_the_call_waiting() -> None:
    router = preferred_router()
    router.make_unavailable("other")
    assert router.submit("call", queue=Q, now=5, preferred_agent="pref") is None
    assert router.logout("pref", now=6) == []
    assert router.audit(6) == []
    assert router.make_available("other", now=7) == Match("call", "other", Q, ())


@pytest.mark.parametrize("preferred", ["ghost", None])
def test_preferred_agent_unknown_or_absent_routes_normally(preferred: str | None) -> None:
    router = preferred_router()
    assert take(router, "call", 5, preferred_agent=preferred) == "other"
    assert router.next_deadline() is None


def test_preferred_agent_with_zero_wait_never_holds() -> None:
    router = preferred_router({"wait_s": 0})
    assert take(router, "call", 5, preferred_agent="pref") == "other"


def test_preferred_agent_without_the_required_skill_does_not_hold_the_call() -> None:
    """pref lacks billing, so pref could never take the call: holding it for pref would keep the
    caller waiting for nothing. It goes at once to "other" (billing 5)."""
    router = make_router("preferred-agent", {"wait_s": 10}, skills=BILLING_3)
    router.login("other", skills={"billing": 5}, queues=[Q], now=0)
    router.login("pref", skills={}, queues=[Q], now=0)
    router.make_available("other", now=0)
    router.make_available("pref", now=0)
    assert router.submit("call", queue=Q, now=1, preferred_agent="pref") == Match(
        "call", "other", Q, (("billing", 3),)
    )
    assert router.audit(1) == []


def test_preferred_agent_falls_back_to_the_configured_strategy() -> None:
    """After the window the fallback decides: skill picks the level-9 agent, not the
    longest-idle one."""
    router = make_router(
        "preferred-agent", {"wait_s": 5, "fallback": "skill"}, skills=BILLING_3
    )
    staff(router, {"low": {"billing": 3}, "high": {"billing": 9}})
    router.login("pref", skills={"billing": 5}, queues=[Q], now=0)
    assert router.submit("held", queue=Q, now=10, preferred_agent="pref") is None
    assert router.on_timer(15) == [Match("held", "high", Q, (("billing", 3),))]
    assert take(router, "plain", 16) == "low"


def test_preferred_agent_fallback_options_reach_the_fallback() -> None:
    """fallback priority with 60 points per minute: calls age 1 point per second, so at t=10
    p0 (entered at 0) has 10 points and p3 (entered at 4) 3 + 6 = 9. At the default 1 point per
    minute p3 would win."""
    calls = [("p0", 0.0, 0.0), ("p3", 3.0, 4.0)]
    fast = {"fallback": "priority", "fallback_options": {"aging_per_minute": 60}}
    assert queue_then_free(make_router("preferred-agent", fast), calls, free_at=10) == "p0"
    default = {"fallback": "priority"}
    assert queue_then_free(make_router("preferred-agent", default), calls, free_at=10) == "p3"


def test_preferred_agent_held_call_does_not_block_other_calls() -> None:
    router = preferred_router()
    assert router.submit("held", queue=Q, now=1, preferred_agent="pref") is None
    assert take(router, "plain", 2) == "other"
    assert router.call("held") is not None


# -- plug-in keys the heap index must order as tuples compare ------------------------------------


class VaryingKeys(Strategy):
    """A plug-in whose tuple keys differ in length: a key that is a prefix of a longer one
    sorts first, which a heap that spliced keys into its entries would get wrong."""

    name = "varying-keys"
    keys: ClassVar[dict[str, tuple[float, ...]]] = {
        "a": (1, 0.5), "b": (1,), "c": (0, 9.0, 9.0), "d": (1, 0.5, 0.0), "e": (2,),
    }

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        return self.keys[agent.agent_id]


def test_heap_index_orders_tuple_keys_of_different_lengths_as_tuples_compare() -> None:
    """The first key fixes a length for the heap's entries; "b"'s shorter key arrives second,
    after "a"'s, and must still go before it."""
    router = Router()
    router.configure_queue(Q, strategy=VaryingKeys(queue=Q, options={}, seed=0))
    staff(router, list(VaryingKeys.keys))
    picks = [take(router, f"call{i}", 10 + i) for i in range(len(VaryingKeys.keys))]
    assert picks == sorted(VaryingKeys.keys, key=VaryingKeys.keys.__getitem__)
    assert picks == ["c", "b", "a", "d", "e"]


def test_heap_index_keeps_the_order_of_same_length_keys_through_churn() -> None:
    """Round-robin keys all have one length: agents leaving through other queues leave stale
    entries behind, and the order stays the strategy's, call after call."""
    router = Router()
    router.configure_queue(Q, strategy="round-robin")
    router.configure_queue("other", strategy="least-idle")
    staff(router, ["a", "b", "c", "d"], queues=(Q, "other"))
    assert take(router, "q1", 10) == "a"
    other = router.submit("o1", queue="other", now=11)  # b leaves through the other queue
    assert other is not None
    assert other.agent_id == "b"
    assert router.make_available("a", now=12) is None
    assert router.make_available("b", now=13) is None
    # Never served by Q first (c, d, then b who took a call elsewhere), then a (served by Q).
    assert [take(router, f"q{i}", 20 + i) for i in range(2, 6)] == ["c", "d", "b", "a"]
