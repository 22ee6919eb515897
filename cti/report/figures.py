"""The figures of a report, and their definitions: the simulator's (``sim/stats.py``) and the live
statistics', so that a day reads the same in all three.

- A call counts in the interval in which it **arrived**, and in the queue it was **first offered
  to** (an overflowed call still counts there). A call refused before it reached a queue
  (blacklisted, no route) counts in the queue its dialed number leads to when the site's
  configuration is known, else under ``(no queue)``; always in the overall figures.
- ``offered`` is every call, blocked and rejected ones included, and every rate divides by it:
  **service level = answered within the queue's threshold / offered**; abandon rate =
  abandoned / offered.
- A wait runs from first entering a queue to the answer (ringing included); ``asa_s`` is the
  mean wait of answered calls.
- ``aht_s`` is talk plus wrap-up per answered call; the wrap-up is the answering agent's
  wrap-up period that began when the call ended (from the agent state history).
- ``occupancy`` is the agents' busy time (reserved, ringing, on call, wrap-up) over their
  staffed time (busy plus ready), clipped to the interval; for a queue, over the agents who
  serve it (an agent who serves two queues counts in both), overall each agent once.
- ``not_ready_s`` is time not ready, per reason, clipped to the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["BUSY_STATES", "AgentTime", "CallTally", "Row", "ratio"]

#: Agent states in which an agent holds a call (the simulator's occupancy counts the same).
BUSY_STATES = frozenset({"reserved", "ringing", "on-call", "wrap-up"})

#: Dispositions counted by name; every other one (voicemail, transferred, callback-cancelled,
#: timeout, closed, interrupted, ...) is ``diverted``.
_COUNTED = ("answered", "abandoned", "blocked", "rejected")


def ratio(a: float, b: float) -> float | None:
    """A figure with nothing to measure is None (JSON null, ``-`` in a table)."""
    return a / b if b else None


@dataclass(slots=True)
class CallTally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    blocked: int = 0
    rejected: int = 0
    diverted: int = 0
    answered_in_sl: int = 0
    wait_answered_s: float = 0.0
    wait_abandoned_s: float = 0.0
    talk_s: float = 0.0
    wrap_up_s: float = 0.0

    def add_call(self, disposition: str, answered: bool, wait_s: float, talk_s: float,
                 wrap_s: float, threshold_s: float) -> None:
        self.offered += 1
        if disposition == "answered" and answered:
            self.answered += 1
            self.wait_answered_s += wait_s
            if wait_s <= threshold_s:
                self.answered_in_sl += 1
            self.talk_s += talk_s
            self.wrap_up_s += wrap_s
        elif disposition == "abandoned":
            self.abandoned += 1
            self.wait_abandoned_s += wait_s
        elif disposition in _COUNTED:
            setattr(self, disposition, getattr(self, disposition) + 1)
        else:
            self.diverted += 1

    def add(self, other: CallTally) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class AgentTime:
    busy_s: float = 0.0
    ready_s: float = 0.0
    not_ready_s: dict[str, float] = field(default_factory=dict)

    def add_span(self, state: str, reason: str | None, seconds: float) -> None:
        if state in BUSY_STATES:
            self.busy_s += seconds
        elif state == "ready":
            self.ready_s += seconds
        elif state == "not-ready":
            key = reason or "unknown"
            self.not_ready_s[key] = self.not_ready_s.get(key, 0.0) + seconds

    def add(self, other: AgentTime) -> None:
        self.busy_s += other.busy_s
        self.ready_s += other.ready_s
        for key, secs in other.not_ready_s.items():
            self.not_ready_s[key] = self.not_ready_s.get(key, 0.0) + secs


@dataclass(slots=True)
class Row:
    """One line of a report: a queue (or agent, or ``(all)``) in one interval (or over the whole
    period: ``start`` and ``end`` are then the period's)."""

    key: str
    start: float
    end: float
    calls: CallTally = field(default_factory=CallTally)
    #: None where it is not known (a queue's agents, without the site's configuration).
    agents: AgentTime | None = field(default_factory=AgentTime)

    def figures(self) -> dict[str, float | int | None]:
        c = self.calls
        out: dict[str, float | int | None] = {
            "offered": c.offered, "answered": c.answered, "abandoned": c.abandoned,
            "blocked": c.blocked, "rejected": c.rejected, "diverted": c.diverted,
            "other": c.rejected + c.diverted, "answered_in_sl": c.answered_in_sl,
            "service_level": ratio(c.answered_in_sl, c.offered),
            "asa_s": ratio(c.wait_answered_s, c.answered),
            "abandon_rate": ratio(c.abandoned, c.offered),
            "aht_s": ratio(c.talk_s + c.wrap_up_s, c.answered),
            "talk_s": c.talk_s, "wrap_up_s": c.wrap_up_s,
        }
        a = self.agents
        out["busy_s"] = a.busy_s if a is not None else None
        out["ready_s"] = a.ready_s if a is not None else None
        out["occupancy"] = ratio(a.busy_s, a.busy_s + a.ready_s) if a is not None else None
        out["not_ready_s"] = sum(a.not_ready_s.values()) if a is not None else None
        return out


def clean(value: float | None) -> float | None:
    """Rounded for people and JSON (which has no NaN)."""
    if value is None or math.isnan(value):
        return None
    return round(value, 6)
