"""Indexes of available agents, one per pool, ordered by the queue's strategy.

Three kinds, chosen by the strategy:

- ``BucketIndex`` for strategies whose order is "a small integer bucket, then longest idle"
  (``least-idle``, ``priority``, ``skill``, ``fewest-calls``). Agents enter the index at the moment
  they become available, so insertion order *is* idle order: each bucket is a plain dict used as
  an insertion-ordered set. Deleting is one hash probe (an ``OrderedDict`` also unlinks list nodes,
  which measured 2-3 times slower at 10,000 agents). ``next(iter())`` skips the slots deleted at
  the front in C, and the dict compacts them away whenever it resizes, so the skip stays short.
  Insert, remove and minimum are O(1) plus a walk over the few bucket numbers in use; removal is
  eager, so nothing stale is ever left behind. The agent itself remembers the bucket dicts it sits
  in (``AgentEntry.slots``), and for strategies whose bucket depends only on skills the router
  works those out once at login (``AgentEntry.fixed_buckets``), so becoming available or busy is
  a plain loop of dict stores and deletes.
- ``RandomIndex`` for ``random``: a list with swap-remove and a seeded generator, O(1) throughout.
- ``HeapIndex`` for any other key (``round-robin``, ``least-talk-time``, plug-ins):
  a binary heap of ``(*key, token, agent)`` with lazy deletion. Removal pops the stale entries
  that surfaced at the top, and the heap is rebuilt when it outgrows twice the pool's qualified
  members, so it stays O(log n) amortised and bounded.

Keyed indexes (all but the skills-only buckets) take an agent through ``enter``, which works out
its key with the pool's strategy and requirement; the index keeps both, so the router's loop over
an agent's keyed indexes is one call each.
"""

from __future__ import annotations

import random
from bisect import bisect
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from acd.entries import AgentEntry

if TYPE_CHECKING:
    from acd.skills import Requirement
    from acd.strategy import AgentKey, BucketStrategy, Strategy

__all__ = ["AgentIndex", "Bucket", "BucketIndex", "HeapIndex", "RandomIndex"]

Bucket = dict[AgentEntry, None]

_HEAP_SLACK = 32


class AgentIndex:
    """Available agents of one pool; ``top()`` is the one the strategy prefers."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        #: Logged-in agents qualified for the pool (at most one live entry each).
        self.members = 0

    def enter(self, agent: AgentEntry, now: float) -> None:
        """Index an agent that has just become available (keyed indexes only)."""
        raise NotImplementedError

    def discard(self, agent: AgentEntry) -> None:
        raise NotImplementedError

    def top(self) -> AgentEntry | None:
        raise NotImplementedError

    def agents(self) -> list[AgentEntry]:
        """Every indexed agent, best first (O(n); for audits and reconfiguration)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class BucketIndex(AgentIndex):
    """Key = bucket number; within a bucket, first in (longest idle) first out."""

    __slots__ = ("buckets", "fixed", "order", "ordered", "ordering", "requirement")

    def __init__(self, ordering: BucketStrategy, requirement: Requirement) -> None:
        super().__init__()
        self.ordering = ordering
        self.requirement = requirement
        self.buckets: dict[int, Bucket] = {}
        self.order: list[int] = []  # bucket numbers in use, ascending; may hold empty ones
        #: The buckets in ``order``'s order: ``top`` walks this rather than looking each number
        #: up (``skill`` pools can have a dozen buckets, the best ones often empty). A tuple,
        #: rebuilt when a bucket comes or goes (rare), holds its items inline: one line less to
        #: fetch on every ``top``.
        self.ordered: tuple[Bucket, ...] = ()
        #: Buckets depend on skills only, so agents hold references to them: never drop one.
        self.fixed = ordering.skills_only

    def bucket(self, key: int) -> Bucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
            i = bisect(self.order, key)
            self.order.insert(i, key)
            self.ordered = (*self.ordered[:i], bucket, *self.ordered[i:])
        return bucket

    def enter(self, agent: AgentEntry, now: float) -> None:
        key = self.ordering.agent_bucket(agent=agent, requirement=self.requirement)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.bucket(key)
        bucket[agent] = None
        agent.slots = (*agent.slots, bucket)

    def discard(self, agent: AgentEntry) -> None:
        pass  # the agent removes itself from the buckets it remembers

    def top(self) -> AgentEntry | None:
        ordered = self.ordered
        for i, bucket in enumerate(ordered):
            if bucket:
                if i > 8 and not self.fixed:  # forget empty buckets: fewest-calls counts only grow
                    for gone in self.order[:i]:
                        del self.buckets[gone]
                    del self.order[:i]
                    self.ordered = ordered[i:]
                return next(iter(bucket))
        return None

    def agents(self) -> list[AgentEntry]:
        return [a for bucket in self.ordered for a in bucket]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())


