"""``cti report`` against the simulator: a simulated day written to the store (SQLite, and the
machine's PostgreSQL) reads back with the simulator's own figures for that day, the same calls
under the same definitions; and with the switchboard's live statistics where the simulator does
not report a figure (not ready by reason) or books it otherwise (see ``test_day_with_breaks``)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cti.cli import main
from cti.report import ALL, Report, Site, compute_report, parse_period
from cti.report.command import database_url
from cti.report.period import PeriodError
from cti.report.simulated import recording_simulation, write_day
from sim.runner import Simulation
from sim.scenario import Scenario, parse_scenario
from sim.stats import QueueReport
from sim.stats import Report as SimReport

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
UTC = ZoneInfo("UTC")

DAY = """
name = "report-day"
seed = 3
service_level_s = 20
[run]
hours = 24
start = "00:00"
batches = 4
[arrivals]
interval_s = 3600
profile_per_hour = [0,0,0,0,0,0,0,20,80,120,120,100,90,100,120,110,90,60,20,0,0,0,0,0]
[queues.billing]
strategy = "skill"
skills = [{ after = 0, require = { billing = 7 } }, { after = 30, require = { billing = 3 } }]
service_level_s = 20
wrap_up_s = 30
ring_timeout_s = 15
[queues.repairs]
strategy = "least-idle"
skills = { repairs = 3 }
service_level_s = 30
wrap_up_s = 40
[call_types.billing]
queue = "billing"
share = 0.6
talk = { dist = "lognormal", mean = 200, cv = 0.8 }
wrap_up = { dist = "exponential", mean = 20 }
patience = { dist = "exponential", mean = 120 }
[call_types.repairs]
queue = "repairs"
share = 0.4
talk = { dist = "lognormal", mean = 240, cv = 1.0 }
wrap_up = { dist = "fixed", value = 25 }
patience = { dist = "exponential", mean = 200 }
[agents.billing]
count = 5
queues = ["billing", "repairs"]
skills = { billing = 8, repairs = 3 }
ring_delay = { dist = "uniform", low = 1, high = 5 }
no_answer_p = 0.03
%(billing_shifts)s
[agents.repairs]
count = 4
queues = ["repairs", "billing"]
skills = { repairs = 8, billing = 4 }
ring_delay = { dist = "uniform", low = 1, high = 5 }
%(repairs_shifts)s
"""

PLAIN = DAY % {"billing_shifts": "", "repairs_shifts": ""}
WITH_BREAKS = DAY % {
    "billing_shifts": 'shifts = [["07:00", "12:30"], ["13:30", "19:00"]]\n'
                      'breaks = [{ at = "10:30", minutes = 15, reason = "break" }]',
    "repairs_shifts": 'shifts = [["07:00", "19:00"]]\n'
                      'breaks = [{ at = "12:00", minutes = 30, reason = "lunch" }]',
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest,
              tmp_path: Path) -> Iterator[tuple[str, dict[str, object]]]:
    """A store URL and its connect arguments: a SQLite file, or a schema of our own in the
    machine's PostgreSQL (skipped where none is reachable, a failure under CI)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'day.sqlite'}", {}
        return
    schema = f"cti_report_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        asyncio.run(admin(f"CREATE SCHEMA {schema}"))
    except (OSError, Exception) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    try:
        yield PG, {"server_settings": {"search_path": schema}}
    finally:
        asyncio.run(admin(f"DROP SCHEMA {schema} CASCADE"))


def simulate(text_: str, url: str, connect_args: dict[str, object]
             ) -> tuple[Scenario, Simulation, Report, SimReport]:
    scenario = parse_scenario(text_, source="day.toml")
    simulation = recording_simulation(scenario)
    sim_report = simulation.run()

    async def store_and_read() -> Report:
        await write_day(url, simulation.records, simulation.states, connect_args=connect_args)
        engine = create_async_engine(url, connect_args=connect_args)
        try:
            period = parse_period("1970-01-01", None, "1d", UTC, now=time.time())
            return await compute_report(engine, period, site=Site.of(scenario.config))
        finally:
            await engine.dispose()

    return scenario, simulation, asyncio.run(store_and_read()), sim_report


def same(ours: float | int | None, theirs: float) -> bool:
    return ours is not None and ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def check_counts(theirs: QueueReport, figures: dict[str, float | int | None]) -> None:
    for key in ("offered", "answered", "abandoned", "blocked", "rejected"):
        assert figures[key] == getattr(theirs, key), key
    assert figures["diverted"] == theirs.diverted
    assert theirs.in_progress == 0  # the day drained: every call has its record


def test_day_equals_the_simulators_statistics(store_url: tuple[str, dict[str, object]]) -> None:
    scenario, _, report, sim_report = simulate(PLAIN, *store_url)
    pairs = [(q, sim_report.queues[q]) for q in ("billing", "repairs")]
    pairs.append((ALL, sim_report.overall))
    assert pairs[-1][1].offered > 1000
    for key, theirs in pairs:
        figures = report.totals[key].figures()
        check_counts(theirs, figures)
        for ours, name in (("service_level", "service_level"), ("asa_s", "asa_s"),
                           ("abandon_rate", "p_abandon"), ("aht_s", "aht_s"),
                           ("occupancy", "occupancy")):
            assert same(figures[ours], theirs.figures[name]), (key, ours)
    assert scenario.config.queues[0].service_level_s == 20  # thresholds came from the site


