"""The batching writer: notifications in on the hot path (a list append), rows out to the
database every ``flush_interval_s`` in one transaction.

The loss window after a hard kill is at most one flush interval of ended calls and state
changes: what was appended since the last committed batch. A batch is one transaction, so the
database never holds half of one; SQLite runs in WAL mode, so a kill mid-write leaves the file
consistent. A batch that fails (database away) is kept and retried on the next flush, in
front of what came since; beyond ``max_pending`` rows the oldest are dropped and counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cti.bus.envelope import plain
from cti.core.events import CallArrived
from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    Notification,
    TicketCreated,
    TicketUpdated,
)
from cti.store.models import AgentStateRow, CallRecordRow, OpenCallRow, TicketRow

__all__ = ["StoreWriter"]

log = logging.getLogger("cti.store")

#: The notifications the store keeps.
STORED = (CallEnded, AgentStateChanged, TicketCreated, TicketUpdated)


class StoreWriter:
    def __init__(self, url: str, *, flush_interval_s: float = 1.0,
                 max_pending: int = 1_000_000,
                 connect_args: dict[str, Any] | None = None) -> None:
        self.url = url
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.engine: AsyncEngine = create_async_engine(url, connect_args=connect_args or {})
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._pending: list[Notification] = []
        self._opened: list[dict[str, Any]] = []
        self.written = 0
        self.dropped = 0
        self.failures = 0
        #: Rows the database refused (duplicate keys), dropped after logging.
        self.rejected = 0
        #: Seconds between the oldest pending row's append and its commit, at the last flush.
        self.lag_s = 0.0
        self._oldest: float | None = None

    def put(self, note: Notification) -> None:
        """The hot path: remember the notification (no I/O)."""
        if isinstance(note, STORED):
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._pending.append(note)
            if len(self._pending) > self.max_pending:
                del self._pending[0]
                self.dropped += 1

    def opened(self, call: CallArrived, at: float) -> None:
        """A call arrived: remember it as open until its record is written (crash recovery)."""
        self._opened.append({
            "call_id": call.call_id, "caller": call.caller, "dialed": call.dialed,
            "trunk": call.trunk, "queue": call.queue, "arrived_at": at,
            "data": plain(call.data),
        })

    async def recover(self, now: float) -> tuple[int, list[str]]:
        """After a crash: close the calls left open with disposition ``interrupted``, and
        return how many, with the agents whose last state was not logged out."""
        async with self.engine.begin() as conn:
            left = (await conn.execute(select(OpenCallRow))).all()
            if left:
                await conn.execute(insert(CallRecordRow), [{
                    "call_id": row.call_id, "caller": row.caller, "dialed": row.dialed,
                    "trunk": row.trunk, "disposition": "interrupted",
                    "arrived_at": row.arrived_at, "ended_at": now, "queue": row.queue,
                    "agent_id": None, "enqueued_at": None, "answered_at": None,
                    "wait_s": 0.0, "talk_s": 0.0, "priority": 0.0, "offers": 0,
                    "customer_id": None,
                    "phases": [{"state": "arrived", "at": row.arrived_at, "where": ""},
                               {"state": "interrupted", "at": now, "where": "restart"}],
                    "data": row.data,
                } for row in left])
                await conn.execute(delete(OpenCallRow))
            latest = (
                select(AgentStateRow.agent_id, func.max(AgentStateRow.id).label("last"))
                .group_by(AgentStateRow.agent_id).subquery()
            )
            rows = (await conn.execute(
                select(AgentStateRow.agent_id, AgentStateRow.state)
                .join(latest, AgentStateRow.id == latest.c.last)
            )).all()
        return len(left), sorted(r.agent_id for r in rows if r.state != "logged-out")

    async def create_tables(self) -> None:
        """Bring the schema up to date (Alembic migrations, ``cti/store/migrations``)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def run(self) -> None:
        """Flush every interval until cancelled (the last flush is ``close``'s job)."""
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def flush(self) -> bool:
        batch, self._pending = self._pending, []
        opened, self._opened = self._opened, []
        oldest, self._oldest = self._oldest, None
        if not batch and not opened:
            return True
        # Rows are built in a worker thread: a second's worth of records converted on the
        # loop's thread would delay the screen pops published meanwhile.
        calls, states, tickets = await asyncio.to_thread(_rows, batch)
        updates = [n for n in batch if isinstance(n, TicketUpdated)]
        try:
            async with self.engine.begin() as conn:
                if opened:
                    await conn.execute(insert(OpenCallRow), opened)
                if calls:
                    await conn.execute(insert(CallRecordRow), calls)
                    await conn.execute(delete(OpenCallRow).where(
                        OpenCallRow.call_id.in_([c["call_id"] for c in calls])))
                if states:
                    await conn.execute(insert(AgentStateRow), states)
                if tickets:
                    await conn.execute(insert(TicketRow), tickets)
                for u in updates:
                    await conn.execute(update(TicketRow).where(
                        TicketRow.ticket_id == u.ticket_id).values(
                        requests=u.requests, updated_at=u.at))
        except IntegrityError as exc:
            # A row the database refuses (a duplicate key) must not block every later batch:
            # write the batch row by row and drop only what is refused, loudly.
            log.error("store: batch refused (%s); writing it row by row", exc.orig)
            await self._one_by_one(batch, opened)
            return True
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            log.warning("store: %d rows not written (%s); retrying at the next flush",
                        len(batch), exc.__class__.__name__)
            self._pending[:0] = batch
            self._opened[:0] = opened
            self._oldest = oldest
            return False
        self.written += len(batch)
        if oldest is not None:
            self.lag_s = time.monotonic() - oldest
        return True

    async def _one_by_one(self, batch: list[Notification],
                          opened: list[dict[str, Any]]) -> None:
        for row in opened:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(insert(OpenCallRow), [row])
            except IntegrityError as exc:
                log.error("store: open call %s refused: %s", row["call_id"], exc.orig)
        for note in batch:
            calls, states, tickets = _rows([note])
            try:
                async with self.engine.begin() as conn:
                    for table, rows in ((CallRecordRow, calls), (AgentStateRow, states),
                                        (TicketRow, tickets)):
                        if rows:
                            await conn.execute(insert(table), rows)
                    if calls:
                        await conn.execute(delete(OpenCallRow).where(
                            OpenCallRow.call_id == calls[0]["call_id"]))
                    if isinstance(note, TicketUpdated):
                        await conn.execute(update(TicketRow).where(
                            TicketRow.ticket_id == note.ticket_id).values(
                            requests=note.requests, updated_at=note.at))
                self.written += 1
            except IntegrityError as exc:
                self.rejected += 1
                log.error("store: %s refused and dropped: %s", type(note).__name__, exc.orig)

    async def close(self) -> None:
        await self.flush()
        await self.engine.dispose()


def _rows(batch: list[Notification]) -> tuple[list[dict[str, Any]], ...]:
    calls, states, tickets = [], [], []
    for note in batch:
        if isinstance(note, CallEnded):
            row = plain(note.record)
            calls.append(row)
        elif isinstance(note, AgentStateChanged):
            states.append({f.name: getattr(note, f.name)
                           for f in dataclasses.fields(AgentStateChanged)})
        elif isinstance(note, TicketCreated):
            tickets.append(plain(note))
    return calls, states, tickets


def _upgrade(connection: Any) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # a kill mid-write leaves the file consistent
    cursor.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, fast
    cursor.close()
