"""Today's figures, out of the switchboard's running counters.

The core counts from its start, and only bumps counters on the hot path. The ledger turns
those totals into "today" and "per interval" by marking them: at the start of the day and of
each interval it keeps the counters as they stood, and a figure for a period is the counters
now less their mark. So the routing core does no work for the wallboard; the ledger reads a
snapshot whenever the server takes one (at its own pace, and at every interval boundary).

What happened today before this daemon started (a restart) comes from the store, as a base
added to the live part (``set_base``). Live figures count events when they happen (an answer in
the interval it was answered in); the base, read from call records, counts each call in the
interval it arrived in, as ``cti report`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo

from cti.core.statistics import SwitchboardStatistics
from cti.report.period import day_start

__all__ = ["AGENT_COUNTERS", "QUEUE_COUNTERS", "DayLedger", "Vector"]

#: Counters of ``QueueStatistics`` the ledger follows, in this order.
QUEUE_COUNTERS = (
    "offered", "answered", "abandoned", "blocked", "overflowed", "answered_in_sl",
    "wait_answered_s", "wait_abandoned_s", "talk_s", "wrap_up_s", "handled",
)
#: Counters of ``AgentStatistics`` the ledger follows.
AGENT_COUNTERS = ("offered", "answered", "missed", "talk_s")

Vector = tuple[float, ...]
_QZERO: Vector = (0.0,) * len(QUEUE_COUNTERS)
_AZERO: Vector = (0.0,) * len(AGENT_COUNTERS)


def _sub(a: Vector, b: Vector) -> Vector:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _add(a: Vector, b: Vector) -> Vector:
    return tuple(x + y for x, y in zip(a, b, strict=True))


class DayLedger:
    def __init__(self, interval_s: float, zone: tzinfo | None = None) -> None:
        self.interval_s = interval_s
        self.zone = zone
        self.day: float | None = None
        self.index = 0
        self._queues: dict[str, Vector] = {}
        self._agents: dict[str, Vector] = {}
        self._day_mark: dict[str, Vector] = {}
        self._agent_mark: dict[str, Vector] = {}
        self._interval_mark: dict[str, Vector] = {}
        #: Interval -> queue -> the counters' growth over it, for the intervals gone by.
        self._closed: dict[int, dict[str, Vector]] = {}
        self._base: dict[int, dict[str, Vector]] = {}
        self._agent_base: dict[str, Vector] = {}

    @property
    def next_boundary(self) -> float | None:
        """When the current interval ends (POSIX time), for the sampler to be there."""
        if self.day is None:
            return None
        return self.day + (self.index + 1) * self.interval_s

    def set_base(self, day: float, queues: Mapping[int, Mapping[str, Vector]],
                 agents: Mapping[str, Vector]) -> None:
        """Today before this daemon started: per interval and queue, and per agent."""
        if self.day is not None and day != self.day:
            return  # read for a day that is over already
        self._base = {k: dict(v) for k, v in queues.items()}
        self._agent_base = dict(agents)

    def update(self, stats: SwitchboardStatistics) -> None:
        now = stats.at
        queues = {name: tuple(float(getattr(q, c)) for c in QUEUE_COUNTERS)
                  for name, q in stats.queues.items()}
        agents = {a: tuple(float(getattr(s, c)) for c in AGENT_COUNTERS)
                  for a, s in stats.agents.items()}
        day = day_start(now, self.zone)
        index = int((now - day) // self.interval_s)
        if self.day is None:  # the counters began at zero with this daemon, today
            self.day, self.index = day, index
        elif day != self.day:  # midnight: a new day starts from the counters as they are
            self.day, self.index = day, index
            self._day_mark, self._agent_mark = dict(queues), dict(agents)
            self._interval_mark = dict(queues)
            self._closed, self._base, self._agent_base = {}, {}, {}
        elif index != self.index:
            self._closed[self.index] = self._growth(queues, self._interval_mark)
            self._interval_mark = dict(queues)
            self.index = index
        self._queues, self._agents = queues, agents

    @staticmethod
    def _growth(now: Mapping[str, Vector], mark: Mapping[str, Vector]) -> dict[str, Vector]:
        return {name: _sub(v, mark.get(name, _QZERO)) for name, v in now.items()}

    def today(self) -> dict[str, Vector]:
        """Per queue: today's counters (before this daemon's start included)."""
        out = self._growth(self._queues, self._day_mark)
        for per in self._base.values():
            for name, v in per.items():
                out[name] = _add(out.get(name, _QZERO), v)
        return out

    def agent_today(self, agent_id: str) -> Vector:
        live = _sub(self._agents.get(agent_id, _AZERO), self._agent_mark.get(agent_id, _AZERO))
        return _add(live, self._agent_base.get(agent_id, _AZERO))

    def intervals(self) -> list[tuple[float, dict[str, Vector]]]:
        """Today's intervals up to the current one: (start, per queue counters)."""
        if self.day is None:
            return []
        out = []
        current = self._growth(self._queues, self._interval_mark)
        last = max([self.index, *self._base])
        for k in range(last + 1):
            per = dict(current if k == self.index else self._closed.get(k, {}))
            for name, v in self._base.get(k, {}).items():
                per[name] = _add(per.get(name, _QZERO), v)
            out.append((self.day + k * self.interval_s, per))
        return out
