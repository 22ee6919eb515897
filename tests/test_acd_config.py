"""Tests for acd's configuration errors and its strategy plug-in registry.

Every error names the offending entry as a dotted path (``ConfigError.entry``), so a test checks
the exact path as well as the class. Plug-ins are simulated by monkeypatching ``entry_points``
(in ``importlib.metadata``, which ``acd.strategy`` imports from when it first looks plug-ins up,
and in ``acd.strategy`` itself should it import the name at module level); the registry and its
load-once flag are restored afterwards.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import acd.strategy as strategy_module
from acd import (
    ENTRY_POINT_GROUP,
    AgentEntry,
    ConfigError,
    Match,
    Router,
    SkillSchedule,
    Strategy,
    UnknownStrategyError,
    available_strategies,
    create_strategy,
    requirement,
    strategy_class,
)
from acd.skills import Requirement
from acd.strategy import BucketStrategy

BUILT_INS = (
    "fewest-calls",
    "least-idle",
    "least-talk-time",
    "preferred-agent",
    "priority",
    "random",
    "round-robin",
    "skill",
)


# -- strategy names and options -----------------------------------------------------------------


def test_unknown_strategy_names_the_entry_and_lists_the_known_ones() -> None:
    router = Router()
    with pytest.raises(UnknownStrategyError) as caught:
        router.configure_queue("sales", strategy="longest-idle")
    error = caught.value
    assert error.entry == "queues.sales.strategy"
    assert isinstance(error, ConfigError)
    assert isinstance(error, LookupError)
    assert "'longest-idle'" in str(error)
    for name in BUILT_INS:
        assert name in error.problem
    assert not router.has_queue("sales")


def test_create_strategy_unknown_name_uses_the_queue_in_the_entry() -> None:
    with pytest.raises(UnknownStrategyError) as caught:
        create_strategy("nope", queue="support")
    assert caught.value.entry == "queues.support.strategy"


def test_strategy_class_default_entry() -> None:
    with pytest.raises(UnknownStrategyError) as caught:
        strategy_class("nope")
    assert caught.value.entry == "strategy"


@pytest.mark.parametrize("name", ["least-idle", "skill", "random", "round-robin"])
def test_unknown_option_names_the_option(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Router().configure_queue("sales", strategy=name, options={"wait_s": 3})
    assert caught.value.entry == "queues.sales.options.wait_s"
    assert not isinstance(caught.value, UnknownStrategyError)
    assert "(options: none)" in caught.value.problem


def test_unknown_option_lists_the_options_the_strategy_has() -> None:
    with pytest.raises(ConfigError) as caught:
        create_strategy("priority", queue="q", options={"aging": 2})
    assert caught.value.entry == "queues.q.options.aging"
    assert "aging_per_minute" in caught.value.problem


@pytest.mark.parametrize("value", [-1, -0.5, "fast", "1", True, None, math.nan, math.inf, [1]])
def test_bad_aging_per_minute(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        Router().configure_queue("q", strategy="priority", options={"aging_per_minute": value})
    assert caught.value.entry == "queues.q.options.aging_per_minute"
    assert repr(value) in caught.value.problem


@pytest.mark.parametrize(("value", "per_second"), [(0, 0.0), (1, 1 / 60), (2.5, 2.5 / 60)])
def test_good_aging_per_minute(value: float, per_second: float) -> None:
    strategy = create_strategy("priority", queue="q", options={"aging_per_minute": value})
    assert strategy.aging_per_s == pytest.approx(per_second)


def test_priority_default_aging_is_one_point_per_minute() -> None:
    assert create_strategy("priority", queue="q").aging_per_s == pytest.approx(1 / 60)


@pytest.mark.parametrize("value", [-1, "30", math.inf, False])
def test_bad_wait_s(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        create_strategy("preferred-agent", queue="q", options={"wait_s": value})
    assert caught.value.entry == "queues.q.options.wait_s"


def test_preferred_agent_cannot_fall_back_to_itself() -> None:
    with pytest.raises(ConfigError) as caught:
        Router().configure_queue(
            "vip", strategy="preferred-agent", options={"fallback": "preferred-agent"}
        )
    assert caught.value.entry == "queues.vip.options.fallback"
    assert not isinstance(caught.value, UnknownStrategyError)


def test_preferred_agent_unknown_fallback() -> None:
    with pytest.raises(UnknownStrategyError) as caught:
        Router().configure_queue("vip", strategy="preferred-agent", options={"fallback": "nope"})
    assert caught.value.entry == "queues.vip.options.fallback"
    assert "least-idle" in caught.value.problem


@pytest.mark.parametrize("fallback", [3, None, ["least-idle"]])
def test_preferred_agent_fallback_must_be_a_name(fallback: object) -> None:
    with pytest.raises(ConfigError) as caught:
        create_strategy("preferred-agent", queue="vip", options={"fallback": fallback})
    assert caught.value.entry == "queues.vip.options.fallback"


def test_preferred_agent_fallback_options_must_be_a_table() -> None:
    with pytest.raises(ConfigError) as caught:
        create_strategy("preferred-agent", queue="vip", options={"fallback_options": "x"})
    assert caught.value.entry == "queues.vip.options.fallback_options"


def test_preferred_agent_defaults() -> None:
    strategy = create_strategy("preferred-agent", queue="vip")
    assert strategy.wait_s == 30  # type: ignore[attr-defined]
    assert strategy.fallback.name == "least-idle"  # type: ignore[attr-defined]
    assert strategy.aging_per_s == 0


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"fallback_options": {"bogus": 1}}, "bogus"),
        (
            {"fallback": "priority", "fallback_options": {"aging_per_minute": -1}},
            "aging_per_minute",
        ),
    ],
)
def test_bad_fallback_option_names_its_entry_inside_fallback_options(
    options: dict[str, object], key: str
) -> None:
    """The fallback validates its own options; the error points inside ``fallback_options``
    (regression: it used to say ``queues.<q>.options.<key>``, a key that is not there)."""
    with pytest.raises(ConfigError) as caught:
        create_strategy("preferred-agent", queue="vip", options=options)
    assert caught.value.entry == f"queues.vip.options.fallback_options.{key}"


# -- skill levels -------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 11, -3, 2.5, True, False, "5", None])
def test_bad_agent_skill_level_at_login(level: object) -> None:
    router = Router()
    router.configure_queue("q")
    with pytest.raises(ConfigError) as caught:
        router.login("alice", skills={"english": 5, "billing": level}, queues=["q"], now=0)  # type: ignore[dict-item]
    assert caught.value.entry == "agents.alice.skills.billing"
    assert not router.is_logged_in("alice")
    router.login("alice", skills={"english": 5, "billing": 10}, queues=["q"], now=0)
    assert router.audit(0) == []


@pytest.mark.parametrize("level", [1, 10])
def test_skill_level_bounds_are_inclusive(level: int) -> None:
    router = Router()
    router.configure_queue("q")
    router.login("alice", skills={"billing": level}, queues=["q"], now=0)
    assert router.agent("alice").skills == {"billing": level}


def test_empty_skill_name_is_rejected() -> None:
    router = Router()
    with pytest.raises(ConfigError) as caught:
        router.login("alice", skills={"": 5}, queues=[], now=0)
    assert caught.value.entry == "agents.alice.skills"


@pytest.mark.parametrize("level", [0, 11, 2.5, True])
def test_bad_required_level_in_a_stage(level: object) -> None:
    with pytest.raises(ConfigError) as caught:
        SkillSchedule.parse(
            "queues.q.skills", [(0, {"billing": 5}), (30, {"billing": level})]  # type: ignore[dict-item]
        )
    assert caught.value.entry == "queues.q.skills[1].require.billing"


def test_requirement_is_normalised_by_skill_name() -> None:
    assert requirement("r", {"spanish": 2, "billing": 7}) == (("billing", 7), ("spanish", 2))


# -- skill stages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "entry"),
    [
        ([(5, {"billing": 7})], "queues.q.skills[0].after"),
        ([(0, {}), (30, {"billing": 5}), (20, {"billing": 3})], "queues.q.skills[2].after"),
        ([(0, {}), (30, {"billing": 5}), (30, {"billing": 3})], "queues.q.skills[2].after"),
        ([(0, {"billing": 7}), (0, {"billing": 5})], "queues.q.skills[1].after"),
        ([(-1, {"billing": 7})], "queues.q.skills[0].after"),
        ([(0, {"billing": 7}), (math.inf, {"billing": 5})], "queues.q.skills[1].after"),
        ([(0, {"billing": 7}), (math.nan, {"billing": 5})], "queues.q.skills[1].after"),
    ],
    ids=["first-not-0", "decreasing", "repeated", "two-at-0", "negative", "inf", "nan"],
)
def test_bad_stage_times(stages: list[tuple[float, dict[str, int]]], entry: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SkillSchedule.parse("queues.q.skills", stages)
    assert caught.value.entry == entry


def test_stage_order_error_mentions_both_times() -> None:
    with pytest.raises(ConfigError) as caught:
        SkillSchedule.parse("s", [(0, {}), (30, {"billing": 5}), (20, {"billing": 3})])
    assert "20" in caught.value.problem
    assert "30" in caught.value.problem


@pytest.mark.parametrize("after", ["30", None, True, [30]])
def test_non_numeric_stage_time_is_a_config_error(after: object) -> None:
    """Regression: a string or None used to escape as TypeError from math.isfinite."""
    with pytest.raises(ConfigError) as caught:
        SkillSchedule.parse("queues.q.skills", [(0, {"billing": 7}), (after, {"billing": 3})])  # type: ignore[list-item]
    assert caught.value.entry == "queues.q.skills[1].after"


def test_good_schedule_and_its_requirements_over_time() -> None:
    schedule = SkillSchedule.parse(
        "queues.q.skills", [(0, {"billing": 7}), (30, {"billing": 3}), (90, {})]
    )
    assert schedule.requirements == ((("billing", 7),), (("billing", 3),), ())
    assert schedule.at(0) == ((("billing", 7),), 30)
    assert schedule.at(29.999) == ((("billing", 7),), 30)
    assert schedule.at(30) == ((("billing", 3),), 90)
    assert schedule.at(1000) == ((), None)
    assert not schedule.single


def test_empty_schedule_requires_nothing() -> None:
    schedule = SkillSchedule.parse("queues.q.skills", [])
    assert schedule == SkillSchedule.fixed()
    assert schedule.single
    assert schedule.at(0) == ((), None)


# -- logins -------------------------------------------------------------------------------------


def test_login_to_an_unknown_queue() -> None:
    router = Router()
    router.configure_queue("sales")
    with pytest.raises(ConfigError) as caught:
        router.login("bob", skills={}, queues=["sales", "support"], now=0)
    assert caught.value.entry == "agents.bob.queues"
    assert "'support'" in caught.value.problem
    assert not router.is_logged_in("bob")
    assert router.audit(0) == []
    router.login("bob", skills={}, queues=["sales"], now=0)
    assert router.statistics().agents_logged_in == 1


# -- plug-ins -----------------------------------------------------------------------------------


@dataclass
class FakeEntryPoint:
    name: str
    value: str
    target: object
    loads: int = 0

    def load(self) -> object:
        self.loads += 1
        return self.target


class MostRecentlyFree(Strategy):
    """A plug-in ordering: the agent that became available last goes first."""

    name = "most-recently-free"
    options = frozenset({"unused"})

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> Any:
        return -agent.idle_since


class AlphabeticalBuckets(BucketStrategy):
    """A bucket plug-in: agents whose id starts with "a" before all others."""

    name = "a-first"

    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        return 0 if agent.agent_id.startswith("a") else 1


NOT_A_STRATEGY = object()


@pytest.fixture
def install_plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[FakeEntryPoint]]:
    """Make ``entry_points`` return the given fake entry points, with a fresh registry that is
    thrown away after the test."""
    monkeypatch.setattr(strategy_module, "_REGISTRY", dict(strategy_module._REGISTRY))
    monkeypatch.setattr(strategy_module, "_entry_points_loaded", False)

    def install(*points: FakeEntryPoint) -> list[FakeEntryPoint]:
        def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
            assert group == ENTRY_POINT_GROUP
            return list(points)

        monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
        monkeypatch.setattr(strategy_module, "entry_points", fake_entry_points, raising=False)
        return list(points)

    return install


def test_entry_point_group_name() -> None:
    assert ENTRY_POINT_GROUP == "cti.acd.strategies"


def test_plugin_strategy_is_found_and_routes(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    install_plugins(
        FakeEntryPoint("most-recently-free", "vendor.acd:MostRecentlyFree", MostRecentlyFree)
    )
    assert "most-recently-free" in available_strategies()
    strategy = create_strategy("most-recently-free", queue="q", options={"unused": 1})
    assert isinstance(strategy, MostRecentlyFree)
    assert strategy.queue == "q"

    router = Router()
    router.configure_queue("q", strategy="most-recently-free")
    for agent_id in ("a", "b", "c"):
        router.login(agent_id, skills={}, queues=["q"], now=0)
    router.make_available("b", now=1)
    router.make_available("c", now=2)
    router.make_available("a", now=3)
    picks = []
    for i in range(3):
        match = router.submit(f"call{i}", queue="q", now=10 + i)
        assert match is not None
        picks.append(match.agent_id)
        assert router.audit(10 + i) == []
    assert picks == ["a", "c", "b"]


def test_plugin_options_are_checked_against_its_declared_options(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    install_plugins(FakeEntryPoint("most-recently-free", "v:M", MostRecentlyFree))
    with pytest.raises(ConfigError) as caught:
        Router().configure_queue("q", strategy="most-recently-free", options={"speed": 1})
    assert caught.value.entry == "queues.q.options.speed"
    assert "unused" in caught.value.problem


def test_plugin_bucket_strategy_routes(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    install_plugins(FakeEntryPoint("a-first", "vendor.acd:ABuckets", AlphabeticalBuckets))
    router = Router()
    router.configure_queue("q", strategy="a-first")
    for t, agent_id in enumerate(("zed", "bob", "amy", "ann")):
        router.login(agent_id, skills={}, queues=["q"], now=0)
        router.make_available(agent_id, now=t)
    picks = [router.submit(f"c{i}", queue="q", now=10) for i in range(4)]
    assert [m.agent_id for m in picks if m is not None] == ["amy", "ann", "zed", "bob"]
    assert router.audit(10) == []


def test_plugin_can_be_a_preferred_agent_fallback(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    install_plugins(FakeEntryPoint("most-recently-free", "v:M", MostRecentlyFree))
    router = Router()
    router.configure_queue(
        "q", strategy="preferred-agent", options={"fallback": "most-recently-free"}
    )
    for t, agent_id in enumerate(("old", "new")):
        router.login(agent_id, skills={}, queues=["q"], now=0)
        router.make_available(agent_id, now=t)
    assert router.submit("call", queue="q", now=5) == Match("call", "new", "q", ())


def test_entry_points_are_loaded_once(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    (point,) = install_plugins(FakeEntryPoint("most-recently-free", "v:M", MostRecentlyFree))
    available_strategies()
    create_strategy("most-recently-free", queue="q")
    with pytest.raises(UnknownStrategyError):
        create_strategy("still-unknown", queue="q")
    assert point.loads == 1


def test_plugin_cannot_replace_a_built_in(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    """A plug-in published under a built-in's name is ignored and not even imported."""
    (point,) = install_plugins(FakeEntryPoint("least-idle", "v:M", MostRecentlyFree))
    assert available_strategies().count("least-idle") == 1
    assert type(create_strategy("least-idle", queue="q")).__name__ == "LeastIdle"
    assert point.loads == 0