def test_day_with_breaks(store_url: tuple[str, dict[str, object]]) -> None:
    """Shifts and breaks: agents log out or go on a break in the middle of a wrap-up. The
    report (like the switchboard's own counters) books the wrap-up that was, the simulator's
    tally the one drawn for the call (up to the queue's limit): there AHT is checked against the
    switchboard's statistics, and so is not-ready time by reason, which the simulator does not
    report."""
    _, simulation, report, sim_report = simulate(WITH_BREAKS, *store_url)
    # The run ends at the last event, after midnight (the next shifts' logins).
    live = simulation.sb.statistics(max(a.since for a in simulation.sb.agents.values()))
    for q in ("billing", "repairs"):
        theirs = sim_report.queues[q]
        figures = report.totals[q].figures()
        check_counts(theirs, figures)
        for ours, name in (("service_level", "service_level"), ("asa_s", "asa_s"),
                           ("abandon_rate", "p_abandon"), ("occupancy", "occupancy")):
            assert same(figures[ours], theirs.figures[name]), (q, ours)
        counters = live.queues[q]
        assert counters.handled == figures["answered"]
        assert same(figures["aht_s"], (counters.talk_s + counters.wrap_up_s) / counters.handled)
        assert figures["aht_s"] <= theirs.figures["aht_s"]  # cut-short wrap-ups, if any
    by_reason: dict[str, float] = {}
    for a in live.agents.values():
        for reason, secs in a.not_ready_s.items():
            by_reason[reason] = by_reason.get(reason, 0.0) + secs
    overall = report.totals[ALL].agents
    assert overall is not None
    assert set(overall.not_ready_s) >= {"break", "lunch"}
    for reason, secs in by_reason.items():
        assert same(overall.not_ready_s.get(reason, 0.0), secs), reason


def test_intervals_add_up_and_the_cli_formats(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "day.sqlite"
    scenario = parse_scenario(PLAIN, source="day.toml")
    simulation = recording_simulation(scenario)
    simulation.run()
    day = "2026-03-02"
    start = parse_period(day, None, "1d", UTC, now=time.time()).start
    asyncio.run(write_day(f"sqlite+aiosqlite:///{db}", simulation.records, simulation.states,
                          day_start=start))
    args = ["report", "--db", str(db), "--from", day, "--tz", "UTC"]
    assert main([*args, "--interval", "30m", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["intervals"]) == 48
    total = doc["totals"]["(all)"]
    assert total["offered"] == len(simulation.records)
    assert sum(i["rows"]["(all)"]["offered"] for i in doc["intervals"]) == total["offered"]
    assert sum(i["rows"].get("billing", {}).get("answered", 0) for i in doc["intervals"]) \
        == doc["totals"]["billing"]["answered"]
    assert doc["definitions"]["service_level"] == "answered within the queue's threshold / " \
                                                  "offered"
    # Without the site's configuration: no per-queue occupancy, overall occupancy still known.
    assert doc["totals"]["billing"]["occupancy"] is None
    assert total["occupancy"] is not None
    assert main([*args, "--interval", "1h", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["queue"] for r in rows} == {"billing", "repairs", "(all)"}
    assert main([*args, "--by", "agent", "--plot", str(tmp_path / "day.png")]) == 0
    out = capsys.readouterr().out
    assert "billing-1" in out
    assert "occupancy" in out
    assert (tmp_path / "day.png").stat().st_size > 10_000
    assert main([*args, "--interval", "1h"]) == 0
    table = capsys.readouterr().out
    assert "service level = answered within the queue's threshold / offered" in table
    assert "2026-03-02 09:00" in table


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no database" in capsys.readouterr().err
    db = tmp_path / "x.sqlite"
    db.touch()
    assert main(["report", "--db", str(db), "--from", "yesterday"]) == 2
    assert "is not a date" in capsys.readouterr().err
    assert main(["report", "--db", str(db), "--tz", "Mars/Olympus"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
    assert main(["report", "--db", str(db), "--from", "2026-01-01"]) == 2  # no tables
    assert "cannot read" in capsys.readouterr().err


def test_periods_follow_local_days() -> None:
    paris = ZoneInfo("Europe/Paris")
    now = time.time()
    # The clocks go forward on 2026-03-29 in Paris: a 23-hour day of 46 half hours.
    p = parse_period("2026-03-29", None, "30m", paris, now=now)
    assert p.end - p.start == 23 * 3600
    assert len(p.bounds) - 1 == 46
    week = parse_period("2026-03-23", "2026-03-29", "1d", paris, now=now)
    assert len(week.bounds) - 1 == 7  # --to is included
    part = parse_period("2026-03-02T08:00", "2026-03-02T12:00", "1h", UTC, now=now)
    assert len(part.bounds) - 1 == 4
    assert part.spans(part.start - 100, part.start + 5400) == [(0, 3600.0), (1, 1800.0)]
    with pytest.raises(PeriodError):
        parse_period("2026-03-02", "2026-03-01", "1d", UTC, now=now)
    assert database_url("x.sqlite") == "sqlite+aiosqlite:///x.sqlite"
    assert database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"


def test_cti_sim_writes_a_day_for_cti_report(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "day.toml"
    scenario.write_text(PLAIN.replace("hours = 24", "hours = 10").replace('"00:00"', '"08:00"'))
    db = tmp_path / "sim.sqlite"
    assert main(["sim", str(scenario), "--store", str(db), "--date", "2026-03-02",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    simulated = json.loads(out)
    assert f"cti report --db {db} --from 2026-03-02" in err
    assert main(["report", "--db", str(db), "--from", "2026-03-02", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["(all)"]["offered"] == simulated["offered"]
    assert doc["totals"]["(all)"]["answered"] == simulated["answered"]
    assert main(["sim", str(scenario), "--store", str(db), "--strategy", "a,b"]) == 2
