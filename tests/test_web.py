"""The daemon's HTTP server: the bearer token beyond this machine, ``[http]`` and its
``[metrics]`` alias, the JSON API and its live stream, and the day's ledger. The statistics
are snapshots the server takes itself: events do not make it take any."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer, make_mocked_request
from pydantic import ValidationError

from cti.config import ConfigFileError, HttpModel, parse_settings
from cti.core import AgentLogin, AgentReady, CallArrived
from cti.runtime import Runtime
from cti.web import build_app, is_local
from cti.web.ledger import DayLedger
from cti.web.live import LiveFeed

TOKEN = "s3cret-token-0123456789"
CONFIG = """
site = "lyon"
default_queue = "sales"
[queues.sales]
service_level_s = 20
[agents.1001]
name = "Alice Martin"
queues = ["sales"]
"""


def settings(extra: str = "", env: dict[str, str] | None = None) -> object:
    return parse_settings(CONFIG + extra, source="site.toml", environ=env or {})


def test_beyond_this_machine_a_token_is_required() -> None:
    with pytest.raises(ConfigFileError, match=r"http\.token: .*needs a bearer token"):
        parse_settings(CONFIG + '[http]\nhost = "0.0.0.0"\n', source="site.toml", environ={})
    s = parse_settings(CONFIG + '[http]\nhost = "0.0.0.0"\n', source="site.toml",
                       environ={"CTI_HTTP_TOKEN": TOKEN})
    assert s.http is not None
    assert s.http.token == TOKEN
    assert TOKEN not in repr(s.http)  # never in a log line
    local = parse_settings(CONFIG + "[http]\nport = 0\n", source="site.toml", environ={})
    assert local.http is not None
    assert local.http.token is None


def test_metrics_section_is_an_alias_of_http() -> None:
    s = parse_settings(CONFIG + "[metrics]\nport = 9464\n", source="site.toml", environ={})
    assert s.http is not None
    assert (s.http.host, s.http.port) == ("127.0.0.1", 9464)
    with pytest.raises(ConfigFileError, match=r"metrics: merged into \[http\]"):
        parse_settings(CONFIG + "[metrics]\nport = 1\n[http]\nport = 2\n", source="site.toml",
                       environ={})
    with pytest.raises(ConfigFileError, match="must divide the day"):
        parse_settings(CONFIG + "[wallboard]\ninterval_min = 7\n", source="site.toml",
                       environ={})
    with pytest.raises(ConfigFileError, match="unknown time zone"):
        parse_settings(CONFIG + '[wallboard]\ntimezone = "Mars/Olympus"\n', source="site.toml",
                       environ={})


def test_loopback_addresses() -> None:
    assert is_local("127.0.0.1")
    assert is_local("127.8.9.10")
    assert is_local("::1")
    assert is_local("::ffff:127.0.0.1")
    assert not is_local("192.0.2.7")
    assert not is_local("2001:db8::1")
    assert not is_local(None)
    assert not is_local("not an address")


@pytest_asyncio.fixture
async def runtime() -> AsyncIterator[Runtime]:
    text = CONFIG + f'[http]\nhost = "0.0.0.0"\ntoken = "{TOKEN}"\nsample_s = 0.1\n'
    rt = Runtime(parse_settings(text, source="site.toml", environ={}))
    yield rt


@pytest.mark.asyncio
async def test_remote_clients_need_the_bearer_token(runtime: Runtime) -> None:
    assert runtime.settings.http is not None
    app = build_app(runtime, runtime.settings.http, LiveFeed(runtime, 0.1))
    app.freeze()
    handler = app._handle  # the app's whole pipeline: middlewares, then the route

    async def status(path: str, peer: str, headers: dict[str, str] | None = None) -> int:
        # A request from another machine, made in this process: no traffic leaves it.
        request = make_mocked_request("GET", path, headers=headers or {}, app=app
                                      ).clone(remote=peer)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            return exc.status
        return response.status

    remote = "198.51.100.20"
    assert await status("/api/v1/statistics", "127.0.0.1") == 200
    assert await status("/api/v1/statistics", remote) == 401
    assert await status("/metrics", remote) == 401
    assert await status("/api/v1/statistics", remote, {"Authorization": "Bearer nope"}) == 401
    assert await status("/api/v1/statistics", remote,
                        {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert await status(f"/metrics?token={TOKEN}", remote) == 200
    assert await status(f"/?token={TOKEN}", remote) == 200


@pytest.mark.asyncio
async def test_api_and_stream_read_snapshots_at_their_own_pace(runtime: Runtime) -> None:
    assert runtime.settings.http is not None
    feed = LiveFeed(runtime, 0.1)
    server = TestServer(build_app(runtime, runtime.settings.http, feed), host="127.0.0.1")
    await server.start_server()
    try:
        # Events: none of them makes the server take a snapshot.
        runtime.submit(AgentLogin("1001"))
        runtime.submit(AgentReady("1001"))
        for i in range(50):
            runtime.submit(CallArrived(f"c{i}", caller="+33612345678", dialed="3000"))
        assert feed.snapshots == 0
        async with ClientSession() as http:
            base = f"http://127.0.0.1:{server.port}"
            async with http.get(f"{base}/api/v1/statistics") as r:
                assert r.status == 200
                doc = await r.json()
            assert feed.snapshots == 1
            sales = doc["queues"][0]
            assert sales["name"] == "sales"
            assert sales["today"]["offered"] == 50
            assert sales["waiting"] == 49  # one is ringing the only agent
            assert sales["agents"] == {"ready": 0, "on_call": 1, "wrap_up": 0, "not_ready": 0}
            assert sales["longest_wait_s"] >= 0
            assert doc["agents"][0]["name"] == "Alice Martin"
            assert doc["wallboard"]["thresholds"]["service_level"] == {"amber": 0.8,
                                                                       "red": 0.7}
            async with http.get(f"{base}/api/v1/queues") as r:
                assert (await r.json())["queues"][0]["name"] == "sales"
            async with http.get(f"{base}/metrics") as r:
                assert 'cti_calls_offered_total{queue="sales"} 50.0' in await r.text()
            async with http.get(f"{base}/") as r:
                assert "wallboard.js" in await r.text()
            async with http.get(f"{base}/static/wallboard.js") as r:
                assert r.status == 200
            sampler = asyncio.create_task(feed.run())
            try:
                async with http.get(f"{base}/api/v1/stream") as r:
                    assert r.headers["Content-Type"] == "text/event-stream"
                    events = []
                    async for line in r.content:
                        if line.startswith(b"data: "):
                            events.append(json.loads(line[6:]))
                            if len(events) == 3:
                                break
                assert events[0]["at"] < events[2]["at"]  # a new snapshot for each
                assert events[-1]["totals"]["today"]["offered"] == 50
                async with asyncio.timeout(5):  # the stream ends with its client
                    while feed.streams:
                        await asyncio.sleep(0.05)
            finally:
                sampler.cancel()
    finally:
        await server.close()


def test_ledger_marks_intervals_and_days() -> None:
    from cti.core import Switchboard
    from cti.core.events import AgentLegAnswered, CallHungUp

    cfg = parse_settings(CONFIG, source="site.toml", environ={}).switchboard
    t0 = 86_400.0 * 20_000 + 3600 * 9  # 09:00 UTC on some day
    sb = Switchboard(cfg, now=t0)
    ledger = DayLedger(1800.0, None)
    from zoneinfo import ZoneInfo
    ledger.zone = ZoneInfo("UTC")

    def call(i: int, at: float) -> None:
        sb.handle(CallArrived(f"c{i}", caller="+1", dialed="3000"), at)
        sb.handle(AgentLegAnswered(f"c{i}", "1001"), at + 5)
        sb.handle(CallHungUp(f"c{i}"), at + 60)
        ledger.update(sb.statistics(at + 60))

    sb.handle(AgentLogin("1001"), t0)
    sb.handle(AgentReady("1001"), t0)
    ledger.update(sb.statistics(t0))
    call(1, t0 + 100)
    from cti.core import WrapUpDone
    sb.handle(WrapUpDone("1001"), t0 + 200)
    ledger.update(sb.statistics(t0 + 1800))  # the sampler is there at each boundary
    call(2, t0 + 1900)  # the next half hour
    sb.handle(WrapUpDone("1001"), t0 + 2000)
    ledger.update(sb.statistics(t0 + 2000))
    intervals = ledger.intervals()
    assert len(intervals) == 20  # 00:00 to 09:30
    assert [per["sales"][0] for _, per in intervals[18:]] == [1, 1]
    assert ledger.today()["sales"][1] == 2  # answered
    assert ledger.agent_today("1001")[1] == 2
    # Midnight: today starts again from the counters as they stand.
    ledger.update(sb.statistics(t0 + 86_400))
    assert ledger.today()["sales"][0] == 0
    assert len(ledger.intervals()) == 19


def test_tokens_are_not_short() -> None:
    with pytest.raises(ValidationError):
        HttpModel(token="short")
    with pytest.raises(ConfigFileError, match="CTI_HTTP_TOKEN: at least 16 characters"):
        parse_settings(CONFIG + "[http]\n", source="site.toml", environ={"CTI_HTTP_TOKEN": "x"})
