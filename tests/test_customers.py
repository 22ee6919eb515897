"""Customer records: the CSV import (all or nothing, errors with line and column), and the
daemon attaching the caller's record before routing (VIP priority, account manager)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cti.cli import main
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, CallArrived
from cti.core.notifications import CallEnded
from cti.core.records import CallRecord
from cti.runtime import Runtime
from cti.store import StoreWriter
from cti.store.customers import (
    CustomerImportError,
    import_customers,
    lookup_customer,
    parse_customers,
)

CSV = """number,customer_id,name,vip,preferred_agent,segment
+33612345678,C1,Ada Lovelace,gold,1002,enterprise
+33700000000,,Bob,no,,retail
"""


def test_parse_rows_and_extra_columns() -> None:
    rows = parse_customers(CSV)
    assert rows[0] == {"number": "+33612345678", "customer_id": "C1", "name": "Ada Lovelace",
                       "vip": True, "account_manager": "1002", "data": {"segment": "enterprise"}}
    assert rows[1]["customer_id"] == "+33700000000"  # defaults to the number
    assert rows[1]["vip"] is False


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name,vip\nAda,yes\n", "line 1: the header needs a 'number' column"),
        ("number,name\n,Ada\n", "line 2: number: empty"),
        ("number,name\n+1,Ada,extra\n", "line 2: more fields than the header"),
    ],
)
def test_bad_files_name_the_line(text: str, words: str) -> None:
    with pytest.raises(CustomerImportError, match=words):
        parse_customers(text, "c.csv")


def test_cli_import_and_reimport(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cti.sqlite"
    config = tmp_path / "site.toml"
    config.write_text(f'[queues.q]\n[store]\nurl = "sqlite+aiosqlite:///{db}"\n',
                      encoding="utf-8")
    data = tmp_path / "customers.csv"
    data.write_text(CSV, encoding="utf-8")
    assert main(["customers", "import", str(data), "--config", str(config)]) == 0
    assert "2 customers imported" in capsys.readouterr().out
    data.write_text("number,name,vip\n+33612345678,Ada L.,no\n", encoding="utf-8")
    assert main(["customers", "import", str(data), "--config", str(config)]) == 0

    async def read() -> object:
        writer = StoreWriter(f"sqlite+aiosqlite:///{db}")
        try:
            return await lookup_customer(writer.engine, "+33612345678")
        finally:
            await writer.engine.dispose()

    record = asyncio.run(read())
    assert record is not None
    assert (record.name, record.vip) == ("Ada L.", False)  # type: ignore[attr-defined]
    data.write_text("number\n\n,\n", encoding="utf-8")
    assert main(["customers", "import", str(data), "--config", str(config)]) == 2
    assert "number: empty" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_the_daemon_attaches_the_record_before_routing(tmp_path: Path) -> None:
    db = tmp_path / "cti.sqlite"
    text = f"""
default_queue = "vip"
customer_lookup = true
lookup_timeout_s = 5
vip_priority_boost = 5
[store]
url = "sqlite+aiosqlite:///{db}"
[queues.vip]
strategy = "preferred-agent"
options = {{ wait_s = 30, fallback = "least-idle" }}
[agents.1001]
queues = ["vip"]
[agents.1002]
queues = ["vip"]
"""
    csv_file = tmp_path / "c.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    runtime = Runtime(parse_settings(text, source="site.toml"))
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    try:
        assert runtime.store is not None
        await import_customers(runtime.store.engine, csv_file)
        earlier = CallRecord("old-1", "+33612345678", "3000", "default", "abandoned", 10.0,
                             40.0, "vip", None, 10.0, None, 30.0, 0.0, 0.0, 0, None, (), {})
        runtime.store.put(CallEnded(earlier))
        assert await runtime.store.flush()
        for agent in ("1001", "1002"):
            runtime.submit(AgentLogin(agent))
            runtime.submit(AgentReady(agent))
        runtime.submit(CallArrived("c1", caller="+33612345678", dialed="3000"))
        for _ in range(200):
            call = runtime.switchboard.calls.get("c1")
            if call is not None and call.agent_id is not None:
                break
            await asyncio.sleep(0.01)
        call = runtime.switchboard.calls["c1"]
        assert call.customer is not None
        assert call.customer.customer_id == "C1"
        assert call.priority == 5  # VIP boost
        assert call.agent_id == "1002"  # the account manager, although 1001 is idle longer
        # The caller's history travels with the call, into the screen pop.
        recent = call.data["recent_calls"]
        assert isinstance(recent, list)
        assert [c["call_id"] for c in recent] == ["old-1"]
        assert recent[0]["disposition"] == "abandoned"
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)
