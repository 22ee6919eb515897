"""One ``Pool`` per (queue, requirement): the available agents qualified for it, and the calls
waiting with exactly that requirement.

- ``index``: an ``AgentIndex`` in the order of the queue's strategy (see ``acd._index``).
- ``calls``: a heap of ``(rank, enqueued_at, order, seq, call)`` with
  ``rank = aging_per_s * enqueued_at - priority`` (see ``acd.strategy``) and ``order`` the call's
  submission order, so equal calls are served first come, first served. Calls come back with
  their original enqueue time (ring-no-answer, overflow), so arrival order is not key order and a
  heap is needed. Removal is lazy: an entry whose ``seq`` is not the call's current one is stale;
  stale tops are popped as they surface and the heap is rebuilt once half of it is stale.
"""

from __future__ import annotations

import random
from heapq import heapify, heappop
from typing import TYPE_CHECKING

from acd._index import AgentIndex, Bucket, BucketIndex, HeapIndex, RandomIndex
from acd.entries import AgentEntry, CallEntry
from acd.strategy import BucketStrategy

if TYPE_CHECKING:
    from acd.skills import Requirement
    from acd.strategy import Strategy

__all__ = ["Pool", "new_index"]

_MIN_COMPACT = 32


def new_index(strategy: Strategy, requirement: Requirement) -> AgentIndex:
    ordering = strategy.ordering
    if isinstance(ordering, BucketStrategy):
        return BucketIndex(ordering, requirement)
    rng = getattr(ordering, "rng", None)
    if isinstance(rng, random.Random):
        return RandomIndex(rng)
    return HeapIndex(strategy, requirement)


class Pool:
    __slots__ = ("calls", "index", "live_calls", "ordering", "queue", "requirement", "strategy")

    def __init__(self, queue: str, requirement: Requirement, strategy: Strategy) -> None:
        self.queue = queue
        self.requirement = requirement
        self.calls: list[tuple[float, float, int, int, CallEntry]] = []
        self.live_calls = 0
        self.use(strategy)

    def use(self, strategy: Strategy) -> None:
        """Adopt ``strategy``, with an empty agent index of the kind its ordering needs."""
        self.strategy = strategy
        ordering = strategy.ordering
        self.ordering: BucketStrategy | None = (
            ordering if isinstance(ordering, BucketStrategy) else None
        )
        members = getattr(self, "index", None)
        self.index = new_index(strategy, self.requirement)
        if members is not None:
            self.index.members = members.members

    def fixed_bucket(self, agent: AgentEntry) -> Bucket | None:
        """The bucket ``agent`` always enters, if the strategy's buckets depend on skills only."""
        ordering = self.ordering
        if ordering is None or not ordering.skills_only:
            return None
        index = self.index
        assert isinstance(index, BucketIndex)
        return index.bucket(ordering.agent_bucket(agent=agent, requirement=self.requirement))

    def top_call(self) -> tuple[float, float, int, int, CallEntry] | None:
        """The best waiting call's entry, dropping stale entries on the way; not removed."""
        heap = self.calls
        while heap:
            entry = heap[0]
            if entry[4].seq == entry[3]:
                return entry
            heappop(heap)
        return None

    def call_left(self) -> None:
        """A call's entry has just gone stale (its ``seq`` changed)."""
        self.live_calls -= 1
        heap = self.calls
        while heap and heap[0][4].seq != heap[0][3]:
            heappop(heap)
        if len(heap) > _MIN_COMPACT and len(heap) > 2 * self.live_calls:
            heap[:] = [e for e in heap if e[4].seq == e[3]]
            heapify(heap)

    def __repr__(self) -> str:
        return (
            f"<Pool {self.queue} {self.requirement} members={self.index.members} "
            f"calls={self.live_calls}>"
        )