class HeapIndex(AgentIndex):
    """Any totally ordered key; lazy deletion by token.

    An entry is ``(*key, token, agent)`` while every key is a tuple of one length (the built-ins'
    ``(count, idle_since)``), else ``(key, token, agent)``. Splicing the key in saves an object
    per entry and, above all, a nested tuple comparison at every level of a push or pop, which is
    most of their cost once the heap is out of cache (about 40% of a pop and push on cold heaps).
    With keys of one length the spliced entries compare exactly as the nested ones would; the
    first key that does not fit turns the index to nested entries for good (the mapping keeps
    the order, so the heap stays a heap). Either way ``entry[-2]`` is the token and
    ``entry[-1]`` the agent.
    """

    __slots__ = ("heap", "requirement", "strategy", "width")

    def __init__(self, strategy: Strategy, requirement: Requirement) -> None:
        super().__init__()
        self.strategy = strategy
        self.requirement = requirement
        self.heap: list[tuple[Any, ...]] = []
        #: Length of the tuple keys spliced into entries; -1 before the first key, None if nested.
        self.width: int | None = -1

    def enter(self, agent: AgentEntry, now: float) -> None:
        key = self.strategy.agent_key(agent=agent, requirement=self.requirement, now=now)
        heap = self.heap
        if type(key) is tuple and len(key) == self.width:
            heappush(heap, key + (agent.token, agent))  # noqa: RUF005 - faster than (*key, ...)
        else:
            self._add_other(agent, key)
        if len(heap) > 2 * self.members + _HEAP_SLACK:
            heap[:] = [e for e in heap if e[-1].token == e[-2]]
            heapify(heap)

    def _add_other(self, agent: AgentEntry, key: AgentKey) -> None:
        heap = self.heap
        if self.width == -1 and type(key) is tuple:
            self.width = len(key)
            heappush(heap, (*key, agent.token, agent))
            return
        if self.width is not None:
            self.width = None
            heap[:] = [(e[:-2], e[-2], e[-1]) for e in heap]
        heappush(heap, (key, agent.token, agent))

    def discard(self, agent: AgentEntry) -> None:
        # The agent's token has changed already; its entries are stale wherever they are. Pop a
        # couple of stale tops now (usually the agent's own entry) so they do not pile up, but
        # never a burst: ``top`` and the rebuild in ``enter`` deal with the rest.
        heap = self.heap
        if heap and (top := heap[0])[-1].token != top[-2]:
            heappop(heap)
            if heap and (top := heap[0])[-1].token != top[-2]:
                heappop(heap)

    def top(self) -> AgentEntry | None:
        heap = self.heap
        while heap:
            entry = heap[0]
            agent: AgentEntry = entry[-1]
            if agent.token == entry[-2]:
                return agent
            heappop(heap)
        return None

    def __len__(self) -> int:
        return sum(1 for e in self.heap if e[-1].token == e[-2])

    def agents(self) -> list[AgentEntry]:
        live = sorted((e for e in self.heap if e[-1].token == e[-2]), key=lambda e: e[:-1])
        return [e[-1] for e in live]


class RandomIndex(AgentIndex):
    """A uniformly random available agent: a list with swap-remove.

    Each agent's place is kept here rather than on the agent: a removal then touches this
    index's own dict, not the agent that moves into the hole, which is usually out of cache.
    """

    __slots__ = ("items", "places", "rng")

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.items: list[AgentEntry] = []
        self.places: dict[AgentEntry, int] = {}
        self.rng = rng

    def enter(self, agent: AgentEntry, now: float) -> None:
        items = self.items
        self.places[agent] = len(items)
        items.append(agent)

    def discard(self, agent: AgentEntry) -> None:
        places = self.places
        i = places.pop(agent)
        items = self.items
        last = items.pop()
        if last is not agent:
            items[i] = last
            places[last] = i

    def top(self) -> AgentEntry | None:
        items = self.items
        if not items:
            return None
        # Draw only when the choice will be taken: a match follows every top() that finds one.
        return items[self.rng.randrange(len(items))]

    def agents(self) -> list[AgentEntry]:
        return list(self.items)

    def __len__(self) -> int:
        return len(self.items)
