"""The wallboard in a real browser (headless Chromium, Debian's ``chromium`` and
``chromium-driver``, driven by selenium with nothing downloaded): the daemon runs with the
simulated PBX, the page's figures change as calls flow and match the JSON API once they settle,
a screenshot is kept (``artifacts/``, gitignored, and the test's tmp dir), and after a daemon
restart the page reconnects by itself, with today's figures read back from the store."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cti.config import DaemonModel, HttpModel, Settings, StoreModel, WallboardModel
from cti.runtime import Runtime
from sim.realtime import RealtimePbx
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
SPEED = 40.0

SCENARIO = """
name = "wallboard"
seed = 11
[run]
calls = 45
[arrivals]
rate_per_hour = 480
[queues.sales]
strategy = "skill"
skills = { sales = 3 }
service_level_s = 20
wrap_up_s = 20
[queues.support]
strategy = "least-idle"
skills = { support = 3 }
service_level_s = 30
wrap_up_s = 20
[call_types.sales]
queue = "sales"
share = 0.5
talk = { dist = "exponential", mean = 45 }
wrap_up = { dist = "fixed", value = 5 }
patience = { dist = "exponential", mean = 40 }
[call_types.support]
queue = "support"
share = 0.5
talk = { dist = "exponential", mean = 50 }
wrap_up = { dist = "fixed", value = 8 }
patience = { dist = "exponential", mean = 60 }
[agents.sales]
count = 4
queues = ["sales", "support"]
skills = { sales = 8, support = 3 }
ring_delay = { dist = "uniform", low = 1, high = 3 }
[agents.support]
count = 3
queues = ["support", "sales"]
skills = { support = 8, sales = 4 }
ring_delay = { dist = "uniform", low = 1, high = 3 }
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        message = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1600,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    # The system's chromedriver, named: selenium's manager would otherwise look for one online.
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield session
    finally:
        session.quit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def noon_clock(start: float) -> Callable[[], float]:
    """The daemon's clock, SPEED times faster than life from ``start``: the day the test sees
    is always the same one, whatever the hour it runs at."""
    mono = time.monotonic()
    return lambda: start + SPEED * (time.monotonic() - mono)


# -- the page's figures, read back from their text -------------------------------------------

def number(text: str) -> float | None:
    """A figure as shown ("12", "87.5%", "14 s", "1:05", a dash) as a number (a share,
    seconds)."""
    text = text.strip()
    if text == "\u2013":  # the page's dash: nothing to measure
        return None
    if text.endswith("%"):
        return float(text[:-1]) / 100
    if text.endswith(" s"):
        return float(text[:-2])
    if ":" in text:
        parts = [int(p) for p in text.split(":")]
        return float(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))
    return float(text)


#: How far a shown figure may be from the API's: half of the last digit shown (and a hair).
TOLERANCE = {"service_level": 0.000501, "abandon_rate": 0.000501, "asa_s": 0.501,
             "longest_wait_s": 0.501}

READ_PAGE = """
const out = {at: document.body.dataset.at, badge: document.getElementById('connection')
  .dataset.state, totals: {}, queues: {}, agents: {}, chart: {}};
for (const el of document.querySelectorAll('[data-figure]'))
  out.totals[el.dataset.figure.split(':')[1]] = el.textContent;
for (const card of document.querySelectorAll('[data-queue]')) {
  const q = out.queues[card.dataset.queue] = {};
  for (const el of card.querySelectorAll('[data-f]')) q[el.dataset.f] = el.textContent;
}
for (const card of document.querySelectorAll('[data-agent]')) out.agents[card.dataset.agent] = {
  state: card.querySelector('[data-f=state]').dataset.value,
  calls: card.querySelector('[data-f=calls]').dataset.value};
const svg = document.getElementById('chart');
out.chart = {offered: svg.dataset.offered, intervals: svg.dataset.intervals,
             bars: svg.querySelectorAll('rect.answered, rect.abandoned, rect.other').length};
return out;
"""


