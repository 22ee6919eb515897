"""The store on SQLite (a file, WAL) and on the machine's PostgreSQL: every call record and state
change handed to the writer is in the database after a flush, with its phases and data; a
failed flush keeps its rows for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, AgentState, CallArrived, CallHungUp, Switchboard
from cti.core.config import AgentConfig, QueueConfig, SwitchboardConfig
from cti.core.events import AgentLegAnswered, WrapUpDone
from cti.core.notifications import CallEnded, TicketCreated, TicketUpdated
from cti.core.records import CallRecord
from cti.runtime import Runtime
from cti.store import (
    AgentStateRow,
    Base,
    CallRecordRow,
    OpenCallRow,
    StoreWriter,
    TicketRow,
)

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def traffic(writer: StoreWriter, calls: int) -> None:
    """A small site's calls through the real switchboard, their notifications to the writer."""
    cfg = SwitchboardConfig(queues=(QueueConfig("sales", wrap_up_s=0),),
                            agents=(AgentConfig("a1", queues=("sales",)),),
                            default_queue="sales")
    sb = Switchboard(cfg, now=0.0)
    t = 0.0
    for ev in (AgentLogin("a1"), AgentReady("a1")):
        for n in sb.handle(ev, t).notifications:
            writer.put(n)
    for i in range(calls):
        cid = f"c{i}"
        for ev in (CallArrived(cid, "+33612345678", "3000", data={"account": i}),
                   AgentLegAnswered(cid, "a1"), CallHungUp(cid), WrapUpDone("a1")):
            t += 1.0
            for n in sb.handle(ev, t).notifications:
                writer.put(n)


async def check(writer: StoreWriter, calls: int) -> None:
    await writer.create_tables()
    traffic(writer, calls)
    assert await writer.flush()
    async with writer.engine.connect() as conn:
        n = (await conn.execute(select(func.count()).select_from(CallRecordRow))).scalar_one()
        assert n == calls
        row = (await conn.execute(select(CallRecordRow).where(CallRecordRow.call_id == "c3"))
               ).one()
        assert row.disposition == "answered"
        assert row.data == {"account": 3}
        assert [p["state"] for p in row.phases][:2] == ["arrived", "screened"]
        states = (await conn.execute(select(func.count()).select_from(AgentStateRow))
                  ).scalar_one()
        assert states == 2 + 4 * calls  # login, ready, then 4 changes per call


@pytest.mark.asyncio
async def test_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "cti.sqlite"
    writer = StoreWriter(f"sqlite+aiosqlite:///{db}", flush_interval_s=0.1)
    try:
        await check(writer, 50)
        async with writer.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"
    finally:
        await writer.close()


@pytest_asyncio.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A schema of our own in the machine's PostgreSQL, dropped afterwards."""
    schema = f"cti_test_{secrets.token_hex(4)}"
    admin = create_async_engine(PG)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
    except (OSError, Exception) as exc:
        await admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    try:
        yield schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


@pytest.mark.asyncio
async def test_postgresql(pg_schema: str) -> None:
    writer = StoreWriter(PG, connect_args={"server_settings": {"search_path": pg_schema}})
    try:
        await check(writer, 50)
    finally:
        await writer.close()


