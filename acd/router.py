"""The router: who takes which call, decided synchronously in O(log n).

Two decisions, one invariant. A call becomes routable (``submit``): it takes the best available
agent of its (queue, requirement) pool, or waits in that pool. An agent becomes available
(``make_available``): it takes the best waiting call across *every* pool it qualifies for, by
effective priority, then time waited, so queues that share agents are served fairly, or it enters
those pools. Between decisions no waiting call has an available agent qualified for it, so each
decision only looks at the top of a few heaps, never at all agents or all calls.

A call's requirement can change while it waits (skill stages that relax, a preferred-agent window
that ends). Each call carries its next such instant; ``next_deadline``/``on_timer`` move it to its
new pool, which may produce a match. Time is always passed in; the router never reads a clock.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Final, NamedTuple

from acd._index import BucketIndex
from acd._pools import Pool
from acd.entries import AgentEntry, CallEntry
from acd.errors import ConfigError, RouterStateError
from acd.skills import Requirement, SkillSchedule, satisfies, validate_levels
from acd.strategy import Strategy, create_strategy

__all__ = ["Match", "Router", "RouterStatistics"]


class Match(NamedTuple):
    """The router's decision: ``agent_id`` takes ``call_id``. Both have left the indexes."""

    call_id: str
    agent_id: str
    queue: str
    requirement: Requirement


#: ``Match(...)`` runs a generated Python ``__new__``; ``tuple.__new__(Match, fields)`` builds the
#: same object in C, which is measurable on the decision path.
_new_match: Final = tuple.__new__


@dataclass(frozen=True, slots=True)
class RouterStatistics:
    agents_logged_in: int
    agents_available: int
    calls_waiting: int
    pools: int
    decisions: int
    matches: int


class _Queue:
    __slots__ = (
        "entry_pool", "holds", "members", "name", "pools", "relax_after", "schedule", "strategy",
        "waiting",
    )

    def __init__(self, name: str, strategy: Strategy, schedule: SkillSchedule) -> None:
        self.name = name
        self.schedule = schedule
        self.strategy = strategy
        self.holds = _holds_for_agent(strategy)
        self.pools: dict[Requirement, Pool] = {}
        self.members: set[str] = set()
        self.waiting = 0
        #: The pool of the schedule's first stage, where every call submitted without its own
        #: schedule starts, and the first stage's length (None if it is the only one): saves
        #: ``submit`` walking the schedule and hashing the requirement for the pool lookup.
        self.entry_pool: Pool | None = None
        self.relax_after: float | None = None


def _holds_for_agent(strategy: Strategy) -> bool:
    # Most strategies never hold calls for an agent; skip the hook's call for them.
    return type(strategy).preferred_agent is not Strategy.preferred_agent