def test_plugin_that_is_not_a_strategy_is_a_config_error(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    install_plugins(FakeEntryPoint("broken", "vendor.acd:helper", NOT_A_STRATEGY))
    with pytest.raises(ConfigError) as caught:
        create_strategy("broken", queue="q")
    assert caught.value.entry == f"entry-points.{ENTRY_POINT_GROUP}.broken"
    assert "vendor.acd:helper" in caught.value.problem
    assert not isinstance(caught.value, UnknownStrategyError)


@pytest.mark.parametrize("target", [int, "MostRecentlyFree", Strategy.agent_key])
def test_plugin_loading_a_non_strategy_class_is_a_config_error(
    install_plugins: Callable[..., list[FakeEntryPoint]], target: object
) -> None:
    install_plugins(FakeEntryPoint("broken", "vendor.acd:thing", target))
    with pytest.raises(ConfigError) as caught:
        available_strategies()
    assert caught.value.entry == f"entry-points.{ENTRY_POINT_GROUP}.broken"


class UnimportableEntryPoint(FakeEntryPoint):
    def load(self) -> object:
        self.loads += 1
        raise ImportError("No module named 'vendor'")


def test_plugin_that_fails_to_import_is_a_config_error(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    """An entry point whose module cannot be imported is reported as a configuration error
    naming the plug-in, not as a bare ImportError from deep inside the registry."""
    install_plugins(UnimportableEntryPoint("gone", "vendor.acd:Gone", None))
    with pytest.raises(ConfigError) as caught:
        create_strategy("gone", queue="q")
    assert caught.value.entry == f"entry-points.{ENTRY_POINT_GROUP}.gone"
    assert "vendor.acd:Gone" in caught.value.problem


def test_broken_plugin_does_not_hide_the_plugins_after_it(
    install_plugins: Callable[..., list[FakeEntryPoint]],
) -> None:
    """Regression: the load-once flag was set before loading, so after a broken plug-in raised,
    the next lookup silently skipped every plug-in listed after it."""
    install_plugins(
        FakeEntryPoint("broken", "vendor.acd:helper", NOT_A_STRATEGY),
        FakeEntryPoint("most-recently-free", "v:M", MostRecentlyFree),
    )
    with pytest.raises(ConfigError):
        available_strategies()
    # Either the broken plug-in is reported again, or the good one is available; never is the
    # installed, well-formed plug-in reported as unknown.
    found: type[Strategy] | None = None
    problem: ConfigError | None = None
    try:
        found = strategy_class("most-recently-free")
    except ConfigError as error:
        problem = error
    if problem is None:
        assert found is MostRecentlyFree
    else:
        assert not isinstance(problem, UnknownStrategyError), problem
        assert problem.entry == f"entry-points.{ENTRY_POINT_GROUP}.broken"
