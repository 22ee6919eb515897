"""SIPp driving the redirect-mode ACD at increasing call rates.

The daemon's runtime (uvloop when installed) with the SIP redirect adapter runs in this
process on a free loopback UDP port; SIPp (Debian's ``sip-tester``) runs in its own process
with ``tests/sipp/redirect_uac.xml`` (INVITE → 302 → ACK). ``--agents`` agents with no wrap-up
are logged in and ready, so calls go straight to an agent (redirect mode ends each call at the
302, see ``adapters/sip/redirect_server.py``).

For each rate in ``--rates`` SIPp places ``rate * --seconds`` calls. Measured:
- calls per second: SIPp's successful calls ÷ its elapsed time;
- failed: SIPp's failed calls, plus any mismatch with the ACD's own count of 302s;
- p99 ms: INVITE → 302 as SIPp measured it (``-trace_rtt``, every call; SIPp's clock has a
  granularity of a few ms, and its own scheduling is in it);
- acd p99 ms: the ACD's own measurement, from an INVITE datagram handed to the adapter to its
  302 written to the socket (the 302 goes out in the same step when an agent is free).

    python benchmarks/sip_load.py [--json] [--rates 200,500,1000] [--seconds S] [--agents N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.sip.adapter import SipRedirectAdapter
from adapters.sip.redirect_server import RedirectOptions
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady
from cti.runtime import Runtime

SCENARIO = Path(__file__).resolve().parent.parent / "tests" / "sipp" / "redirect_uac.xml"


def _config(agents: int) -> str:
    lines = ['site = "sip-load"', '[numbers]', '"100" = "sales"',
             "[queues.sales]", "wrap_up_s = 0", "skills = {billing = 1}"]
    for i in range(agents):
        lines += [f"[agents.a{i}]", f'endpoint = "sip:{2000 + i}@127.0.0.2"',
                  'queues = ["sales"]', "skills = {billing = 1}"]
    return "\n".join(lines) + "\n"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seconds(hms: str) -> float:
    """SIPp's ``HH:MM:SS[:usec]`` elapsed time in seconds."""
    parts = hms.split(":")
    try:
        h, m, sec = (int(p) for p in parts[:3])
    except ValueError:
        return 0.0
    return h * 3600 + m * 60 + sec + (int(parts[3]) / 1e6 if len(parts) > 3 else 0.0)


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[98]


class _Timed:
    """Times each INVITE datagram's handling in the transport (the 302 is sent within it)."""

    def __init__(self, adapter: SipRedirectAdapter) -> None:
        self.samples: list[float] = []
        transport = adapter.transport
        inner = transport.datagram

        def datagram(data: bytes, source: tuple[str, int]) -> None:
            if not data.startswith(b"INVITE"):
                inner(data, source)
                return
            t0 = time.perf_counter()
            inner(data, source)
            self.samples.append((time.perf_counter() - t0) * 1000)

        transport.datagram = datagram  # type: ignore[method-assign]


async def _one_rate(adapter: SipRedirectAdapter, timed: _Timed, rate: int, seconds: float,
                    tmp: Path) -> dict[str, Any]:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise SystemExit("sipp not found: apt-get install sip-tester")
    calls = max(1, int(rate * seconds))
    before = adapter.server.statistics().redirected
    timed.samples.clear()
    run_dir = tmp / f"r{rate}"
    run_dir.mkdir()
    stf = run_dir / "stat.csv"
    args = [sipp, f"127.0.0.1:{adapter.transport.port}", "-sf", str(SCENARIO), "-s", "100",
            "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-t", "u1", "-m", str(calls),
            "-r", str(rate), "-l", str(max(100, rate)), "-d", "0",
            "-timeout", f"{seconds * 3 + 30:.0f}s", "-nostdin",
            "-trace_stat", "-stf", str(stf), "-fd", "1", "-trace_rtt", "-rtt_freq", "1"]
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=run_dir, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await asyncio.wait_for(proc.wait(), seconds * 3 + 40)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.2)
    rows = list(csv.DictReader(stf.open(), delimiter=";")) if stf.exists() else []
    last = rows[-1] if rows else {}
    ok = int(last.get("SuccessfulCall(C)", 0))
    failed = int(last.get("FailedCall(C)", calls))
    span = _seconds(last.get("ElapsedTime(C)", "")) or elapsed
    rtts: list[float] = []
    for path in run_dir.glob("*_rtt.csv"):
        with path.open() as f:
            rtts.extend(float(row["response_time_ms"]) for row in csv.DictReader(f, delimiter=";")
                        if row.get("response_time_ms"))
    redirected = adapter.server.statistics().redirected - before
    failed += abs(redirected - ok) + (calls - ok - failed if ok + failed < calls else 0)
    return {"rate": rate, "calls": calls, "calls_per_s": round(ok / span, 1) if span else 0.0,
            "failed": failed, "p99_ms": round(_p99(rtts), 3),
            "p50_ms": round(statistics.median(rtts), 3) if rtts else 0.0,
            "acd_p99_ms": round(_p99(timed.samples), 3), "acd_redirected": redirected,
            "sipp_ok": ok, "sipp_rc": proc.returncode}


async def _main(rates: list[int], seconds: float, agents: int) -> list[dict[str, Any]]:
    settings = parse_settings(_config(agents), source="sip-load.toml")
    adapter = SipRedirectAdapter(RedirectOptions(), port=0, transport="udp")
    runtime = Runtime(settings, pbx=adapter)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await ready.wait()
    await adapter.started.wait()
    timed = _Timed(adapter)
    for i in range(agents):
        runtime.submit(AgentLogin(f"a{i}"))
        runtime.submit(AgentReady(f"a{i}"))
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rate in rates:  # one after the other, never two SIPp runs at once
                result = await _one_rate(adapter, timed, rate, seconds, Path(tmp))
                results.append(result)
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the top rate as JSON")
    parser.add_argument("--rates", default="200,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=200)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    try:
        import uvloop
        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    results = runner(_main(rates, args.seconds, args.agents))
    if args.json:
        top = results[-1]
        print(json.dumps({"calls_per_s": top["calls_per_s"], "failed": top["failed"],
                          "p99_ms": top["p99_ms"], "runs": results}))
        return
    print(f"{'rate':>6} {'calls':>7} {'calls/s':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'acd p99 ms':>11}")
    for r in results:
        print(f"{r['rate']:>6} {r['calls']:>7} {r['calls_per_s']:>9} {r['failed']:>7} "
              f"{r['p50_ms']:>8} {r['p99_ms']:>8} {r['acd_p99_ms']:>11}")


if __name__ == "__main__":
    main()
