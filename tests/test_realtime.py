"""The daemon driven by the real-time simulated PBX, publishing to a real Mosquitto: every call
ends once, and a subscriber sees each call's record and a screen pop for each offer."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import aiomqtt
import pytest
from mqtt_broker import Mosquitto

from cti.config import BusModel, DaemonModel, Settings
from cti.runtime import Runtime
from sim.realtime import RealtimePbx
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.asyncio
async def test_simulated_day_through_the_daemon(broker: Mosquitto) -> None:
    scenario = load_scenario(ROOT / "sim" / "scenarios" / "erlang-c.toml")
    calls = 150
    bus = BusModel(port=broker.port, format="json")
    settings = Settings(scenario.config, bus, DaemonModel(shutdown_flush_s=5), "test")
    pbx = RealtimePbx(scenario, speed=1500, calls=calls)
    runtime = Runtime(settings, pbx=pbx, speed=1500)
    ended: dict[str, dict[str, object]] = {}
    pops: set[str] = set()
    async with aiomqtt.Client("127.0.0.1", broker.port,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe("cti/v1/+/calls/ended", qos=1)
        await client.subscribe("cti/v1/+/agents/+/screenpop", qos=1)

        async def listen() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                env = json.loads(m.payload)
                if env["type"] == "call.ended":
                    ended[env["id"]] = env["data"]
                else:
                    pops.add(env["data"]["call_id"])

        listener = asyncio.create_task(listen())
        task = asyncio.create_task(runtime.run(signals=False))
        async with asyncio.timeout(60):
            await pbx.finished.wait()
        runtime.stop()
        await task
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                while len(ended) < calls:
                    await asyncio.sleep(0.05)
        listener.cancel()
    records = list(ended.values())
    assert len(records) == calls
    assert len({r["call_id"] for r in records}) == calls  # each call ended once
    answered = {r["call_id"] for r in records if r["disposition"] == "answered"}
    assert len(answered) == calls  # no patience in this scenario
    assert answered <= pops  # every answered call popped on its agent's screen first
    assert runtime.outbox.dropped == 0
