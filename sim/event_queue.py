"""The simulator's pending events: popped in time order, equal times in the order pushed.

A binary heap of (time, sequence, event) tuples does this, but each of its comparisons is a
tuple comparison: an equality test and then an order test on the times, through the generic
rich-comparison path. With a thousand agents on calls the heap holds a thousand talk ends, a
push or pop costs ten or more such comparisons, and they were half of what a call cost beyond
the same call at ten agents. Here the heap holds the times alone (float against float is the
cheapest comparison CPython has) and a dict maps each pending time to its event. Two events
rarely share a time (an offer and its ring, a wrap-up of zero seconds); those after the first
wait in a FIFO of their own, so the order is exactly that of the (time, sequence) heap and a
run's report is unchanged to the last digit.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import Any

__all__ = ["EventQueue"]


class EventQueue:
    """Events ``(code, a, b)`` due at times; ``pop`` gives the earliest, first pushed first."""

    def __init__(self) -> None:
        #: A heap of due times, one entry per pending event (boxed once, in ``push``).
        self._times: list[Any] = []
        #: due time -> the first event pushed for it, ``(code, a, b)``. Values typed ``Any``
        #: so that, compiled, the tuple stays one object (a typed tuple is a C struct there,
        #: boxed afresh at each use, and the ``is`` test in ``push`` would never hold).
        self._first: dict[Any, Any] = {}
        #: due time -> the later events pushed for the same time, in order.
        self._more: dict[Any, deque[tuple[int, Any, Any]]] = {}

    def __len__(self) -> int:
        return len(self._times)

    def push(self, when: float, code: int, a: Any = None, b: Any = None) -> None:
        key: Any = when  # one float object for the heap and the dict
        event: Any = (code, a, b)  # boxed once (see ``_first``)
        if self._first.setdefault(key, event) is not event:
            more = self._more.get(key)
            if more is None:
                self._more[key] = deque((event,))
            else:
                more.append(event)
        heappush(self._times, key)

    def pop(self) -> tuple[float, int, Any, Any]:
        """The earliest event as (time, code, a, b). Raises IndexError when empty."""
        key = heappop(self._times)
        code, a, b = self._first.pop(key)
        if self._more:
            more = self._more.get(key)
            if more is not None:
                self._first[key] = more.popleft()
                if not more:
                    del self._more[key]
        return key, code, a, b
