"""What arrives: the next arrival time, and everything about each call, from one random stream.

Both drivers use it: the virtual-time runner and the real-time PBX. The draws for a call happen
at its arrival and always in the same order (type, caller, talk, wrap-up, patience), so the same
seed gives the same calls whatever the routing does with them. With an IVR flow a call's type is
the flow's business: the arrival draws the caller and a seed for the caller's own stream.
"""

from __future__ import annotations

import bisect
import random
from typing import NamedTuple

from sim.scenario import CallType, Scenario, caller_number

__all__ = ["Arrival", "Traffic"]


class Arrival(NamedTuple):
    call_type: CallType
    caller: str
    talk_s: float
    wrap_s: float
    #: None: the caller never gives up.
    patience_s: float | None


#: ``Arrival(...)`` runs a generated Python ``__new__``; this builds the same tuple in C, once per
#: call.
_new_arrival = tuple.__new__


class Traffic:
    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.rng = rng
        self._next = scenario.arrivals.next_after
        self._types = scenario.call_types
        cum = []
        acc = 0.0
        for kind in self._types:
            acc += kind.share
            cum.append(acc)
        self._cum = cum
        self._total = acc
        self._last = len(self._types) - 1
        pop = scenario.population
        self._population = pop.size if pop is not None else 0
        self.count = 0

    def next_after(self, t: float) -> float:
        return self._next(t, self.rng)

    def draw(self) -> Arrival:
        rng = self.rng
        self.count += 1
        if self._last:
            i = bisect.bisect_right(self._cum, rng.random() * self._total)
            ct = self._types[min(self._last, i)]
        else:
            ct = self._types[0]
        if self._population:
            caller = caller_number(rng.randrange(self._population))
        else:
            caller = f"+1999{self.count:09d}"  # everybody calls once
        talk = ct.talk.sample(rng)
        wrap = ct.wrap_up.sample(rng)
        patience = ct.patience.sample(rng) if ct.patience is not None else None
        return _new_arrival(Arrival, (ct, caller, talk, wrap, patience))

    def draw_ivr(self) -> tuple[str, int]:
        """A caller of a scenario with an IVR flow: their number, and the seed of their own
        stream (``sim.ivr_callers``), which draws the rest once the flow has said where the
        call goes."""
        rng = self.rng
        self.count += 1
        if self._population:
            caller = caller_number(rng.randrange(self._population))
        else:
            caller = f"+1999{self.count:09d}"
        return caller, rng.getrandbits(64)