class Router:
    """Routing state for every queue, agent and waiting call of one switchboard."""

    def __init__(self, *, seed: int = 0) -> None:
        self._seed = seed
        self._queues: dict[str, _Queue] = {}
        self._agents: dict[str, AgentEntry] = {}
        self._calls: dict[str, CallEntry] = {}
        self._timers: list[tuple[float, int, CallEntry]] = []
        self._tokens = itertools.count(1)
        self._seqs = itertools.count(1)
        self._orders = itertools.count(1)
        self._available = 0
        self._decisions = 0
        self._matches = 0

    # -- configuration ---------------------------------------------------------------------

    def configure_queue(
        self,
        name: str,
        *,
        strategy: str | Strategy = "least-idle",
        options: Mapping[str, object] | None = None,
        skills: SkillSchedule | None = None,
        now: float = 0.0,
    ) -> None:
        """Add a queue, or change its strategy and skill schedule in place (calls keep waiting).

        Each call configures the queue completely: ``skills=None`` means no requirement. Given a
        ``Strategy`` instance, ``options`` are ignored (the instance was built with its own).
        """
        if isinstance(strategy, str):
            strategy = create_strategy(strategy, queue=name, options=options, seed=self._seed)
        schedule = skills or SkillSchedule.fixed()
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue(name, strategy, schedule)
        else:
            q.strategy, q.schedule = strategy, schedule
            q.holds = _holds_for_agent(strategy)
            for pool in q.pools.values():
                self._rekey(pool, strategy)
        for req in schedule.requirements:
            if req not in q.pools:
                self._new_pool(q, req, now)
        stages = schedule.stages
        q.entry_pool = q.pools[stages[0].requirement]
        q.relax_after = None if schedule.single else stages[1].after_s

    def has_queue(self, name: str) -> bool:
        return name in self._queues

    # -- agents ----------------------------------------------------------------------------

    def login(
        self, agent_id: str, *, skills: Mapping[str, int], queues: Iterable[str], now: float
    ) -> None:
        """Register an agent (not yet available) with its skills and the queues it serves."""
        if agent_id in self._agents:
            raise RouterStateError(f"agent {agent_id!r} is already logged in")
        levels = validate_levels(f"agents.{agent_id}.skills", skills)
        if isinstance(queues, str):
            raise ConfigError(f"agents.{agent_id}.queues", "must be a list of queue names")
        served = frozenset(queues)
        for name in sorted(served):
            if name not in self._queues:
                raise ConfigError(f"agents.{agent_id}.queues", f"unknown queue {name!r}")
        agent = AgentEntry(agent_id, levels, served, now)
        self._agents[agent_id] = agent
        for name in served:
            q = self._queues[name]
            q.members.add(agent_id)
            for req, pool in q.pools.items():
                if satisfies(levels, req):
                    self._attach(agent, pool)

    def logout(self, agent_id: str, *, now: float) -> list[Match]:
        """Forget an agent; calls that were held for it (preferred agent) route normally."""
        agent = self._agent(agent_id)
        if agent.available:
            self._leave(agent)
        del self._agents[agent_id]
        for name in agent.queues:
            self._queues[name].members.discard(agent_id)
        for pool in agent.pools:
            pool.index.members -= 1
        matches = []
        for call in agent.personal:
            self._unplace(call)
            match = self._route(call, now, self._queues[call.queue])
            if match is not None:
                matches.append(match)
        return matches

    def make_available(self, agent_id: str, *, now: float) -> Match | None:
        """The agent is free: it takes the best call it may serve, or waits in the indexes."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise RouterStateError(f"agent {agent_id!r} is not logged in")
        if agent.available:
            raise RouterStateError(f"agent {agent_id!r} is already available")
        self._decisions += 1
        best: CallEntry | None = None
        best_pool: Pool | None = None
        best_eff = -math.inf
        best_at = math.inf
        best_order = 0
        for call in agent.personal:
            if satisfies(agent.skills, call.requirement):
                eff = call.priority + self._queues[call.queue].strategy.aging_per_s * (
                    now - call.enqueued_at
                )
                if eff > best_eff or (
                    eff == best_eff
                    and (call.enqueued_at, call.order) < (best_at, best_order)
                ):
                    best, best_pool = call, None
                    best_eff, best_at, best_order = eff, call.enqueued_at, call.order
        for pool in agent.pools:
            if not pool.live_calls:
                continue
            top = pool.top_call()
            if top is None:
                continue
            _, at, order, _, call = top
            eff = call.priority + pool.strategy.aging_per_s * (now - at)
            if eff > best_eff or (eff == best_eff and (at < best_at or (
                at == best_at and order < best_order
            ))):
                best, best_pool = call, pool
                best_eff, best_at, best_order = eff, at, order
        if best is not None:
            if best_pool is not None:
                heappop(best_pool.calls)  # it is the top: top_call() left it there
                best.seq = 0
                best_pool.call_left()
                best.pool = None
            else:
                agent.personal = tuple(c for c in agent.personal if c is not best)
                best.seq = 0
            return self._match(best, agent)
        agent.available = True
        agent.token = next(self._tokens)
        agent.idle_since = now
        self._available += 1
        for bucket in agent.fixed_buckets:
            bucket[agent] = None
        for index in agent.keyed_indexes:
            index.enter(agent, now)
        return None

    def make_unavailable(self, agent_id: str) -> None:
        """The agent stops taking calls (not ready, busy elsewhere)."""
        agent = self._agent(agent_id)
        if not agent.available:
            raise RouterStateError(f"agent {agent_id!r} is not available")
        self._leave(agent)

    def record_answer(self, agent_id: str) -> None:
        """The agent answered a call (``fewest-calls`` counts these)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise RouterStateError(f"agent {agent_id!r} is not logged in")
        agent.answered += 1

    def record_talk(self, agent_id: str, seconds: float) -> None:
        """The agent finished talking for ``seconds`` (``least-talk-time`` sums these)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            raise RouterStateError(f"agent {agent_id!r} is not logged in")
        agent.talk_s += seconds

    # -- calls -----------------------------------------------------------------------------

    def submit(
        self,
        call_id: str,
        *,
        queue: str,
        now: float,
        priority: float = 0.0,
        enqueued_at: float | None = None,
        skills: SkillSchedule | None = None,
        preferred_agent: str | None = None,
    ) -> Match | None:
        """The call is routable in ``queue``: it takes the best qualified agent, or waits.

        ``enqueued_at`` is when the caller first started waiting (pass the original time when a
        call comes back after ring-no-answer or overflows, so it keeps its place); skill stages
        and the preferred-agent window count from ``now``, the time it entered this queue.
        """
        if call_id in self._calls:
            raise RouterStateError(f"call {call_id!r} is already waiting")
        q = self._queues.get(queue)
        if q is None:
            raise RouterStateError(f"unknown queue {queue!r}")
        self._decisions += 1
        schedule = skills or q.schedule
        if q.holds:  # the strategy may hold the call for one agent: the general path
            call = self._new_call(call_id, q, priority, enqueued_at, now, schedule, preferred_agent)
            return self._route(call, now, q)
        pool = q.entry_pool
        after = q.relax_after
        # The call enters now, so the first stage is in force until ``now + after``, exactly
        # as ``SkillSchedule.current`` would say, unless ``after`` is too small to move ``now``.
        if skills is None and pool is not None and (after is None or now + after > now):
            req = pool.requirement
            deadline = None if after is None else now + after
        else:
            if schedule.single:
                req = schedule.stages[0].requirement
                deadline = None
            else:
                req, deadline = schedule.current(now, now)
            pool = q.pools.get(req)
            if pool is None:
                pool = self._new_pool(q, req, now)
        agent = pool.index.top()
        if agent is not None:
            # Taken at once: the call never waits, so it needs no entry in the indexes.
            self._leave(agent)
            self._matches += 1
            agent.last_match[queue] = self._matches
            return _new_match(Match, (call_id, agent.agent_id, queue, req))
        call = self._new_call(call_id, q, priority, enqueued_at, now, schedule, preferred_agent)
        call.requirement = req
        self._wait(call, pool, deadline)
        return None

    def withdraw(self, call_id: str) -> bool:
        """The call stops waiting (caller hung up, overflow, callback taken); False if unknown."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return False
        self._unplace(call)
        self._queues[call.queue].waiting -= 1
        return True

    # -- timers ----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When a waiting call's requirement next changes, if ever."""
        timers = self._timers
        while timers:
            when, seq, call = timers[0]
            if call.seq == seq:
                return when
            heappop(timers)
        return None

    def on_timer(self, now: float) -> list[Match]:
        """Move calls whose requirement changed by ``now`` to their new pools."""
        matches: list[Match] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, seq, call = heappop(timers)
            if call.seq != seq:
                continue
            self._unplace(call)
            match = self._route(call, now, self._queues[call.queue])
            if match is not None:
                matches.append(match)
        return matches

    # -- read side -------------------------------------------------------------------------

    def agent(self, agent_id: str) -> AgentEntry:
        return self._agent(agent_id)

    def is_logged_in(self, agent_id: str) -> bool:
        return agent_id in self._agents

    def call(self, call_id: str) -> CallEntry | None:
        return self._calls.get(call_id)

    def waiting(self, queue: str) -> int:
        return self._queues[queue].waiting

    def statistics(self) -> RouterStatistics:
        return RouterStatistics(
            agents_logged_in=len(self._agents),
            agents_available=self._available,
            calls_waiting=len(self._calls),
            pools=sum(len(q.pools) for q in self._queues.values()),
            decisions=self._decisions,
            matches=self._matches,
        )

    def audit(self, now: float) -> list[str]:
        """Check the indexes against each other; O(everything), for tests and diagnostics."""
        problems: list[str] = []
        for q in self._queues.values():
            n = sum(1 for c in self._calls.values() if c.queue == q.name)
            if n != q.waiting:
                problems.append(f"queue {q.name}: counts {q.waiting} waiting, holds {n}")
            for pool in q.pools.values():
                live_a = pool.index.agents()
                live_c = [e[4] for e in pool.calls if e[4].seq == e[3]]
                if len(live_c) != pool.live_calls or len(set(live_a)) != len(live_a):
                    problems.append(f"{pool!r}: counts disagree with its heaps")
                qualified = sum(
                    1 for m in q.members if satisfies(self._agents[m].skills, pool.requirement)
                )
                if qualified != pool.index.members:
                    problems.append(f"{pool!r}: counts {pool.index.members} of {qualified} members")
                free = [
                    a for m in q.members
                    if (a := self._agents[m]).available and satisfies(a.skills, pool.requirement)
                ]
                if len(free) != len(live_a):
                    problems.append(f"{pool!r}: indexes {len(live_a)} free agents of {len(free)}")
                if live_a and live_c:
                    problems.append(f"{pool!r}: a call waits while a qualified agent is free")
                problems.extend(
                    f"{pool!r}: holds unqualified or busy {a!r}"
                    for a in live_a
                    if not a.available or not satisfies(a.skills, pool.requirement)
                )
        available = [a for a in self._agents.values() if a.available]
        if len(available) != self._available:
            problems.append(f"available count {self._available} != {len(available)}")
        for call in self._calls.values():
            req, _ = call.schedule.current(call.entered_at, now)
            due = self.next_deadline()
            if req != call.requirement and (due is None or due > now):
                problems.append(f"{call!r}: requirement {call.requirement} should be {req}")
            if call.pool is None:
                holder = self._agents.get(call.preferred_agent or "")
                if holder is None or call not in holder.personal:
                    problems.append(f"{call!r}: waits nowhere")
                elif not satisfies(holder.skills, call.requirement):
                    problems.append(f"{call!r}: held for an agent who lacks its skills")
                elif holder.available:
                    problems.append(f"{call!r}: its preferred agent is free")
        return problems

    # -- internals -------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentEntry:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise RouterStateError(f"agent {agent_id!r} is not logged in") from None

    def _leave(self, agent: AgentEntry) -> None:
        agent.available = False
        agent.token = -1  # stales its entries in heap indexes; buckets are left eagerly below
        self._available -= 1
        for bucket in agent.fixed_buckets:
            del bucket[agent]
        slots = agent.slots
        if slots:
            for bucket in slots:
                del bucket[agent]
            agent.slots = ()
        for index in agent.leave_indexes:
            index.discard(agent)

    def _attach(self, agent: AgentEntry, pool: Pool) -> None:
        """Record that ``agent`` qualifies for ``pool`` (it is not indexed here)."""
        agent.pools = (*agent.pools, pool)
        pool.index.members += 1
        bucket = pool.fixed_bucket(agent)
        if bucket is not None:
            agent.fixed_slots[pool] = bucket
            agent.fixed_buckets = (*agent.fixed_buckets, bucket)
        else:
            index = pool.index
            agent.keyed_indexes = (*agent.keyed_indexes, index)
            if not isinstance(index, BucketIndex):
                agent.leave_indexes = (*agent.leave_indexes, index)

    def _index(self, agent: AgentEntry, pool: Pool, now: float) -> None:
        """Put an available agent into one pool's index (outside the usual availability path)."""
        bucket = agent.fixed_slots.get(pool)
        if bucket is not None:
            bucket[agent] = None
        else:
            pool.index.enter(agent, now)

    def _match(self, call: CallEntry, agent: AgentEntry) -> Match:
        if agent.available:
            self._leave(agent)
        del self._calls[call.call_id]
        queue = call.queue
        self._queues[queue].waiting -= 1
        self._matches += 1
        agent.last_match[queue] = self._matches
        return _new_match(Match, (call.call_id, agent.agent_id, queue, call.requirement))

    def _route(self, call: CallEntry, now: float, q: _Queue) -> Match | None:
        schedule = call.schedule
        if schedule.single:
            req = schedule.stages[0].requirement
            deadline = None
        else:
            req, deadline = schedule.current(call.entered_at, now)
        call.requirement = req
        held = q.strategy.preferred_agent(call=call, now=now) if q.holds else None
        if held is not None:
            agent = self._agents.get(held[0])
            until = held[1]
            # Hold only for an agent who could take the call: waiting for one who lacks the
            # skills in force would keep the caller waiting for nothing.
            if agent is not None and now < until and satisfies(agent.skills, req):
                if agent.available:
                    return self._match(call, agent)
                call.seq = next(self._seqs)
                agent.personal = (*agent.personal, call)
                self._schedule(call, until if deadline is None else min(deadline, until))
                return None
        pool = q.pools.get(req)
        if pool is None:
            pool = self._new_pool(q, req, now)
        agent = pool.index.top()
        if agent is not None:
            return self._match(call, agent)
        self._wait(call, pool, deadline)
        return None

    def _new_call(
        self, call_id: str, q: _Queue, priority: float, enqueued_at: float | None, now: float,
        schedule: SkillSchedule, preferred_agent: str | None,
    ) -> CallEntry:
        call = CallEntry(
            call_id, q.name, priority, now if enqueued_at is None else enqueued_at, now,
            schedule, preferred_agent, next(self._orders),
        )
        self._calls[call_id] = call
        q.waiting += 1
        return call

    def _wait(self, call: CallEntry, pool: Pool, deadline: float | None) -> None:
        """Put a call with no free agent into its pool's heap (and its timer, if any)."""
        call.pool = pool
        call.seq = seq = next(self._seqs)
        heappush(
            pool.calls,
            (pool.strategy.aging_per_s * call.enqueued_at - call.priority, call.enqueued_at,
             call.order, seq, call),
        )
        pool.live_calls += 1
        if deadline is not None:
            heappush(self._timers, (deadline, seq, call))

    def _schedule(self, call: CallEntry, when: float) -> None:
        heappush(self._timers, (when, call.seq, call))

    def _unplace(self, call: CallEntry) -> None:
        """Take a waiting call out of whichever index holds it (its entries go stale)."""
        pool = call.pool
        call.seq = 0
        if pool is not None:
            pool.call_left()
            call.pool = None
        elif call.preferred_agent is not None:
            holder = self._agents.get(call.preferred_agent)
            if holder is not None and call in holder.personal:
                holder.personal = tuple(c for c in holder.personal if c is not call)

    def _new_pool(self, q: _Queue, req: Requirement, now: float) -> Pool:
        # Once per distinct (queue, requirement): configured stages at start, others on first use.
        pool = q.pools[req] = Pool(q.name, req, q.strategy)
        for agent_id in q.members:
            agent = self._agents[agent_id]
            if satisfies(agent.skills, req):
                self._attach(agent, pool)
        # Bucket indexes rely on insertion in idle order.
        free = [self._agents[m] for m in q.members]
        free = [a for a in free if a.available and satisfies(a.skills, req)]
        free.sort(key=lambda a: (a.idle_since, a.token))
        for agent in free:
            self._index(agent, pool, now)
        return pool

    def _rekey(self, pool: Pool, strategy: Strategy) -> None:
        old_index = pool.index
        free = sorted(old_index.agents(), key=lambda a: (a.idle_since, a.token))
        old_buckets = old_index.ordered if isinstance(old_index, BucketIndex) else []
        for agent in free:  # out of this pool's old index only; other pools keep their order
            bucket = agent.fixed_slots.get(pool)
            if bucket is None:  # a keyed bucket, if any: the one of the old index's it sits in
                bucket = next((b for b in old_buckets if agent in b), None)
                agent.slots = tuple(b for b in agent.slots if b is not bucket)
            if bucket is not None:
                del bucket[agent]
        pool.use(strategy)
        for agent_id in self._queues[pool.queue].members:
            agent = self._agents[agent_id]
            if pool in agent.pools:
                agent.pools = tuple(p for p in agent.pools if p is not pool)
                if agent.fixed_slots.pop(pool, None) is not None:
                    agent.fixed_buckets = tuple(agent.fixed_slots.values())
                agent.keyed_indexes = tuple(i for i in agent.keyed_indexes if i is not old_index)
                agent.leave_indexes = tuple(i for i in agent.leave_indexes if i is not old_index)
                pool.index.members -= 1
                self._attach(agent, pool)
        for agent in free:
            # Keys are computed as of when each agent became free, which is what they mean.
            self._index(agent, pool, agent.idle_since)
        pool.calls = [
            (strategy.aging_per_s * c.enqueued_at - c.priority, at, order, s, c)
            for _, at, order, s, c in pool.calls
            if c.seq == s
        ]
        pool.calls.sort()
