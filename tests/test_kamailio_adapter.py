"""The Kamailio adapter's link under bad input, against a stand-in for Kamailio's evapi socket
(a TCP server in the test): malformed JSON is counted and the link stays up; a broken
netstring resets the link, which reconnects, and the calls it held end in the switchboard; a
Kamailio that goes away is reconnected to, and one that stops reading gets its link reset."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.kamailio import NetstringDecoder, encode
from adapters.kamailio.adapter import KamailioAdapter
from adapters.kamailio.link import EvapiLink
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, AgentState
from cti.pbx import pbx_link
from cti.runtime import Runtime

pytestmark = pytest.mark.asyncio


class FakeKamailio:
    """Accepts the ACD's connections; ``send`` writes frames to the latest one and
    ``received`` collects what the ACD sent on any."""

    def __init__(self) -> None:
        self.connections: list[asyncio.StreamWriter] = []
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)
        decoder = NetstringDecoder()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    await self.received.put(json.loads(frame))

    def send(self, data: bytes) -> None:
        self.connections[-1].write(data)

    def event(self, **message: Any) -> None:
        self.send(encode(json.dumps(message).encode()))

    async def close(self) -> None:
        assert self.server is not None
        for writer in self.connections:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def daemon() -> AsyncIterator[tuple[Runtime, KamailioAdapter, FakeKamailio]]:
    kam = FakeKamailio()
    await kam.start()
    settings = parse_settings(f"""
[numbers]
"100" = "sales"
[queues.sales]
[agents.a1]
endpoint = "sip:1001@127.0.0.1:5090"
queues = ["sales"]
[kamailio]
port = {kam.port}
reconnect_max_s = 0.2
""", source="test.toml")
    pbx = pbx_link(settings)
    assert isinstance(pbx, KamailioAdapter)
    runtime = Runtime(settings, pbx=pbx)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await asyncio.wait_for(ready.wait(), 5)
    await asyncio.wait_for(pbx.link.connected.wait(), 5)
    runtime.submit(AgentLogin("a1"))
    runtime.submit(AgentReady("a1"))
    try:
        yield runtime, pbx, kam
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)
        await kam.close()


def route(call_id: str, tlabel: int = 1) -> dict[str, Any]:
    return {"event": "route", "call_id": call_id, "cseq": "1", "from": "sip:4420@192.0.2.9",
            "ruri": "sip:100@127.0.0.1", "headers": "X-CTI-Account: 7", "tindex": 1,
            "tlabel": tlabel}


async def test_malformed_messages_are_counted_and_the_link_stays_up() -> None:
    async with daemon() as (runtime, pbx, kam):
        kam.send(encode(b"{not json") + encode(b'{"event":"mystery"}') + encode(b"[]"))
        kam.event(**route("c1"))
        action = await asyncio.wait_for(kam.received.get(), 5)
        assert (action["action"], action["call_id"], action["agent"]) == ("route", "c1", "a1")
        assert pbx.router.statistics().malformed == 3
        assert pbx.link.connects == 1
        assert runtime.switchboard.agents["a1"].state is AgentState.RINGING
        kam.event(event="answered", call_id="c1", agent="a1")
        await asyncio.sleep(0.05)
        assert runtime.switchboard.agents["a1"].state is AgentState.ON_CALL


async def test_a_broken_netstring_resets_the_link_and_the_calls_it_held_end() -> None:
    async with daemon() as (runtime, pbx, kam):
        kam.event(**route("c1"))
        await asyncio.wait_for(kam.received.get(), 5)
        kam.event(event="answered", call_id="c1", agent="a1")
        kam.send(b"12x:garbage")
        for _ in range(100):
            if pbx.link.connects == 2 and pbx.link.connected.is_set():
                break
            await asyncio.sleep(0.02)
        assert pbx.link.framing_errors == 1
        assert pbx.link.connects == 2
        # Nothing it held could be trusted to end: ended, and the agent is free (wrap-up).
        assert not runtime.switchboard.calls
        assert runtime.switchboard.agents["a1"].state is AgentState.WRAP_UP
        kam.event(**route("c2", tlabel=2))
        await asyncio.sleep(0.05)
        assert runtime.switchboard.arrived == 2


async def test_kamailio_going_away_is_survived() -> None:
    async with daemon() as (_runtime, pbx, kam):
        assert kam.server is not None
        kam.server.close()
        await kam.server.wait_closed()
        kam.connections[-1].close()
        for _ in range(100):
            if not pbx.link.connected.is_set():
                break
            await asyncio.sleep(0.02)
        # Without a link the ACD's answers are dropped (counted), not kept for a later one.
        assert not pbx.link.send(b"{}")
        assert pbx.link.dropped_out == 1
        kam.server = await asyncio.start_server(kam._serve, "127.0.0.1", kam.port)
        await asyncio.wait_for(pbx.link.connected.wait(), 5)
        assert pbx.link.connects == 2
        kam.event(**route("c1"))
        action = await asyncio.wait_for(kam.received.get(), 5)
        assert action["call_id"] == "c1"
        assert pbx.internal_errors == 0


async def test_a_kamailio_that_stops_reading_gets_its_link_reset() -> None:
    stuck: list[asyncio.StreamWriter] = []

    async def never_read(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stuck.append(writer)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    downs: list[None] = []
    link = EvapiLink("127.0.0.1", port, on_frame=lambda _f: None,
                     on_down=lambda: downs.append(None), backoff_max_s=0.1)
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 5)
        payload = b"x" * 30_000
        for _ in range(2000):  # far more than the kernel's buffers and the 4 MiB backlog
            if not link.send(payload):
                break
        else:
            pytest.fail("the backlog never tripped")
        for _ in range(100):
            if link.connects == 2:
                break
            await asyncio.sleep(0.02)
        assert downs
        assert link.connects == 2
        assert link.dropped_out == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for writer in stuck:
            writer.close()
        server.close()
        await server.wait_closed()