@pytest.mark.asyncio
async def test_a_failed_flush_keeps_its_rows(tmp_path: Path) -> None:
    writer = StoreWriter(f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite'}")
    try:
        traffic(writer, 5)  # the tables do not exist yet: the flush fails
        assert not await writer.flush()
        assert writer.failures == 1
        await writer.create_tables()
        assert await writer.flush()
        assert writer.written == 5 + 2 + 4 * 5
    finally:
        await writer.close()


def test_hard_kill_loses_at_most_one_flush_interval(tmp_path: Path) -> None:
    """The daemon (driven by the real-time simulator, 50 times faster than life) is killed with
    SIGKILL; the database is intact and holds the records of every call that ended up to one
    flush interval before the kill."""
    db = tmp_path / "cti.sqlite"
    config = tmp_path / "daemon.toml"
    config.write_text(f'[queues.x]\n[store]\nurl = "sqlite+aiosqlite:///{db}"\n'
                      "flush_interval_s = 0.5\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    speed = 50.0
    started_wall, started = time.time(), time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "cti", "sim", "sim/scenarios/erlang-c.toml", "--realtime",
         "--speed", str(speed), "--config", str(config), "--calls", "100000"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(6.0)
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        killed = time.monotonic()
        child.send_signal(signal.SIGKILL)  # our own child, by pid
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        n, last = conn.execute("SELECT count(*), max(ended_at) FROM call_records").fetchone()
        # The agents log in when the child's clock starts, at the wall time then.
        (origin,) = conn.execute("SELECT min(at) FROM agent_states").fetchone()
    assert n > 0
    # The switchboard's clock at the kill, in its own (50 times faster) seconds.
    startup = origin - started_wall
    virtual_kill = origin + speed * (killed - started - startup)
    # What ended before the last flush interval (plus a margin for this busy machine) is in.
    assert last >= virtual_kill - speed * (0.5 + 1.0), (last, virtual_kill)


@pytest.mark.asyncio
async def test_ticket_updates_and_a_refused_row_does_not_block_the_rest(tmp_path: Path) -> None:
    writer = StoreWriter(f"sqlite+aiosqlite:///{tmp_path / 't.sqlite'}")
    try:
        await writer.create_tables()
        writer.put(TicketCreated("T1", "voicemail", "c1", "+1", "q", 1.0, {"recording": "x"}))
        assert await writer.flush()
        writer.put(TicketUpdated("T1", "voicemail", "c2", "+1", "q", 5.0, 2))
        writer.put(TicketCreated("T1", "voicemail", "c3", "+1", "q", 6.0))  # a duplicate id
        writer.put(CallEnded(CallRecord("c3", "+1", "3000", "default", "voicemail", 0.0, 6.0,
                                        "q", None, None, None, 0.0, 0.0, 0.0, 0, None, (), {})))
        assert await writer.flush()
        assert writer.rejected == 1
        async with writer.engine.connect() as conn:
            ticket = (await conn.execute(select(TicketRow))).one()
            calls = (await conn.execute(select(func.count()).select_from(CallRecordRow))
                     ).scalar_one()
        assert (ticket.requests, ticket.updated_at) == (2, 5.0)
        assert calls == 1  # written although its batch held a refused row
    finally:
        await writer.close()


@pytest.mark.asyncio
async def test_restart_after_a_crash_closes_open_calls_and_restores_agents(
    tmp_path: Path,
) -> None:
    text = f"""
default_queue = "sales"
[store]
url = "sqlite+aiosqlite:///{tmp_path / 'cti.sqlite'}"
[queues.sales]
[agents.1001]
queues = ["sales"]
[agents.1002]
queues = ["sales"]
"""
    first = Runtime(parse_settings(text, source="site.toml"))
    ready = asyncio.Event()
    task = asyncio.create_task(first.run(ready=ready, signals=False))
    await ready.wait()
    first.submit(AgentLogin("1001"))
    first.submit(AgentReady("1001"))
    first.submit(CallArrived("c1", "+33612345678", "3000"))  # offered, never ends
    assert first.store is not None
    assert await first.store.flush()
    task.cancel()  # a crash: no shutdown, no final states
    with contextlib.suppress(asyncio.CancelledError):
        await task

    second = Runtime(parse_settings(text, source="site.toml"))
    ready = asyncio.Event()
    task = asyncio.create_task(second.run(ready=ready, signals=False))
    await ready.wait()
    try:
        agent = second.switchboard.agents["1001"]
        assert (agent.state, agent.reason) == (AgentState.NOT_READY, "recovered")
        assert "1002" not in second.switchboard.agents  # was never logged in
        assert second.store is not None
        async with second.store.engine.connect() as conn:
            row = (await conn.execute(select(CallRecordRow))).one()
            left = (await conn.execute(select(func.count()).select_from(OpenCallRow))
                    ).scalar_one()
        assert (row.call_id, row.disposition) == ("c1", "interrupted")
        assert left == 0
    finally:
        second.stop()
        await asyncio.wait_for(task, 10)


def _schema_diffs(connection: object) -> list[object]:
    context = MigrationContext.configure(connection)  # type: ignore[arg-type]
    return list(compare_metadata(context, Base.metadata))


@pytest.mark.asyncio
async def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    writer = StoreWriter(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite'}")
    try:
        await writer.create_tables()
        await writer.create_tables()  # already at head: nothing to do, no error
        async with writer.engine.connect() as conn:
            assert await conn.run_sync(_schema_diffs) == []
    finally:
        await writer.close()


@pytest.mark.asyncio
async def test_migrations_on_postgresql(pg_schema: str) -> None:
    writer = StoreWriter(PG, connect_args={"server_settings": {"search_path": pg_schema}})
    try:
        await writer.create_tables()
        async with writer.engine.connect() as conn:
            assert await conn.run_sync(_schema_diffs) == []
    finally:
        await writer.close()
