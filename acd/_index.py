"""Indexes of available agents, one per pool, ordered by the queue's strategy.

Two kinds, chosen by the strategy:

- ``BucketIndex`` for strategies whose order is "a small integer bucket, then longest idle"
  (``least-idle``, ``priority``, ``skill``, ``fewest-calls``). Agents enter the index at the moment
  they become available, so insertion order *is* idle order: each bucket is a plain dict used as
  an insertion-ordered set. Deleting is one hash probe (an ``OrderedDict`` also unlinks list nodes,
  which measured 2-3 times slower at 10,000 agents). ``next(iter())`` skips the slots deleted at
  the front in C, and the dict compacts them away whenever it resizes, so the skip stays short.
  Insert, remove and minimum are O(1) plus a walk over the few bucket numbers in use; removal is
  eager, so nothing stale is ever left behind. The agent itself remembers the bucket dicts it sits
  in (``AgentEntry.slots``), and for strategies whose bucket depends only on skills the router
  works those out once at login (``AgentEntry.fixed_slots``), so becoming available or busy is a
  plain loop of dict stores and deletes.
- ``RandomIndex`` for ``random``: a list with swap-remove and a seeded generator, O(1) throughout.
- ``HeapIndex`` for any other key (``round-robin``, ``least-talk-time``, plug-ins):
  a binary heap of ``(key, token, agent)`` with lazy deletion. Removal pops the stale entries
  that surfaced at the top, and the heap is rebuilt when it outgrows twice the pool's qualified
  members, so it stays O(log n) amortised and bounded.
"""

from __future__ import annotations

import random
from bisect import insort
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING

from acd.entries import AgentEntry

if TYPE_CHECKING:
    from acd.strategy import AgentKey

__all__ = ["AgentIndex", "Bucket", "BucketIndex", "HeapIndex", "RandomIndex"]

Bucket = dict[AgentEntry, None]

_HEAP_SLACK = 32


class AgentIndex:
    """Available agents of one pool; ``top()`` is the one the strategy prefers."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        #: Logged-in agents qualified for the pool (at most one live entry each).
        self.members = 0

    def add(self, agent: AgentEntry, key: AgentKey) -> None:
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

    __slots__ = ("buckets", "fixed", "order")

    def __init__(self, *, fixed: bool) -> None:
        super().__init__()
        self.buckets: dict[int, Bucket] = {}
        self.order: list[int] = []  # bucket numbers in use, ascending; may hold empty ones
        #: Buckets depend on skills only, so agents hold references to them: never drop one.
        self.fixed = fixed

    def bucket(self, key: int) -> Bucket:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
            insort(self.order, key)
        return bucket

    def add(self, agent: AgentEntry, key: AgentKey) -> None:
        raise TypeError("bucket indexes are filled through Pool.add_agent, which records the slot")

    def discard(self, agent: AgentEntry) -> None:
        pass  # the agent removes itself from the buckets it remembers

    def top(self) -> AgentEntry | None:
        buckets = self.buckets
        order = self.order
        for i, key in enumerate(order):
            bucket = buckets[key]
            if bucket:
                if i > 8 and not self.fixed:  # forget empty buckets: fewest-calls counts only grow
                    for gone in order[:i]:
                        del buckets[gone]
                    del order[:i]
                return next(iter(bucket))
        return None

    def agents(self) -> list[AgentEntry]:
        return [a for key in self.order for a in self.buckets[key]]

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())


class HeapIndex(AgentIndex):
    """Any totally ordered key; lazy deletion by token."""

    __slots__ = ("heap",)

    def __init__(self) -> None:
        super().__init__()
        self.heap: list[tuple[AgentKey, int, AgentEntry]] = []

    def add(self, agent: AgentEntry, key: AgentKey) -> None:
        heap = self.heap
        heappush(heap, (key, agent.token, agent))
        if len(heap) > 2 * self.members + _HEAP_SLACK:
            heap[:] = [e for e in heap if e[2].token == e[1]]
            heapify(heap)

    def discard(self, agent: AgentEntry) -> None:
        # The agent's token has changed already; its entries are stale wherever they are. Pop a
        # couple of stale tops now (usually the agent's own entry) so they do not pile up, but
        # never a burst: ``top`` and the rebuild in ``add`` deal with the rest.
        heap = self.heap
        for _ in range(2):
            if heap and heap[0][2].token != heap[0][1]:
                heappop(heap)
            else:
                break

    def top(self) -> AgentEntry | None:
        heap = self.heap
        while heap:
            _, token, agent = heap[0]
            if agent.token == token:
                return agent
            heappop(heap)
        return None

    def __len__(self) -> int:
        return sum(1 for e in self.heap if e[2].token == e[1])

    def agents(self) -> list[AgentEntry]:
        return [e[2] for e in sorted(self.heap, key=lambda e: (e[0], e[1])) if e[2].token == e[1]]


class RandomIndex(AgentIndex):
    """A uniformly random available agent: a list with swap-remove; positions live on agents."""

    __slots__ = ("items", "rng")

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.items: list[AgentEntry] = []
        self.rng = rng

    def add(self, agent: AgentEntry, key: AgentKey) -> None:
        agent.positions[self] = len(self.items)
        self.items.append(agent)

    def discard(self, agent: AgentEntry) -> None:
        i = agent.positions.pop(self)
        items = self.items
        last = items.pop()
        if last is not agent:
            items[i] = last
            last.positions[self] = i

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
