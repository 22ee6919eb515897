"""The daemon driven by the simulated FreeSWITCH over a loopback Event Socket.

The simulated FreeSWITCH runs in its own process (``cti sim SCENARIO --pbx esl``), so the two
sides use the machine's two cores as a real FreeSWITCH beside the daemon would; the daemon's
runtime (uvloop) with the FreeSWITCH adapter runs in this one. Callers arrive at ``--rate`` per
second for ``--seconds``; ``--agents`` agents answer after 0.2 s and talk for an exponential
time of mean ``--talk`` seconds (so they are mostly free and calls go straight to an agent).

Measured:
- calls per second: calls answered and ended ÷ the time from the first arrival to the last
  (if the daemon fell behind, FreeSWITCH's calls would wait for it and the span stretch);
- completed: calls the switchboard ended as answered; failed: calls placed that did not end
  answered (abandoned, rejected, still open at the end), plus agent legs FreeSWITCH failed;
- park → originate: from the CHANNEL_PARK's own ``Event-Date-Timestamp`` (the simulated
  FreeSWITCH's clock when it sent the event: the same wall clock) to the moment the adapter
  writes the ``originate`` for that call; p50 and p99.

    python benchmarks/esl_throughput.py [--json] [--rate R] [--seconds S] [--agents N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.esl import EslClient
from adapters.esl.adapter import FreeswitchAdapter
from adapters.esl.control import CallControl, ControlOptions
from cti.config import DaemonModel, Settings
from cti.core import AgentLogin, AgentReady
from cti.runtime import Runtime
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent


def scenario_text(rate: float, seconds: float, agents: int, talk: float) -> str:
    return f"""
name = "esl-throughput"
seed = 7
[run]
calls = {round(rate * seconds)}
[arrivals]
rate_per_s = {rate}
[queues.q]
strategy = "least-idle"
wrap_up_s = 0
ring_timeout_s = 10
[call_types.c]
queue = "q"
dialed = "3000"
talk = {{ dist = "exponential", mean = {talk} }}
[agents.agent]
count = {agents}
queues = ["q"]
ring_delay = {{ dist = "fixed", value = 0.2 }}
"""


class TimedAdapter(FreeswitchAdapter):
    """The production adapter, noting when each call's park arrived and its originate left."""

    def __init__(self, client: EslClient, options: ControlOptions) -> None:
        super().__init__(client, options)
        self.parked: dict[str, float] = {}
        self.latencies: list[float] = []
        on_event = self.control.on_event

        def timed(name: str, headers: Any) -> None:
            if name == "CHANNEL_PARK" and headers.get("Call-Direction") == "inbound":
                stamp = headers.get("Event-Date-Timestamp")
                if stamp:
                    self.parked[headers.get("Unique-ID", "")] = int(stamp) / 1e6
            on_event(name, headers)

        self.control.on_event = timed  # type: ignore[method-assign]

    def _send(self, command: str, leg: str | None) -> None:
        if command.startswith("originate"):
            m = re.search(r"cti_call_id=([^,}]+)", command)
            parked = self.parked.pop(m.group(1), None) if m else None
            if parked is not None:
                self.latencies.append(time.time() - parked)
        super()._send(command, leg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(rate: float, seconds: float, agents: int, talk: float) -> dict[str, Any]:
    text = scenario_text(rate, seconds, agents, talk)
    scenario = parse_scenario(text, source="esl-throughput")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.toml"
        path.write_text(text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        sim = subprocess.Popen(
            [sys.executable, "-m", "cti", "sim", str(path), "--pbx", "esl", "--listen",
             f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        try:
            return await _drive(sim, scenario, port, rate, seconds)
        finally:
            if sim.poll() is None:
                sim.terminate()  # only the process this run started
                sim.wait(10)


async def _drive(sim: subprocess.Popen[str], scenario: Any, port: int, rate: float,
                 seconds: float) -> dict[str, Any]:
    client = EslClient("127.0.0.1", port, "ClueCon", events=CallControl.EVENTS,
                       queue_size=100_000)
    adapter = TimedAdapter(client, ControlOptions(destinations=frozenset({"3000"})))
    runtime = Runtime(Settings(scenario.config, None, DaemonModel(), scenario.source),
                      pbx=adapter)
    for _ in range(100):  # the simulated FreeSWITCH takes a moment to listen
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    for g in scenario.groups:
        for agent_id in g.agent_ids:
            runtime.submit(AgentLogin(agent_id))
            runtime.submit(AgentReady(agent_id))
    board = runtime.switchboard
    calls = round(rate * seconds)
    first = last = None
    deadline = time.monotonic() + seconds * 3 + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        if first is None and board.arrived:
            first = time.monotonic()
        if last is None and board.arrived >= calls:
            last = time.monotonic()
        if last is not None and not board.calls:
            break
    span = (last or time.monotonic()) - (first or time.monotonic())
    runtime.stop()
    await task
    out, _ = await asyncio.to_thread(sim.communicate, timeout=60)
    ended = dict(board.ended)
    answered = ended.get("answered", 0)
    leg_failures = re.search(r"failed: (.*)", out)
    legs_failed = sum(int(n) for n in re.findall(r"(\d+)", leg_failures.group(1))
                      ) if leg_failures and leg_failures.group(1) != "none" else 0
    lat = sorted(adapter.latencies)
    return {
        "calls_per_s": round(answered / span, 1) if span > 0 else 0.0,
        "completed": answered,
        "failed": calls - answered + legs_failed,
        "p50_ms": round(statistics.median(lat) * 1000, 3) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3) if lat else None,
        "offered_calls": calls,
        "seconds": round(span, 1),
        "commands_failed": adapter.commands_failed,
        "events_dropped": client.dropped_events,
        "sim_summary": " / ".join(line.strip() for line in out.splitlines()[-2:]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--agents", type=int, default=1500)
    p.add_argument("--talk", type=float, default=2.0)
    args = p.parse_args(argv)
    try:
        import uvloop  # the daemon runs on it
        result = uvloop.run(run(args.rate, args.seconds, args.agents, args.talk))
    except ImportError:  # pragma: no cover
        result = asyncio.run(run(args.rate, args.seconds, args.agents, args.talk))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:18} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
