"""sim.event_queue: the runner's pending events come out exactly as a (time, sequence) heap's."""

from __future__ import annotations

import heapq
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.event_queue import EventQueue


def test_pops_in_time_order() -> None:
    q = EventQueue()
    for t in (5.0, 1.0, 3.0, 2.0, 4.0):
        q.push(t, int(t), f"a{t}")
    assert len(q) == 5
    assert [q.pop() for _ in range(5)] == [(t, int(t), f"a{t}", None)
                                           for t in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert len(q) == 0


def test_equal_times_come_out_in_the_order_pushed() -> None:
    q = EventQueue()
    q.push(2.0, 9)
    for i in range(4):
        q.push(1.0, i, "call", i)
    q.push(0.5, 7)
    got = [q.pop() for _ in range(len(q))]
    assert got == [(0.5, 7, None, None), *((1.0, i, "call", i) for i in range(4)),
                   (2.0, 9, None, None)]


def test_a_time_pushed_again_after_its_events_left_starts_afresh() -> None:
    q = EventQueue()
    q.push(1.0, 1)
    q.push(1.0, 2)
    assert q.pop() == (1.0, 1, None, None)
    q.push(1.0, 3)  # joins the one still waiting at 1.0, behind it
    assert [q.pop() for _ in range(2)] == [(1.0, 2, None, None), (1.0, 3, None, None)]
    q.push(1.0, 4)
    assert q.pop() == (1.0, 4, None, None)
    assert len(q) == 0


def test_pop_from_empty_raises_index_error() -> None:
    with pytest.raises(IndexError):
        EventQueue().pop()


# Times from a small set, so that ties (the case the FIFO exists for) are common.
_ops = st.lists(
    st.one_of(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 7.25]).map(lambda t: ("push", t)),
              st.just(("pop", 0.0))),
    max_size=200,
)


@given(_ops)
def test_interleaved_pushes_and_pops_match_a_time_sequence_heap(
    ops: list[tuple[str, float]],
) -> None:
    q = EventQueue()
    reference: list[tuple[float, int, int]] = []
    seq = itertools.count()
    for op, t in ops:
        if op == "push":
            n = next(seq)
            q.push(t, n % 5, n)
            heapq.heappush(reference, (t, n, n % 5))
        elif reference:
            when, n, code = heapq.heappop(reference)
            assert q.pop() == (when, code, n, None)
        else:
            with pytest.raises(IndexError):
                q.pop()
        assert len(q) == len(reference)
    while reference:
        when, n, code = heapq.heappop(reference)
        assert q.pop() == (when, code, n, None)
