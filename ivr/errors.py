"""What can be wrong with a flow file: one ``Problem`` per mistake, all of them in a ``FlowError``.

A flow is checked whole before it is used, and every mistake found is reported (not just the
first), each naming the file, the node and what is wrong, so ``cti ivr lint`` can list them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["FLOW", "FlowError", "Problem"]

#: The ``node`` of a problem that belongs to the flow as a whole (its ``[flow]`` table, syntax).
FLOW = "(flow)"


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake: ``source`` is the file, ``node`` the node id (or ``FLOW``), ``problem`` what
    is wrong, usually starting with the key it is about."""

    source: str
    node: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.node}: {self.problem}"


class FlowError(ValueError):
    """A flow (or a map of numbers to flows) is invalid; ``problems`` lists every mistake."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        if not self.problems:
            raise ValueError("FlowError needs at least one problem")
        first = self.problems[0]
        more = len(self.problems) - 1
        super().__init__(str(first) + (f" (and {more} more)" if more else ""))
