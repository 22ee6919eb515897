"""Call offered -> screen pop received by a subscriber, through a real Mosquitto.

The daemon's runtime runs in this process, driven in real time (speed 1) by the simulated PBX at
``--rate`` calls per second (500 agents, talk time exponential of mean 2 s, so agents are
mostly free and every call is offered at once). A subscriber in a separate process records when
each screen pop arrives; latency is that moment minus the pop's own ``at`` (the switchboard's
clock when it offered the call: the same wall clock). A pop offered but never received is lost.
Mosquitto is started on a free port and stopped by its pid.

SQLite persistence is on (a file in the run's temporary directory, flushed every ``--flush``
seconds, 0.25 by default); ``--no-store`` measures without it.

    python benchmarks/screenpop_latency.py [--json] [--rate R] [--seconds S] [--no-store]
                                           [--flush S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cti.config import BusModel, DaemonModel, Settings, StoreModel
from cti.core import ConnectAgent, PbxCommand
from cti.runtime import Runtime
from sim.realtime import RealtimePbx
from sim.scenario import parse_scenario

#: The store's flush interval here. Smaller batches keep each flush's work on the event loop
#: short (SQLAlchemy prepares the rows there); the daemon's default is 1 s: ``--flush 1``.
FLUSH_S = 0.25

SUBSCRIBER = """
import asyncio, json, sys, time
import aiomqtt

async def main(port, out, want_seconds):
    got = []
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe("cti/v1/+/agents/+/screenpop", qos=1)
        print("ready", flush=True)
        try:
            async with asyncio.timeout(want_seconds):
                async for m in c.messages:
                    now = time.time()
                    env = json.loads(m.payload)
                    got.append((env["data"]["call_id"], env["data"]["at"], now))
        except TimeoutError:
            pass
    with open(out, "w") as f:
        json.dump(got, f)

asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3])))
"""


class CountingPbx(RealtimePbx):
    """The simulated PBX, counting offers (each one is a screen pop the subscriber must see)."""

    offers: int = 0
    last_arrival_at: float = 0.0

    def _arrive(self) -> None:
        super()._arrive()
        self.last_arrival_at = time.monotonic()

    def execute(self, command: PbxCommand) -> None:
        if isinstance(command, ConnectAgent):
            self.offers += 1
        super().execute(command)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    as_root = "user root\n" if os.geteuid() == 0 else ""
    conf.write_text(f"{as_root}listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nmax_queued_messages 100000\n", encoding="utf-8")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def scenario_text(rate: float, seconds: float) -> str:
    return f"""
seed = 1
[run]
calls = {int(rate * seconds)}
[arrivals]
rate_per_s = {rate}
[queues.q]
wrap_up_s = 0
[call_types.c]
queue = "q"
talk = {{ dist = "exponential", mean = 2 }}
[agents.a]
count = 500
queues = ["q"]
"""


async def measure(port: int, rate: float, seconds: float, workdir: Path,
                  store: bool = True, flush_s: float = FLUSH_S) -> dict[str, object]:
    out = workdir / "received.json"
    sub = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SUBSCRIBER, str(port), str(out), str(seconds + 10),
        stdout=asyncio.subprocess.PIPE)
    assert sub.stdout is not None
    await sub.stdout.readline()  # "ready": subscribed
    scenario = parse_scenario(scenario_text(rate, seconds), source="screenpop-latency")
    settings = Settings(scenario.config, BusModel(port=port, format="json"),
                        DaemonModel(shutdown_flush_s=10), "benchmark",
                        store=StoreModel(url=f"sqlite+aiosqlite:///{workdir / 'cti.sqlite'}",
                                         flush_interval_s=flush_s)
                        if store else None)
    # Calls start once the 500 agents' login events have gone out: a site's agents do not
    # all log in within the same millisecond as its first calls.
    pbx = CountingPbx(scenario, speed=1.0, settle_s=2.0)
    runtime = Runtime(settings, pbx=pbx)
    task = asyncio.create_task(runtime.run(signals=False))
    started = time.monotonic() + pbx.settle_s
    await pbx.finished.wait()
    # The arrival rate achieved: calls over the time they took to arrive (not the drain).
    elapsed = max(1e-9, pbx.last_arrival_at - started)
    runtime.stop()
    await task
    await sub.wait()
    got = json.loads(out.read_text())
    first: dict[str, float] = {}
    for call_id, at, received in got:
        first.setdefault(call_id, (received - at) * 1000.0)
    latencies = sorted(first.values())

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 3)

    return {
        "calls_per_s": round(pbx.arrived / elapsed, 1),
        "calls": pbx.arrived,
        "offers": pbx.offers,
        "received": len(first),
        "lost": pbx.offers - len(first),
        "p50_ms": pct(0.50) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
        "max_ms": round(latencies[-1], 3) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 3) if latencies else None,
        "dropped_in_outbox": runtime.outbox.dropped,
        "store": "sqlite" if store else None,
        "flush_interval_s": flush_s if store else None,
        "records_written": runtime.store.written if runtime.store else 0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--rate", type=float, default=200.0, help="calls per second")
    p.add_argument("--seconds", type=float, default=20.0, help="how long calls arrive")
    p.add_argument("--no-store", action="store_true", help="without SQLite persistence")
    p.add_argument("--flush", type=float, default=FLUSH_S, help="the store's flush interval")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        try:
            result = asyncio.run(measure(port, args.rate, args.seconds, Path(tmp),
                                         store=not args.no_store, flush_s=args.flush))
        finally:
            broker.terminate()
            broker.wait(timeout=5)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:20} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
