"""Every machine over every state x input: the table's transition, or InvalidTransition with
nothing changed (DESIGN.md §4, §7)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core import (
    Agent,
    AgentInput,
    AgentState,
    BusinessCalendar,
    Call,
    CallInput,
    CallState,
    InvalidTransition,
    Queue,
    QueueConfig,
    QueueInput,
    QueueState,
    Trunk,
    TrunkInput,
    TrunkState,
)
from cti.core._fsm import Machine, mermaid

Factory = Callable[[], Machine[Any, Any]]

MACHINES: list[tuple[str, Factory, type[enum.Enum], type[enum.Enum]]] = [
    ("agent", lambda: Agent("a1", "user/a1", 0.0), AgentState, AgentInput),
    ("call", lambda: Call("c1", "+1", "3000", "default", {}, 0.0), CallState, CallInput),
    ("queue", lambda: Queue(QueueConfig("q"), 0.0), QueueState, QueueInput),
    ("trunk", lambda: Trunk("t", 10, 0.0), TrunkState, TrunkInput),
]


@pytest.mark.parametrize(("kind", "factory", "states", "inputs"), MACHINES)
def test_every_state_and_input(
    kind: str, factory: Factory, states: type[enum.Enum], inputs: type[enum.Enum]
) -> None:
    table = factory().TABLE
    for state in states:
        for inp in inputs:
            m = factory()
            m.state = state
            m.since = 5.0
            if (state, inp) in table:
                prev = m.fire(inp, 7.0)
                assert prev is state
                assert m.state is table[(state, inp)]
            else:
                with pytest.raises(InvalidTransition) as err:
                    m.fire(inp, 7.0)
                assert m.state is state
                assert m.since == 5.0
                assert err.value.state is state
                assert err.value.input is inp
                assert inp.name in str(err.value)
                assert state.name in str(err.value)


@pytest.mark.parametrize(("kind", "factory", "states", "inputs"), MACHINES)
def test_every_state_is_reachable_and_used(
    kind: str, factory: Factory, states: type[enum.Enum], inputs: type[enum.Enum]
) -> None:
    table = factory().TABLE
    start = factory().state
    reached = {start}
    frontier = [start]
    while frontier:
        s = frontier.pop()
        for (src, _), dst in table.items():
            if src is s and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    assert reached == set(states), f"{kind}: unreachable {set(states) - reached}"
    assert {inp for _, inp in table} == set(inputs), f"{kind}: inputs no transition uses"


@pytest.mark.parametrize(("kind", "factory", "states", "inputs"), MACHINES)
@given(data=st.data())
def test_random_input_sequences(
    kind: str, factory: Factory, states: type[enum.Enum], inputs: type[enum.Enum],
    data: st.DataObject,
) -> None:
    m = factory()
    table = m.TABLE
    now = 0.0
    for inp in data.draw(st.lists(st.sampled_from(list(inputs)), max_size=40)):
        now += data.draw(st.floats(0, 100, allow_nan=False))
        before, since = m.state, m.since
        expected = table.get((before, inp))
        if expected is None:
            with pytest.raises(InvalidTransition):
                m.fire(inp, now)
            assert (m.state, m.since) == (before, since)
        else:
            m.fire(inp, now)
            assert m.state is expected
        # Time in states always adds up to the time elapsed.
        assert sum(m.time_in_states(now).values()) == pytest.approx(now)


def test_transient_agent_states_have_exits_on_timeout_or_failure() -> None:
    table = Agent("a", "", 0.0).TABLE
    for state in (AgentState.RESERVED, AgentState.RINGING):
        assert table[(state, AgentInput.RING_FAILED)] is AgentState.NOT_READY
        assert table[(state, AgentInput.CALLER_GONE)] is AgentState.READY
    assert table[(AgentState.WRAP_UP, AgentInput.TIMEOUT)] is AgentState.READY
    assert table[(AgentState.NOT_READY, AgentInput.TIMEOUT)] is AgentState.READY


def test_trunk_seize_and_release_below_capacity_are_self_loops() -> None:
    # Trunk.seize and Trunk.release skip the table lookup for these two, which every call makes.
    assert Trunk.TABLE[(TrunkState.AVAILABLE, TrunkInput.SEIZE)] is TrunkState.AVAILABLE
    assert Trunk.TABLE[(TrunkState.AVAILABLE, TrunkInput.RELEASE)] is TrunkState.AVAILABLE


def test_trunk_blocks_when_full_and_counts_load() -> None:
    trunk = Trunk("t", 2, 0.0)
    assert trunk.seize(0.0)
    assert trunk.seize(1.0)
    assert trunk.state is TrunkState.FULL
    assert not trunk.seize(2.0)
    trunk.release(3.0)
    assert trunk.state is TrunkState.AVAILABLE
    assert trunk.seize(4.0)
    stats = trunk.statistics(5.0)
    assert (stats.blocked, stats.seized, stats.peak, stats.in_use) == (1, 3, 2, 2)
    # 1 channel for 0-1 s, 2 for 1-3 s, 1 for 3-4 s, 2 for 4-5 s.
    assert stats.channel_seconds == pytest.approx(1 + 4 + 1 + 2)


def test_queue_follows_its_calendar() -> None:
    cal = BusinessCalendar.parse(entry="q", hours={"daily": ["08:00-18:00"]})
    monday_7am = 1_795_503_600.0  # 2026-11-23 07:00 UTC
    q = Queue(QueueConfig("q", calendar=cal), monday_7am)
    assert q.state is QueueState.CLOSED
    assert q.deadline == monday_7am + 3600
    assert q.on_calendar(monday_7am + 3600)
    assert q.state is QueueState.OPEN
    assert q.deadline == monday_7am + 11 * 3600


@pytest.mark.parametrize(("kind", "factory", "states", "inputs"), MACHINES)
def test_diagram_lists_every_transition(
    kind: str, factory: Factory, states: type[enum.Enum], inputs: type[enum.Enum]
) -> None:
    table = factory().TABLE
    text = mermaid(table, title=kind)
    for (src, inp), dst in table.items():
        assert f"{src.name} --> {dst.name}: {inp.name}" in text