def api(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/statistics", timeout=5) as r:
        doc: dict[str, Any] = json.load(r)
    return doc


def expected(q: dict[str, Any]) -> dict[str, Any]:
    return {"waiting": q["waiting"], "longest_wait_s": q["longest_wait_s"],
            "service_level": q["today"]["service_level"], "asa_s": q["today"]["asa_s"],
            "abandon_rate": q["today"]["abandon_rate"], "offered": q["today"]["offered"],
            **q["agents"]}


def assert_figures(shown: dict[str, str], want: dict[str, Any], where: str) -> None:
    for key, value in want.items():
        got = number(shown[key])
        if value is None:
            assert got is None, (where, key, shown[key])
        else:
            assert got == pytest.approx(value, abs=TOLERANCE.get(key, 0)), (where, key,
                                                                            shown[key], value)


@pytest.mark.asyncio
async def test_wallboard_in_a_browser(browser: Any, tmp_path: Path) -> None:
    scenario = parse_scenario(SCENARIO, source="wallboard.toml")
    port = free_port()
    settings = Settings(
        scenario.config, None, DaemonModel(), "wallboard.toml",
        store=StoreModel(url=f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite'}",
                         flush_interval_s=0.2),
        http=HttpModel(port=port, sample_s=0.2),
        wallboard=WallboardModel(title="Lyon contact center", timezone="UTC", interval_min=1),
    )
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    clock = noon_clock(today.timestamp())
    pbx = RealtimePbx(scenario, speed=SPEED, settle_s=0.3)
    runtime = Runtime(settings, pbx=pbx, clock=clock, speed=SPEED)
    task = asyncio.create_task(runtime.run(signals=False))

    async def page() -> dict[str, Any]:
        shown: dict[str, Any] = await asyncio.to_thread(browser.execute_script, READ_PAGE)
        return shown

    async def until(check: Callable[[dict[str, Any]], bool], what: str,
                    timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            shown = await page()
            if check(shown):
                return shown
            assert time.monotonic() < deadline, f"the page never showed {what}: {shown}"
            await asyncio.sleep(0.2)

    artifacts = ROOT / "artifacts"
    try:
        async with asyncio.timeout(10):
            while runtime.http_port is None:
                await asyncio.sleep(0.05)
        await asyncio.to_thread(browser.get, f"http://127.0.0.1:{port}/")
        first = await until(lambda s: s["badge"] == "live", "a live stream")
        # Calls flow: the figures move, the chart grows.
        offered0 = int(first["totals"]["offered"])
        flowing = await until(lambda s: int(s["totals"]["offered"]) >= offered0 + 5,
                              "more calls offered")
        assert int(flowing["chart"]["offered"]) > int(first["chart"]["offered"] or 0)
        assert flowing["agents"]  # the grid fills
        assert "Lyon contact center" in await asyncio.to_thread(lambda: browser.title)
        artifacts.mkdir(exist_ok=True)
        for target in (artifacts / "wallboard-live.png", tmp_path / "wallboard-live.png"):
            await asyncio.to_thread(browser.save_screenshot, str(target))
        # The traffic is over: every figure settles, and the page must show the API's.
        async with asyncio.timeout(60):
            await pbx.finished.wait()
        await asyncio.sleep(0.5)
        doc = await asyncio.to_thread(api, port)
        shown = await until(lambda s: float(s["at"]) >= doc["at"], "the latest document")
        assert_figures(shown["totals"], expected(doc["totals"]), "totals")
        for q in doc["queues"]:
            assert_figures(shown["queues"][q["name"]], expected(q), q["name"])
        for a in doc["agents"]:
            assert shown["agents"][a["id"]] == {"state": a["state"],
                                                "calls": str(a["calls_today"])}
        assert int(shown["chart"]["offered"]) == sum(i["offered"] for i in doc["intervals"])
        assert int(shown["chart"]["offered"]) == doc["totals"]["today"]["offered"] == 45
        assert shown["chart"]["bars"] >= 2
        assert sum(a["calls_today"] for a in doc["agents"]) == \
            doc["totals"]["today"]["answered"]
        await asyncio.to_thread(browser.save_screenshot, str(tmp_path / "wallboard-end.png"))
        # A restart: the page says it lost the daemon, then finds the next one by itself,
        # which reads today's calls back from the store.
        runtime.stop()
        await asyncio.wait_for(task, 20)
        await until(lambda s: s["badge"] in ("reconnecting", "stale"), "the lost daemon")
        runtime = Runtime(settings, clock=noon_clock(clock()), speed=SPEED)
        task = asyncio.create_task(runtime.run(signals=False))
        again = await until(lambda s: s["badge"] == "live" and float(s["at"]) > doc["at"],
                            "the restarted daemon", timeout=20)
        assert int(again["totals"]["offered"]) == doc["totals"]["today"]["offered"]
        for q in doc["queues"]:
            shown_q = again["queues"][q["name"]]
            assert number(shown_q["offered"]) == q["today"]["offered"]
            assert number(shown_q["service_level"]) == pytest.approx(
                q["today"]["service_level"], abs=TOLERANCE["service_level"])
            assert number(shown_q["ready"]) == 0  # nobody logged in to the new daemon yet
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 20)
