"""A report from the store: call records and agent state history in, rows of figures out.

The same queries run on SQLite and PostgreSQL (plain SELECTs, no dialect's date functions):
rows are streamed and tallied here, in Python, so both databases give the very same figures
and the definitions live in one place (``cti.report.figures``). Memory grows with the number
of agents and intervals, and with the answered calls of the period (their wrap-ups), not with
the rest of the history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.core.config import SwitchboardConfig
from cti.report.figures import AgentTime, Row
from cti.report.period import Period
from cti.store.models import AgentStateRow, CallRecordRow

__all__ = ["ALL", "NO_QUEUE", "Report", "Site", "compute_report"]

ALL = "(all)"
NO_QUEUE = "(no queue)"
#: Default service-level threshold of a queue the configuration does not name (the daemon's
#: own default).
DEFAULT_THRESHOLD_S = 20.0
#: How far past the period's end an answered call's wrap-up is looked for.
_WRAP_LOOKAHEAD_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Site:
    """What the store does not hold: each queue's service-level threshold, who serves which
    queue, and where refused calls' numbers lead. Without it (``--db`` alone), thresholds are
    20 s and queues' occupancy is not known."""

    thresholds: Mapping[str, float] = field(default_factory=dict)
    members: Mapping[str, Sequence[str]] | None = None
    numbers: Mapping[str, str] = field(default_factory=dict)
    default_queue: str | None = None

    @classmethod
    def of(cls, config: SwitchboardConfig) -> Site:
        return cls(
            thresholds={q.name: q.service_level_s for q in config.queues},
            members={a.agent_id: tuple(a.queues) for a in config.agents},
            numbers=dict(config.numbers), default_queue=config.default_queue,
        )


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    by: str
    #: Per interval: the rows of each key (queue or agent), then the overall row.
    intervals: list[dict[str, Row]]
    #: Over the whole period, per key and ``(all)``.
    totals: dict[str, Row]

    def names(self) -> list[str]:
        return [k for k in self.totals if k != ALL]


def _first_queue(phases: Iterable[Mapping[str, Any]], queue: str | None, dialed: str,
                 site: Site) -> str:
    """The queue a call was first offered to (see ``figures``)."""
    for phase in phases:
        state, where = phase.get("state"), phase.get("where")
        if state in ("offered", "connected"):  # at an agent: ``where`` is not a queue
            break
        if where:
            return str(where)
    if queue:
        return queue
    return site.numbers.get(dialed) or site.default_queue or NO_QUEUE


