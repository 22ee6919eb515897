"""Built-in routing strategies.

Every built-in orders waiting calls by effective priority, then by time waited; only ``priority``
makes effective priority grow with wait (aging). They differ in which available agent goes first:

==================  ============================================================================
``least-idle``      the agent available longest (smallest ``idle_since``)
``round-robin``     the agent whose last call *from this queue* is oldest; never-served first
``fewest-calls``    the agent who answered fewest calls since login, then longest idle
``least-talk-time`` the agent with least talk time since login, then longest idle
``random``          a uniformly random available agent, from a seeded generator (repeatable)
``skill``           the most proficient agent for the call's requirement (sum of levels in the
                    required skills), then longest idle; requirements relax over wait through
                    the queue's skill schedule, which every strategy honours
``priority``        least-idle for agents; calls age: ``aging_per_minute`` priority points per
                    minute waited, so a long-waiting low-priority caller eventually goes first
``preferred-agent`` the caller's own agent (account manager, last agent who served them) for
                    ``wait_s`` seconds, then the ``fallback`` strategy
==================  ============================================================================
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from acd._hints import mypyc_attr
from acd.entries import AgentEntry, CallEntry
from acd.errors import ConfigError
from acd.skills import Requirement, proficiency
from acd.strategy import AgentKey, BucketStrategy, Strategy, option, register, strategy_class

__all__ = [
    "FewestCalls",
    "LeastIdle",
    "LeastTalkTime",
    "PreferredAgent",
    "PriorityAging",
    "RandomChoice",
    "RoundRobin",
    "SkillProficiency",
]


@mypyc_attr(allow_interpreted_subclasses=True)
class LeastIdle(BucketStrategy):
    """The agent available longest takes the call."""

    name = "least-idle"
    skills_only = True

    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        return 0


@mypyc_attr(allow_interpreted_subclasses=True)
class RoundRobin(Strategy):
    """Rotate: the agent whose last call from this queue is oldest (never served first)."""

    name = "round-robin"

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        # Match sequence numbers rotate the queue's members in the order they were last used.
        return (agent.last_match.get(self.queue, -1), agent.idle_since)


@mypyc_attr(allow_interpreted_subclasses=True)
class FewestCalls(BucketStrategy):
    """The agent who answered fewest calls since login, then the longest idle."""

    name = "fewest-calls"

    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        return agent.answered


@mypyc_attr(allow_interpreted_subclasses=True)
class LeastTalkTime(Strategy):
    """The agent with the least talk time since login, then the longest idle."""

    name = "least-talk-time"

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        return (agent.talk_s, agent.idle_since)


@mypyc_attr(allow_interpreted_subclasses=True)
class RandomChoice(Strategy):
    """Uniform choice among qualified available agents, repeatable for a given seed.

    The router gives this strategy a list index that draws from ``rng`` when it picks; the
    ``agent_key`` below (an independent uniform key per entry, whose minimum is a uniform choice)
    is what a heap index would use for a subclass that changes the ordering.
    """

    name = "random"

    def __init__(self, *, queue: str, options: Mapping[str, object], seed: int) -> None:
        super().__init__(queue=queue, options=options, seed=seed)
        # A string seed hashes the same in every process, unlike hash(queue).
        self.rng = random.Random(f"{seed}:{queue}")

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        return self.rng.random()


@mypyc_attr(allow_interpreted_subclasses=True)
class SkillProficiency(BucketStrategy):
    """The most proficient agent (sum of levels in the required skills), then longest idle."""

    name = "skill"
    skills_only = True

    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        return -proficiency(agent.skills, requirement)


@mypyc_attr(allow_interpreted_subclasses=True)
class PriorityAging(BucketStrategy):
    """Priority classes with aging: ``aging_per_minute`` points per minute waited."""

    name = "priority"
    options = frozenset({"aging_per_minute"})
    skills_only = True

    def __init__(self, *, queue: str, options: Mapping[str, object], seed: int) -> None:
        super().__init__(queue=queue, options=options, seed=seed)
        per_minute = option(
            queue, options, "aging_per_minute", 1.0,
            lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0",
        )
        self.aging_per_s = per_minute / 60.0

    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        return 0


@mypyc_attr(allow_interpreted_subclasses=True)
class PreferredAgent(Strategy):
    """The caller's own agent for ``wait_s`` seconds, then the ``fallback`` strategy."""

    name = "preferred-agent"
    options = frozenset({"wait_s", "fallback", "fallback_options"})

    def __init__(self, *, queue: str, options: Mapping[str, object], seed: int) -> None:
        super().__init__(queue=queue, options=options, seed=seed)
        self.wait_s = option(
            queue, options, "wait_s", 30.0,
            lambda v: math.isfinite(v) and v >= 0, "a finite number of seconds >= 0",
        )
        fallback = options.get("fallback", "least-idle")
        if not isinstance(fallback, str) or fallback == self.name:
            raise ConfigError(
                f"queues.{queue}.options.fallback",
                f"must name another strategy, not {fallback!r}",
            )
        fallback_options = options.get("fallback_options", {})
        if not isinstance(fallback_options, Mapping):
            raise ConfigError(f"queues.{queue}.options.fallback_options", "must be a table")
        cls = strategy_class(fallback, entry=f"queues.{queue}.options.fallback")
        try:
            self.fallback = cls(queue=queue, options=fallback_options, seed=seed)
        except ConfigError as exc:  # the fallback names its own options; say where they live
            inner = f"queues.{queue}.options."
            entry = exc.entry.replace(inner, inner + "fallback_options.", 1)
            raise ConfigError(entry, exc.problem) from exc
        self.aging_per_s = self.fallback.aging_per_s

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        return self.fallback.agent_key(agent=agent, requirement=requirement, now=now)

    @property
    def ordering(self) -> Strategy:
        return self.fallback.ordering

    def preferred_agent(self, *, call: CallEntry, now: float) -> tuple[str, float] | None:
        if call.preferred_agent is None or self.wait_s <= 0:
            return None
        return call.preferred_agent, call.entered_at + self.wait_s


# Registered here rather than by a class decorator, which would keep mypyc from compiling them.
for _builtin in (
    LeastIdle,
    RoundRobin,
    FewestCalls,
    LeastTalkTime,
    RandomChoice,
    SkillProficiency,
    PriorityAging,
    PreferredAgent,
):
    register(_builtin)
