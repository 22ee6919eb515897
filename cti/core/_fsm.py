"""State machines as tables.

A machine's ``TABLE`` maps ``(State, Input)`` to the next ``State``. ``fire`` looks the pair up
and either moves (keeping time-in-state accounts) or raises ``InvalidTransition`` with nothing
changed. The side effects of an input (commands to the PBX, notifications, routing) are done by
the switchboard's handler for that input *after* the machine accepted it, so a rejected input
has no effect at all and the tables stay plain data that tests can enumerate and that
``mermaid()`` can draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from cti.core.errors import InvalidTransition

__all__ = ["FastEnum", "Machine", "Timed", "TimedMachine", "mermaid"]


class FastEnum(Enum):
    """An Enum hashed by identity.

    Members are singletons compared by identity, so the identity hash is correct; ``Enum``'s own
    ``__hash__`` is a Python function, and every table lookup hashes a ``(state, input)`` pair, so
    it was the single largest cost of the switchboard in the simulator's profile. Only
    membership and insertion-ordered dicts rely on these hashes, never set iteration order, so
    runs stay repeatable.
    """

    __hash__ = object.__hash__


class Timed(Protocol):
    """What the switchboard's timer heap holds: anything with a deadline (the machines, and the
    runs of IVR sessions). An entry whose ``deadline`` no longer equals its time is stale."""

    deadline: float | None


S = TypeVar("S", bound=Enum)
I = TypeVar("I", bound=Enum)  # noqa: E741 - S and I read as in "(State, Input)"


class Machine(Generic[S, I]):
    """Base of the table-driven machines: an identity, a state, when it was entered, and the
    deadline of a transient state. How time in each state is kept is each kind's business
    (``TimedMachine`` sums it; a call reads it off the phases its record lists anyway)."""

    __slots__ = ("deadline", "ident", "since", "state")

    KIND: ClassVar[str]
    TABLE: ClassVar[Mapping[Any, Any]]

    def __init__(self, ident: str, state: S, now: float) -> None:
        self.ident = ident
        self.state: S = state
        self.since = now
        #: When the current state must be left by, if it is transient; None otherwise.
        self.deadline: float | None = None

    def can(self, inp: I) -> bool:
        return (self.state, inp) in self.TABLE

    def fire(self, inp: I, now: float) -> S:
        """Apply ``inp``; return the previous state. Raises ``InvalidTransition`` unchanged."""
        raise NotImplementedError

    def time_in_states(self, now: float) -> dict[str, float]:
        """Seconds spent in each state so far, the current one included."""
        raise NotImplementedError


class TimedMachine(Machine[S, I]):
    """A machine that sums the seconds spent in each state as it leaves them."""

    __slots__ = ("time_in",)

    def __init__(self, ident: str, state: S, now: float) -> None:
        super().__init__(ident, state, now)
        #: Seconds spent in each state, closed up to ``since``.
        self.time_in: dict[S, float] = {}

    def fire(self, inp: I, now: float) -> S:
        prev = self.state
        nxt = self.TABLE.get((prev, inp))
        if nxt is None:
            raise InvalidTransition(self.KIND, self.ident, prev, inp)
        if nxt is not prev:
            self.time_in[prev] = self.time_in.get(prev, 0.0) + (now - self.since)
            self.since = now
            self.deadline = None
            self.state = nxt
        return prev

    def seconds_in(self, state: S, now: float) -> float:
        """Seconds spent in ``state`` so far, the current period included (what
        ``time_in_states`` gives for it, without building the dict of every state)."""
        closed = self.time_in.get(state, 0.0)
        return closed + (now - self.since) if state is self.state else closed

    def time_in_states(self, now: float) -> dict[str, float]:
        # ``_name_``, not ``name``: in 3.11 the latter is a Python descriptor, and the simulator
        # reads every agent's times at every batch boundary.
        spent = {state._name_.lower(): secs for state, secs in self.time_in.items()}
        key = self.state._name_.lower()
        spent[key] = spent.get(key, 0.0) + (now - self.since)
        return spent


def mermaid(table: Mapping[Any, Enum], title: str = "") -> str:
    """A Mermaid ``stateDiagram-v2`` of a machine's table (``cti diagram`` prints these)."""
    lines = ["stateDiagram-v2"]
    if title:
        lines.insert(0, f"---\ntitle: {title}\n---")
    for (state, inp), nxt in table.items():
        lines.append(f"    {state.name} --> {nxt.name}: {inp.name}")
    return "\n".join(lines)