async def compute_report(
    engine: AsyncEngine, period: Period, *, by: Literal["queue", "agent"] = "queue",
    site: Site | None = None, now: float | None = None, ended_before: float | None = None,
) -> Report:
    """The figures of ``period`` per interval and per queue (or agent), and overall; with
    ``ended_before``, of the calls that had ended by then only."""
    site = site or Site()
    now = time.time() if now is None else now
    n = len(period.bounds) - 1
    intervals: list[dict[str, Row]] = [{} for _ in range(n)]
    totals: dict[str, Row] = {}
    agents_known = by == "agent" or site.members is not None

    def row(k: int, key: str) -> Row:
        got = intervals[k].get(key)
        if got is None:
            got = intervals[k][key] = Row(
                key, period.bounds[k], period.bounds[k + 1],
                agents=AgentTime() if agents_known or key == ALL else None)
        return got

    wraps = await _agent_time(engine, period, min(period.end, now), by, site, row)
    async with engine.connect() as conn:
        # ``ended_at`` is indexed and never before ``arrived_at``: it narrows the scan.
        query = (
            select(CallRecordRow.disposition, CallRecordRow.arrived_at, CallRecordRow.ended_at,
                   CallRecordRow.queue, CallRecordRow.agent_id, CallRecordRow.answered_at,
                   CallRecordRow.wait_s, CallRecordRow.talk_s, CallRecordRow.dialed,
                   CallRecordRow.phases)
            .where(CallRecordRow.ended_at >= period.start,
                   CallRecordRow.arrived_at >= period.start,
                   CallRecordRow.arrived_at < period.end))
        if ended_before is not None:
            query = query.where(CallRecordRow.ended_at < ended_before)
        result = await conn.stream(query.execution_options(yield_per=2000))
        async for r in result:
            k = period.index(r.arrived_at)
            if k is None:
                continue
            queue = _first_queue(r.phases or (), r.queue, r.dialed, site)
            answered = r.answered_at is not None
            wrap = wraps.get((r.agent_id, r.ended_at), 0.0) if answered else 0.0
            threshold = site.thresholds.get(queue, DEFAULT_THRESHOLD_S)
            args = (r.disposition, answered, r.wait_s, r.talk_s, wrap, threshold)
            keys = [ALL]
            if by == "queue":
                keys.append(queue)
            elif r.agent_id is not None and r.disposition == "answered":
                keys.append(r.agent_id)
            for key in keys:
                row(k, key).calls.add_call(*args)
    for k in range(n):
        row(k, ALL)
        for key, r_ in intervals[k].items():
            total = totals.get(key)
            if total is None:
                total = totals[key] = Row(key, period.start, period.end,
                                          agents=AgentTime() if r_.agents is not None else None)
            total.calls.add(r_.calls)
            if total.agents is not None and r_.agents is not None:
                total.agents.add(r_.agents)
    ordered = dict(sorted(((k, v) for k, v in totals.items() if k != ALL)))
    ordered[ALL] = totals.get(ALL) or Row(ALL, period.start, period.end)
    for k in range(n):
        intervals[k] = {key: intervals[k][key] for key in ordered if key in intervals[k]}
    return Report(period, by, intervals, ordered)


async def _agent_time(
    engine: AsyncEngine, period: Period, until: float, by: str, site: Site,
    row: Callable[[int, str], Row],
) -> dict[tuple[str | None, float], float]:
    """Book each agent's time in state into the rows; return each wrap-up's length by
    (agent, start), for the handle time of the call whose end began it."""
    wraps: dict[tuple[str | None, float], float] = {}
    members = site.members
    async with engine.connect() as conn:
        # The state each agent was in when the period began: its latest change before it.
        latest = (select(func.max(AgentStateRow.id).label("last"))
                  .where(AgentStateRow.at < period.start)
                  .group_by(AgentStateRow.agent_id).subquery())
        before = (await conn.execute(
            select(AgentStateRow.agent_id, AgentStateRow.state, AgentStateRow.reason,
                   AgentStateRow.at).join(latest, AgentStateRow.id == latest.c.last))).all()
        state: dict[str, tuple[str, str | None, float]] = {
            r.agent_id: (r.state, r.reason, r.at) for r in before}
        result = await conn.stream(
            select(AgentStateRow.agent_id, AgentStateRow.state, AgentStateRow.reason,
                   AgentStateRow.at)
            .where(and_(AgentStateRow.at >= period.start,
                        AgentStateRow.at < period.end + _WRAP_LOOKAHEAD_S))
            .order_by(AgentStateRow.agent_id, AgentStateRow.at, AgentStateRow.id)
            .execution_options(yield_per=5000))

        def book(agent: str, prev: tuple[str, str | None, float], end: float,
                 closed: bool = True) -> None:
            st, reason, since = prev
            if st == "wrap-up" and closed:
                wraps[(agent, since)] = end - since
            if st == "logged-out":
                return
            keys = [ALL]
            if by == "agent":
                keys.append(agent)
            elif members is not None:
                keys += members.get(agent, ())
            for k, secs in period.spans(since, min(end, until)):
                for key in keys:
                    agents = row(k, key).agents
                    if agents is not None:
                        agents.add_span(st, reason, secs)

        async for r in result:
            prev = state.get(r.agent_id)
            if prev is not None:
                book(r.agent_id, prev, r.at)
            state[r.agent_id] = (r.state, r.reason, r.at)
    for agent, prev in state.items():  # the state each agent is still in
        book(agent, prev, until, closed=False)
    return wraps
