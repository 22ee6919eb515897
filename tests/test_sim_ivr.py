"""The simulator with callers in an IVR flow: the water utility's scenario reports containment,
time in the IVR and IVR abandonment; callers' keys follow the menus' probabilities; the same
seed gives the same results; a flow present but unused changes no byte of a report; the
real-time PBX plays the flow through the daemon; and ``[ivr_callers]`` mistakes are named."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import ivr
from cti.cli import main
from cti.config import DaemonModel, Settings
from cti.runtime import Runtime
from sim.realtime import RealtimePbx
from sim.runner import Simulation, run
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
WATER = ROOT / "sim" / "scenarios" / "water-utility.toml"
IVR_KEYS = {"ivr_entered", "ivr_self_service", "ivr_failed", "ivr_abandoned",
            "ivr_containment", "ivr_abandon_rate", "ivr_mean_time_s"}


def without_wall(doc: dict[str, Any]) -> dict[str, Any]:
    doc.pop("wall_s")
    doc.pop("calls_per_s")
    return doc


def test_the_water_utility_reports_containment_and_time_in_the_ivr() -> None:
    scenario = load_scenario(WATER)
    sim = Simulation(scenario, keep_records=True)
    doc = sim.run().as_dict()
    assert set(doc) >= IVR_KEYS
    assert doc["ivr_entered"] == len(sim.records)  # every caller meets the flow
    assert doc["ivr_containment"] > 0.1
    assert doc["ivr_mean_time_s"] > 10
    assert 0 < doc["ivr_abandon_rate"] < 0.2
    assert set(doc["ci95"]) >= {"ivr_containment", "ivr_abandon_rate", "ivr_mean_time_s"}
    for name, queue in doc["queues"].items():
        assert set(queue) >= IVR_KEYS, name
    # Every call either left the flow for a queue (and counts there) or ended in it.
    ended_in_flow = sum(1 for r in sim.records if r.data.get("ivr_exit") != "queued"
                        and r.data.get("ivr_exit") != "callback")
    assert doc["offered"] + ended_in_flow == len(sim.records)
    assert doc["offered"] == sum(q["offered"] for q in doc["queues"].values())
    self_service = [r for r in sim.records if r.disposition == "self-service"]
    assert len(self_service) == doc["ivr_self_service"]
    assert all(r.queue is None and "bill" in r.data for r in self_service)
    complaints = doc["queues"]["complaints"]
    assert complaints["offered"] == 0 < complaints["ivr_entered"]  # voicemail from the flow


def test_the_table_shows_the_ivr_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", str(WATER), "--calls", "400", "--no-progress"]) == 0
    out = capsys.readouterr().out
    for row in ("IVR entered", "IVR containment", "time in IVR (mean)", "IVR abandon rate"):
        assert row in out


def next_after_main(path: tuple[str, ...]) -> str | None:
    if "main" not in path:
        return None
    i = path.index("main")
    return path[i + 1] if i + 1 < len(path) else None


def test_callers_keys_follow_the_menus_probabilities() -> None:
    scenario = load_scenario(WATER).with_run(calls=6000)
    sim = Simulation(scenario, keep_records=True)
    sim.run()
    plan = scenario.ivr_callers
    assert plan is not None
    outcomes, cum = plan.menus["main"]
    p = dict(zip(outcomes, [b - a for a, b in zip((0.0, *cum), cum, strict=False)],
                 strict=True))
    # A key that is no choice (7) or none at all asks again, three attempts in all; after the
    # last, the menu's default is an agent.
    again = p["7"] + (1 - cum[-1])
    attempts = 1 + again + again**2
    expected = {"bill-meter": p["1"] * attempts, "leak": p["2"] * attempts,
                "complaint": p["3"] * attempts, "to-agent": p["0"] * attempts + again**3}
    total = sum(expected.values())
    seen = [next_after_main(r.data["ivr_path"]) for r in sim.records]  # type: ignore[arg-type]
    chose = [s for s in seen if s is not None]
    assert len(chose) > 5000
    for node, share in expected.items():
        observed = chose.count(node) / len(chose)
        assert observed == pytest.approx(share / total, abs=0.025), node
    # Callers who give up: the share who hang up at the first menu, and the menu's hangup.
    rate = sum(1 for r in sim.records if r.disposition == "ivr-abandoned") / len(sim.records)
    give_up = plan.hangup_share + (1 - plan.hangup_share) * p["hangup"] * attempts
    assert rate == pytest.approx(give_up, abs=0.012)


def test_the_same_seed_gives_the_same_ivr_results() -> None:
    scenario = load_scenario(WATER).with_run(calls=800)
    a = without_wall(run(scenario).as_dict(agents=True))
    b = without_wall(run(scenario).as_dict(agents=True))
    assert a == b
    c = without_wall(run(scenario.with_run(seed=8)).as_dict())
    assert c["ivr_containment"] != a["ivr_containment"]


PLAIN = """
seed = 11
[run]
calls = 3000
warmup_s = 300
batches = 10
[arrivals]
rate_per_hour = 400
[queues.sales]
wrap_up_s = 30
max_wait_s = 120
on_max_wait = "voicemail"
[queues.support]
strategy = "skill"
skills = [{ after = 0, require = { support = 7 } }, { after = 20, require = { support = 3 } }]
[call_types.sales]
queue = "sales"
share = 2
dialed = "3100"
talk = { dist = "lognormal", mean = 200, cv = 1.2 }
patience = { dist = "exponential", mean = 150 }
[call_types.support]
queue = "support"
talk = { dist = "exponential", mean = 300 }
patience = { dist = "gamma", mean = 200, cv = 0.8 }
[agents.senior]
count = 6
queues = ["sales", "support"]
skills = { support = 8 }
ring_delay = { dist = "uniform", low = 1, high = 4 }
no_answer_p = 0.05
[agents.junior]
count = 10
queues = ["sales", "support"]
skills = { support = 4 }
"""

UNUSED = ivr.parse_flow("""
[flow]
start = "menu"
[nodes.menu]
type = "menu"
prompt = "menu"
choices = { "1" = "sales" }
[nodes.sales]
type = "queue"
queue = "sales"
""")


def with_flows(scenario: Scenario, flows: dict[str, ivr.Flow]) -> Scenario:
    return dataclasses.replace(scenario, config=dataclasses.replace(scenario.config,
                                                                    flows=flows))


def test_a_flow_present_but_unused_changes_no_byte_of_the_report() -> None:
    scenario = parse_scenario(PLAIN, source="plain.toml")
    assert scenario.config.flows == {}
    before = json.dumps(without_wall(run(scenario).as_dict(agents=True)))
    # The flow's number is one the calls dial, but they arrive routed to their queue (as a
    # PBX that ran its own IVR sends them); and one nobody dials.
    for number in ("3100", "9999"):
        after = json.dumps(without_wall(run(with_flows(scenario, {number: UNUSED}))
                                        .as_dict(agents=True)))
        assert after == before
    assert "ivr" not in before


@pytest.mark.parametrize(
    ("extra", "entry", "words"),
    [
        ("[ivr_callers]\nhangup_share = 0.1\n", "ivr_callers", "need the flow"),
    ],
)
def test_ivr_callers_need_a_flow(extra: str, entry: str, words: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(PLAIN + extra, source="x.toml")
    assert f"x.toml: {entry}: " in str(info.value)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "entry", "words"),
    [
        ("menus.main]", "menus.mian]", "ivr_callers.menus.mian", "no menu node"),
        ('"2" = 0.20', '"2" = 0.50', "ivr_callers.menus.main", "add up to 1.25"),
        ('"7" = 0.03', '"x" = 0.03', "ivr_callers.menus.main.x", "keypad"),
        ("collect.bill-meter]", "collect.main]", "ivr_callers.collect.main", "no collect node"),
        ('digits = ["12345678"', 'digits = ["12ab"', "ivr_callers.collect.bill-meter.digits[0]",
         "keypad"),
        ("hangup_share = 0.03", 'trunk = "pstn"', "ivr_callers.trunk", "unknown trunk"),
        ('fixtures = "../../ivr/examples/water-utility.fixtures.toml"', 'fixtures = "nope.toml"',
         "ivr_callers.fixtures", "nope.toml"),
    ],
)
def test_ivr_caller_mistakes_are_named(old: str, new: str, entry: str, words: str,
                                       tmp_path: Path) -> None:
    text = WATER.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new).replace('"../../ivr/examples/', f'"{ROOT}/ivr/examples/')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert f"{bad}: {entry}: " in str(info.value)
    assert words in str(info.value)


@pytest.mark.asyncio
async def test_the_realtime_pbx_plays_the_flow_through_the_daemon() -> None:
    scenario = load_scenario(WATER)
    settings = Settings(scenario.config, None, DaemonModel(shutdown_flush_s=0), "test")
    pbx = RealtimePbx(scenario, speed=3000, calls=80)
    runtime = Runtime(settings, pbx=pbx, speed=3000)
    task = asyncio.create_task(runtime.run(signals=False))
    async with asyncio.timeout(60):
        await pbx.finished.wait()
    runtime.stop()
    await task
    sb = runtime.switchboard
    assert sb.arrived == 80
    assert sum(sb.ended.values()) == 80  # every call ended, once
    assert sb.ended["self-service"] > 0
    assert sb.ended["answered"] > 0
    assert sb.calls == {}
    assert sb._ivr.runs == {}
