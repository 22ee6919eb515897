"""IVR flows in the daemon: ``[ivr] flows`` loaded relative to the configuration file (every
problem named with its file, node and what is wrong), and the runtime answering the flows'
lookups from the store's customers and from ``[ivr.sources]``, or failing them with a log line."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from cti.config import ConfigFileError, load_settings, parse_settings
from cti.core import CallArrived, CollectDigits, DigitsEntered, ParkWithMusic, PbxCommand
from cti.runtime import Runtime
from cti.store.customers import import_customers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "ivr" / "examples"

SITE = """
[ivr]
flows = ["flows/water-utility.toml"]
[queues.billing]
[queues.repairs]
[queues.complaints]
[queues.general]
"""


def flows_dir(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("water-utility.toml", "water-utility.prompts.toml"):
        shutil.copy(EXAMPLES / name, flows / name)
    return flows


def test_flows_load_relative_to_the_configuration_file(tmp_path: Path) -> None:
    flows_dir(tmp_path)
    config = tmp_path / "site.toml"
    config.write_text(SITE + '[ivr.sources.bill-status."12345678"]\nstatus = "open"\n',
                      encoding="utf-8")
    settings = load_settings(config)
    flows = settings.switchboard.flows
    assert set(flows) == {"3100", "+18005550100"}
    assert flows["3100"].name == "water-utility"
    assert settings.ivr is not None
    assert settings.ivr.sources == {"bill-status": {"12345678": {"status": "open"}}}


def test_a_site_without_ivr_has_no_flows() -> None:
    settings = parse_settings("[queues.general]\n")
    assert settings.switchboard.flows == {}
    assert settings.ivr is None


def test_a_missing_flow_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(SITE.replace("flows/water-utility.toml", "flows/nope.toml"),
                      encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_settings(config)
    text = str(info.value)
    assert text.startswith(f"{config}: ivr.flows: {tmp_path}/flows/nope.toml: (flow): cannot "
                           "read")


def test_a_bad_flow_is_refused_naming_file_node_and_problem(tmp_path: Path) -> None:
    flows = flows_dir(tmp_path)
    flow = flows / "water-utility.toml"
    flow.write_text(flow.read_text(encoding="utf-8").replace(
        '[nodes.goodbye]\ntype = "hangup"', '[nodes.goodbye]\ntype = "hang-up"'),
        encoding="utf-8")
    config = tmp_path / "site.toml"
    config.write_text(SITE, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_settings(config)
    assert f"ivr.flows: {flow}: goodbye: type: unknown node type 'hang-up'" in str(info.value)


def test_a_flow_naming_a_queue_the_site_lacks_is_refused(tmp_path: Path) -> None:
    flows = flows_dir(tmp_path)
    config = tmp_path / "site.toml"
    config.write_text(SITE.replace("[queues.complaints]\n", ""), encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_settings(config)
    assert str(info.value) == (f"{config}: ivr.flows.3100: {flows}/water-utility.toml: "
                               "complaint: queue: unknown queue 'complaints'")


def test_skill_stages_the_router_cannot_take_are_refused(tmp_path: Path) -> None:
    flows = flows_dir(tmp_path)
    flow = flows / "water-utility.toml"
    flow.write_text(flow.read_text(encoding="utf-8").replace(
        'skills = { repairs = 5 }',
        'skills = [{ after = 30, require = { repairs = 5 } }]'), encoding="utf-8")
    config = tmp_path / "site.toml"
    config.write_text(SITE, encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        load_settings(config)
    assert "leak.skills[0].after: the first stage must start at 0 s" in str(info.value)


LOOKUPS = """
[flow]
start = "who"
numbers = ["4000"]
[nodes.who]
type = "lookup"
source = "customer"
key = "caller"
variable = "cust"
next = "meter"
fallback = "meter"
[nodes.meter]
type = "collect"
prompt = "meter"
variable = "meter"
min_digits = 4
max_digits = 4
next = "bill"
[nodes.bill]
type = "lookup"
source = "bill-status"
key = "meter"
next = "crm"
fallback = "crm"
[nodes.crm]
type = "lookup"
source = "crm"
key = "caller"
next = "line"
fallback = "line"
[nodes.line]
type = "queue"
queue = "billing"
"""


class RecordingPbx:
    """A PBX that only keeps what it was told."""

    def __init__(self) -> None:
        self.commands: list[PbxCommand] = []

    def execute(self, command: PbxCommand) -> None:
        self.commands.append(command)

    async def run(self, runtime: Runtime) -> None:
        await asyncio.Event().wait()


async def until(check: Any) -> None:
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not in time")


@pytest.mark.asyncio
async def test_the_daemon_answers_a_flows_lookups(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "lookups.toml").write_text(LOOKUPS, encoding="utf-8")
    db = tmp_path / "cti.sqlite"
    config = tmp_path / "site.toml"
    config.write_text(f"""
[ivr]
flows = ["lookups.toml"]
[ivr.sources.bill-status."1234"]
status = "overdue"
balance = 84.5
[store]
url = "sqlite+aiosqlite:///{db}"
[queues.billing]
""", encoding="utf-8")
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("number,customer_id,name,vip\n+33612345678,C1,Ada Lovelace,gold\n",
                        encoding="utf-8")
    pbx = RecordingPbx()
    runtime = Runtime(load_settings(config), pbx=pbx)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    try:
        assert runtime.store is not None
        await import_customers(runtime.store.engine, csv_file)
        with caplog.at_level(logging.WARNING, logger="cti.ivr"):
            runtime.submit(CallArrived("c1", caller="+33612345678", dialed="4000"))
            await until(lambda: any(isinstance(c, CollectDigits) for c in pbx.commands))
            ask = next(c for c in pbx.commands if isinstance(c, CollectDigits))
            runtime.submit(DigitsEntered("c1", "1234", ask.step))
            await until(lambda: any(isinstance(c, ParkWithMusic) for c in pbx.commands))
        call = runtime.switchboard.calls["c1"]
        assert call.data["cust"]["name"] == "Ada Lovelace"  # type: ignore[index]
        assert call.data["cust"]["vip"] is True  # type: ignore[index]
        bill = call.data["bill-status"]  # a lookup without a variable keeps its source name
        assert dict(bill) == {"status": "overdue", "balance": 84.5}  # type: ignore[call-overload]
        assert "crm" not in call.data
        assert call.data["ivr_path"] == ("who", "meter", "bill", "crm", "line")
        assert "IVR lookup of source 'crm'" in caplog.text
        assert "[ivr.sources.crm]" in caplog.text
    finally:
        runtime.stop()
        await task
