"""The daemon's runtime against a real Mosquitto: agent commands with MQTT 5 replies, screen pops
while the agent's phone rings, the switchboard's timers on the loop's clock, and a clean stop
that publishes every agent's final state."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from mqtt_broker import Mosquitto
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, CallArrived, CancelOffer, ConnectAgent, PbxCommand
from cti.runtime import GC_THRESHOLDS, Runtime

CONFIG = """
site = "lyon"
default_queue = "sales"
[bus]
port = {port}
format = "json"
[daemon]
shutdown_flush_s = 3
[queues.sales]
ring_timeout_s = 0.4
[agents.1001]
queues = ["sales"]
[ring]
reserve_timeout_s = 0.5
retry_s = {{ no-answer = 60 }}
"""


class RecordingPbx:
    """Stands where an adapter will: records the commands, sends nothing back by itself."""

    def __init__(self) -> None:
        self.commands: list[PbxCommand] = []
        self.changed = asyncio.Event()

    def execute(self, command: PbxCommand) -> None:
        self.commands.append(command)
        self.changed.set()

    async def run(self, runtime: Runtime) -> None:
        await asyncio.Event().wait()

    async def wait_for(self, kind: type, timeout: float = 5.0) -> PbxCommand:
        async with asyncio.timeout(timeout):
            while True:
                for cmd in self.commands:
                    if isinstance(cmd, kind):
                        return cmd
                self.changed.clear()
                await self.changed.wait()


async def collect_while_the_loop_runs() -> None:
    """Let the daemon's MQTT client finish closing before the test's loop does.

    aiomqtt returns from its context before paho has closed the socket (paho does that when
    the loop reads the broker's EOF); a paho client collected after the loop has closed calls
    back into the closed loop from its destructor, and the error escapes from inside the
    collector wherever it runs next (once inside ``ast.parse``, which CPython 3.11 turned into
    a SystemError that ended the pytest run)."""
    await asyncio.sleep(0.1)
    gc.collect()


@contextlib.asynccontextmanager
async def daemon(port: int) -> AsyncIterator[tuple[Runtime, RecordingPbx, asyncio.Task[None]]]:
    pbx = RecordingPbx()
    runtime = Runtime(parse_settings(CONFIG.format(port=port), source="test.toml"), pbx=pbx)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    try:
        yield runtime, pbx, task
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)
        await collect_while_the_loop_runs()


async def command(client: aiomqtt.Client, agent: str, doc: dict[str, object],
                  replies: asyncio.Queue[dict[str, object]]) -> dict[str, object]:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.ResponseTopic = "test/replies"
    props.CorrelationData = b"42"
    await client.publish(f"cti/v1/lyon/agents/{agent}/cmd", json.dumps(doc).encode(), qos=1,
                         properties=props)
    async with asyncio.timeout(5):
        return await replies.get()


@pytest.mark.asyncio
async def test_daemon_end_to_end(broker: Mosquitto) -> None:
    events: asyncio.Queue[tuple[str, dict[str, object]]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    async with aiomqtt.Client("127.0.0.1", broker.port,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe("cti/v1/lyon/#", qos=1)
        await client.subscribe("test/replies", qos=1)

        async def listen() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                doc = json.loads(m.payload)
                if str(m.topic) == "test/replies":
                    assert m.properties is not None
                    assert m.properties.CorrelationData == b"42"
                    await replies.put(doc)
                else:
                    await events.put((str(m.topic), doc))

        listener = asyncio.create_task(listen())
        async with daemon(broker.port) as (runtime, pbx, _):
            assert runtime.publisher is not None
            await asyncio.wait_for(runtime.publisher.ready.wait(), 10)  # subscribed
            assert await command(client, "1001", {"cmd": "login"}, replies) == {"ok": True}
            assert await command(client, "1001", {"cmd": "ready"}, replies) == {"ok": True}
            # Refused, with the reason, and nothing changes.
            bad = await command(client, "1001", {"cmd": "ready", "agent": "1002"}, replies)
            assert bad["ok"] is False
            assert "1002" in str(bad["error"])
            wrap = await command(client, "1001", {"cmd": "wrap-up-done"}, replies)
            assert wrap["ok"] is False
            assert "WRAP_UP_DONE" in str(wrap["error"])

            runtime.submit(CallArrived("call-1", caller="+33612345678", dialed="3000"))
            connect = await pbx.wait_for(ConnectAgent)
            assert connect.agent_id == "1001"  # type: ignore[attr-defined]
            async with asyncio.timeout(5):
                while True:
                    topic, doc = await events.get()
                    if topic.endswith("/agents/1001/screenpop"):
                        break
            assert doc["type"] == "screenpop"
            assert doc["data"]["caller"] == "+33612345678"  # type: ignore[index]
            # The PBX never confirms ringing: the reserve timeout fires on the loop's clock.
            cancel = await pbx.wait_for(CancelOffer, timeout=5)
            assert cancel.call_id == "call-1"  # type: ignore[attr-defined]
        # Stopped: the agent's final state is out, retained.
        states = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                while True:
                    topic, doc = await events.get()
                    if topic.endswith("/agents/1001/state"):
                        states.append(doc["data"])
        listener.cancel()
    assert states
    assert states[-1]["state"] == "logged-out"  # type: ignore[index]
    assert states[-1]["reason"] == "shutdown"  # type: ignore[index]


@pytest.mark.asyncio
async def test_no_new_calls_while_stopping(broker: Mosquitto) -> None:
    async with daemon(broker.port) as (runtime, _, _):
        runtime.accepting = False
        with pytest.raises(Exception, match="shutting down"):
            runtime.submit(CallArrived("c", caller="+1", dialed="3000"))


@pytest.mark.asyncio
async def test_start_up_heap_is_out_of_the_collectors_reach(broker: Mosquitto) -> None:
    # A full collection over the start-up heap held the loop for up to 100 ms: the tail of the
    # screen-pop latency. Once the daemon runs, that heap is frozen.
    async with daemon(broker.port):
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == GC_THRESHOLDS


@pytest.mark.asyncio
async def test_metrics_endpoint_reads_the_snapshots(broker: Mosquitto) -> None:
    text = CONFIG.format(port=broker.port) + '\n[metrics]\nport = 0\n'
    runtime = Runtime(parse_settings(text, source="test.toml"), pbx=RecordingPbx())
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    try:
        for _ in range(100):
            if runtime.metrics_port is not None:
                break
            await asyncio.sleep(0.02)
        assert runtime.metrics_port is not None
        runtime.submit(AgentLogin("1001"))
        runtime.submit(AgentReady("1001"))
        runtime.submit(CallArrived("c1", caller="+1", dialed="3000"))

        async def get(path: str) -> str:
            reader, writer = await asyncio.open_connection("127.0.0.1", runtime.metrics_port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                         .encode())
            await writer.drain()
            data = await reader.read()
            writer.close()
            return data.decode()

        page = await get("/metrics")
        assert page.startswith("HTTP/1.1 200 OK")
        assert 'cti_calls_offered_total{queue="sales"} 1.0' in page
        assert 'cti_agents{state="reserved"} 1.0' in page
        assert "cti_outbox_dropped_total 0.0" in page
        assert (await get("/other")).startswith("HTTP/1.1 404")
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)
        await collect_while_the_loop_runs()
