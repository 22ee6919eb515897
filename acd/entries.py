"""The router's records of agents and waiting calls.

These are mutable, slotted, and owned by the ``Router``; strategies read them and never write.
Every value a strategy may use in an agent's sort key (``idle_since``, ``answered``, ``talk_s``,
``last_match``) changes only while the agent is *not* available, which is what lets the router
compute the key once, on the way into its indexes, and never re-sort.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd._index import AgentIndex
    from acd._pools import Pool
    from acd.skills import Requirement, SkillSchedule

__all__ = ["AgentEntry", "CallEntry"]


class AgentEntry:
    """A logged-in agent as the router sees it.

    The containers the decisions walk are tuples, replaced rather than mutated when they change:
    a tuple holds its items inline, and the usual empty ones are the shared ``()``, so looking
    at an agent's pools, held calls or keyed buckets touches fewer lines of memory, which at
    10,000 agents are mostly out of cache.
    """

    __slots__ = (
        "agent_id",
        "answered",
        "available",
        "fixed_buckets",
        "fixed_slots",
        "idle_since",
        "keyed_indexes",
        "last_match",
        "leave_indexes",
        "personal",
        "pools",
        "queues",
        "skills",
        "slots",
        "talk_s",
        "token",
    )

    def __init__(
        self, agent_id: str, skills: Mapping[str, int], queues: frozenset[str], now: float
    ) -> None:
        self.agent_id = agent_id
        self.skills: Mapping[str, int] = skills
        self.queues = queues
        self.available = False
        #: Identifies the current stay in the indexes; heap entries holding another token are stale.
        self.token = -1
        #: When the agent last became available (``least-idle`` serves the smallest first).
        self.idle_since = now
        #: Calls answered and seconds talked since login (``fewest-calls``, ``least-talk-time``).
        self.answered = 0
        self.talk_s = 0.0
        #: Per queue, the router's match sequence number of this agent's last call from it.
        self.last_match: dict[str, int] = {}
        #: Indexes (queue, requirement) this agent qualifies for, split by how it enters them:
        #: buckets worked out at login (skills-only strategies), or a key computed each time.
        self.pools: tuple[Pool, ...] = ()
        self.fixed_slots: dict[Pool, dict[AgentEntry, None]] = {}
        #: ``fixed_slots``' buckets as a tuple (items inline, no view to build): entering and
        #: leaving them is most of becoming available or busy. Rebuilt when ``fixed_slots`` changes.
        self.fixed_buckets: tuple[dict[AgentEntry, None], ...] = ()
        #: Indexes the agent enters with a key worked out each time (``AgentIndex.enter``).
        self.keyed_indexes: tuple[AgentIndex, ...] = ()
        #: Indexes that need telling when the agent leaves (heaps and random lists).
        self.leave_indexes: tuple[AgentIndex, ...] = ()
        #: Buckets of keyed pools the agent is in right now (bucket indexes remove eagerly).
        self.slots: tuple[dict[AgentEntry, None], ...] = ()
        #: Calls waiting for this agent in particular (``preferred-agent``), usually none.
        self.personal: tuple[CallEntry, ...] = ()

    def __repr__(self) -> str:
        return f"<AgentEntry {self.agent_id} available={self.available}>"


class CallEntry:
    """A call waiting to be routed."""

    __slots__ = (
        "call_id",
        "enqueued_at",
        "entered_at",
        "order",
        "pool",
        "preferred_agent",
        "priority",
        "queue",
        "requirement",
        "schedule",
        "seq",
    )

    def __init__(
        self,
        call_id: str,
        queue: str,
        priority: float,
        enqueued_at: float,
        entered_at: float,
        schedule: SkillSchedule,
        preferred_agent: str | None,
        order: int,
    ) -> None:
        self.call_id = call_id
        #: Submission order: the last tie-break, stable while the call moves between pools.
        self.order = order
        self.queue = queue
        self.priority = priority
        #: When the caller first started waiting (kept across overflow and ring-no-answer).
        self.enqueued_at = enqueued_at
        #: When the call entered *this* queue: skill stages and preference windows count from here.
        self.entered_at = entered_at
        self.schedule = schedule
        self.preferred_agent = preferred_agent
        #: The requirement in force, and where the call waits (a pool, or a personal list if None).
        self.requirement: Requirement = ()
        self.pool: Pool | None = None
        #: Identifies the current heap entry; 0 while not waiting in any index.
        self.seq = 0

    def __repr__(self) -> str:
        return f"<CallEntry {self.call_id} queue={self.queue} priority={self.priority}>"
