"""A simulated day written to a store, as the daemon would have written it: every call's record
and every agent state change, so that ``cti report`` reads a simulated day like a real one and
its figures can be checked against the simulator's own (``tests/test_report.py``). It lives
with the reports, not in ``sim/``, because it writes to the store (a shell).

The virtual-time runner asks its switchboard for call records only (agent state notifications
cost time nobody needs in a benchmark). Here it also asks for agent states and keeps them in
order (``keep_states``); its routing and its report are unchanged.

Simulated time starts at midnight (``[run] start`` is seconds after it); ``day_start`` is the
POSIX time of the local midnight to put it on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import date, datetime, time, tzinfo

from cti.core.notifications import AgentStateChanged, CallEnded
from cti.core.records import CallRecord, Phase
from cti.store.writer import StoreWriter
from sim.runner import Simulation
from sim.scenario import Scenario
from sim.stats import Report

__all__ = ["midnight", "recording_simulation", "run_to_store", "write_day"]

#: Rows per transaction when writing a day to the store.
_BATCH = 5_000


def recording_simulation(scenario: Scenario,
                         progress: Callable[[float], None] | None = None) -> Simulation:
    """A ``Simulation`` that keeps every call record and agent state change (memory grows
    with the day: meant for a day, not for ten million calls)."""
    return Simulation(scenario, keep_records=True, keep_states=True, progress=progress)


def midnight(day: date, zone: tzinfo | None = None) -> float:
    """POSIX time of ``day``'s local midnight (the machine's zone when none is given)."""
    when = datetime.combine(day, time(0), zone)
    return (when if zone is not None else when.astimezone()).timestamp()


def _shift_record(rec: CallRecord, by: float) -> CallRecord:
    return dataclasses.replace(
        rec, arrived_at=rec.arrived_at + by, ended_at=rec.ended_at + by,
        enqueued_at=None if rec.enqueued_at is None else rec.enqueued_at + by,
        answered_at=None if rec.answered_at is None else rec.answered_at + by,
        phases=tuple(Phase(p.state, p.at + by, p.where) for p in rec.phases),
    )


async def write_day(url: str, records: list[CallRecord], states: list[AgentStateChanged], *,
                    day_start: float = 0.0, connect_args: dict[str, object] | None = None,
                    ) -> None:
    """Write a simulated day's records and state changes to the store at ``url`` (its schema
    brought up to date first), shifted so that simulated midnight falls on ``day_start``."""
    writer = StoreWriter(url, connect_args=dict(connect_args or {}))
    try:
        await writer.create_tables()
        pending = 0
        for rec in records:
            writer.put(CallEnded(_shift_record(rec, day_start) if day_start else rec))
            pending += 1
            if pending >= _BATCH:
                await _flush(writer)
                pending = 0
        for st in states:
            writer.put(dataclasses.replace(st, at=st.at + day_start) if day_start else st)
            pending += 1
            if pending >= _BATCH:
                await _flush(writer)
                pending = 0
        await _flush(writer)
    finally:
        await writer.engine.dispose()


async def _flush(writer: StoreWriter) -> None:
    if not await writer.flush():
        raise OSError(f"the store at {writer.url.split('@')[-1]} refused the simulated day")


def run_to_store(scenario: Scenario, url: str, *, day_start: float,
                 progress: Callable[[float], None] | None = None) -> Report:
    """Simulate ``scenario``, write its calls and agent states to ``url``; the report."""
    simulation = recording_simulation(scenario, progress=progress)
    report = simulation.run()
    asyncio.run(write_day(url, simulation.records, simulation.states, day_start=day_start))
    return report
