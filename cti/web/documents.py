"""The JSON the API and the live stream serve, built from one statistics snapshot.

One document holds everything the wallboard shows, so that every figure on a page comes from
the same instant: ``queues`` (now and today), ``totals`` (all queues), ``agents`` (the grid),
``intervals`` (today's chart) and ``wallboard`` (title and thresholds). Ratios with nothing to
measure are null.

Today's service level and abandon rate divide by the calls whose outcome in the queue is known
(offered less those still waiting or ringing): the simulator's and ``cti report``'s
convention, where an offered call is one that ended; ``asa_s`` is the mean wait of answered
calls, ``aht_s`` talk plus wrap-up per call whose wrap-up ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cti.config import WallboardModel
from cti.core.statistics import SwitchboardStatistics
from cti.report.figures import ratio
from cti.web.ledger import QUEUE_COUNTERS, DayLedger, Vector

__all__ = ["AGENT_GROUPS", "Live", "document", "queue_figures"]

#: The wallboard's four agent columns, and the states each counts (reserved and ringing agents
#: hold a call: they count as on call).
AGENT_GROUPS = {
    "ready": ("ready",), "on_call": ("reserved", "ringing", "on-call"),
    "wrap_up": ("wrap-up",), "not_ready": ("not-ready",),
}
_GROUP_OF = {state: group for group, states in AGENT_GROUPS.items() for state in states}


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def queue_figures(v: Vector) -> dict[str, Any]:
    c = dict(zip(QUEUE_COUNTERS, v, strict=True))
    decided = c["answered"] + c["abandoned"] + c["blocked"] + c["overflowed"]
    return {
        "offered": int(c["offered"]), "answered": int(c["answered"]),
        "abandoned": int(c["abandoned"]), "blocked": int(c["blocked"]),
        "overflowed": int(c["overflowed"]), "answered_in_sl": int(c["answered_in_sl"]),
        "decided": int(decided),
        "service_level": _r(ratio(c["answered_in_sl"], decided), 4),
        "asa_s": _r(ratio(c["wait_answered_s"], c["answered"]), 1),
        "abandon_rate": _r(ratio(c["abandoned"], decided), 4),
        "aht_s": _r(ratio(c["talk_s"] + c["wrap_up_s"], c["handled"]), 1),
    }


class Live:
    """What the snapshot does not hold, read at the same instant: each agent's queues and the
    longest wait now per queue."""

    __slots__ = ("agent_queues", "longest_wait_s", "names")

    def __init__(self, agent_queues: Mapping[str, tuple[str, ...]],
                 longest_wait_s: Mapping[str, float], names: Mapping[str, str]) -> None:
        self.agent_queues = agent_queues
        self.longest_wait_s = longest_wait_s
        self.names = names


def document(stats: SwitchboardStatistics, ledger: DayLedger, live: Live, *, site: str,
             wallboard: WallboardModel) -> dict[str, Any]:
    now = stats.at
    today = ledger.today()
    groups = {name: dict.fromkeys(AGENT_GROUPS, 0) for name in stats.queues}
    logged_in = 0
    for agent_id, a in stats.agents.items():
        group = _GROUP_OF.get(a.state)
        if group is None:
            continue
        logged_in += 1
        for name in live.agent_queues.get(agent_id, ()):
            if name in groups:
                groups[name][group] += 1
    queues: list[dict[str, Any]] = []
    total: Vector = (0.0,) * len(QUEUE_COUNTERS)
    zero = total
    for name, q in stats.queues.items():
        counters = today.get(name, zero)
        total = tuple(x + y for x, y in zip(total, counters, strict=True))
        queues.append({
            "name": name, "state": q.state, "waiting": q.waiting,
            "longest_wait_s": _r(live.longest_wait_s.get(name, 0.0), 1),
            "service_level_s": q.service_level_s, "agents": groups[name],
            "today": queue_figures(counters),
        })
    everyone = dict.fromkeys(AGENT_GROUPS, 0)
    agents = []
    for agent_id, a in stats.agents.items():
        group = _GROUP_OF.get(a.state)
        if group is not None:
            everyone[group] += 1
        calls = ledger.agent_today(agent_id)
        agents.append({
            "id": agent_id, "name": live.names.get(agent_id, ""), "state": a.state,
            "reason": a.reason, "since": a.since,
            "time_in_state_s": _r(max(0.0, now - a.since), 1),
            "calls_today": int(calls[1]), "missed_today": int(calls[2]),
            "queues": list(live.agent_queues.get(agent_id, ())),
        })
    intervals = []
    for start, per in ledger.intervals():
        summed = zero
        for v in per.values():
            summed = tuple(x + y for x, y in zip(summed, v, strict=True))
        figures = queue_figures(summed)
        intervals.append({
            "start": start, "offered": figures["offered"], "answered": figures["answered"],
            "abandoned": figures["abandoned"], "service_level": figures["service_level"],
            "queues": {name: queue_figures(v)["offered"] for name, v in per.items()},
        })
    return {
        "v": 1, "site": site, "at": now, "day_start": ledger.day,
        "interval_s": ledger.interval_s,
        "queues": queues,
        "totals": {
            "waiting": sum(q["waiting"] for q in queues),
            "longest_wait_s": max((q["longest_wait_s"] or 0.0 for q in queues), default=0.0),
            "agents": everyone, "logged_in": logged_in, "today": queue_figures(total),
        },
        "agents": agents,
        "intervals": intervals,
        "wallboard": {
            "title": wallboard.title or f"{site} contact center",
            "timezone": wallboard.timezone,
            "thresholds": wallboard.thresholds.model_dump(),
        },
    }
