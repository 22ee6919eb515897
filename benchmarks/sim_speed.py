"""Simulator speed: the Erlang C model through the production switchboard, against the same
model in SimPy and Ciw in the same run.

The model (DESIGN.md §6): 100 agents, 95 Erlang offered, exponential talk of mean 180 s, one
queue, no abandonment, no wrap-up. The cti run is a scenario like any other: every call goes
through ``Switchboard.handle`` and the queue's strategy (``least-idle``), with call records
built and tallied; the peers are ``benchmarks/peers.py``. Each figure is the median of
``--repeat`` runs, interleaved so a busy moment of this shared machine does not fall on one
simulator only. Also measured: cti's speed at 10 and at 1,000 agents (occupancy 0.95), and the
peak resident memory of one cti run of ``--memory-calls`` calls, in a child process.

The agent-count sweep runs each of its runs in a fresh child process, as a user's ``cti sim``
runs: it measures how the simulator scales with agents, not how it copes with the heap that
SimPy's and Ciw's million calls left in this one (after them, in this process, objects are
spread over a larger, fragmented heap, which costs a run with a thousand calls in progress more
than one with ten). The same sweep in this process, after the peers, is reported beside it
(``scale_1000_vs_10_after_peers``).

    python benchmarks/sim_speed.py [--json] [--calls N] [--repeat R] [--memory-calls N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import run_ciw, run_simpy
from cti import native
from sim.runner import run
from sim.scenario import Scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

AHT = 180.0


def scenario(agents: int, erlang: float, calls: int, seed: int) -> Scenario:
    text = f"""
seed = {seed}
[run]
calls = {calls}
warmup_s = 0
batches = 20
[arrivals]
rate_per_s = {erlang / AHT}
[queues.q]
strategy = "least-idle"
wrap_up_s = 0
[call_types.c]
queue = "q"
talk = {{ dist = "exponential", mean = {AHT} }}
[agents.a]
count = {agents}
queues = ["q"]
"""
    return parse_scenario(text, source=f"erlang-c-{agents}")


def cti_rate(agents: int, erlang: float, calls: int, seed: int) -> float:
    report = run(scenario(agents, erlang, calls, seed))
    return report.calls / report.wall_s


def _in_child(code: str) -> str:
    """The last word that ``code``, run in a fresh Python process of its own, prints."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
    out = subprocess.run([sys.executable, "-c", prelude + code], check=True, cwd=ROOT,
                         capture_output=True, text=True)
    return out.stdout.split()[-1]


def cti_rate_fresh(agents: int, erlang: float, calls: int, seed: int) -> float:
    """``cti_rate`` in a child process of its own."""
    return float(_in_child("from benchmarks.sim_speed import cti_rate\n"
                           f"print(cti_rate({agents}, {erlang!r}, {calls}, {seed}))\n"))


def peer_rate(fn: object, agents: int, erlang: float, calls: int, seed: int) -> float:
    out = fn(agents, erlang / AHT, AHT, calls, seed)  # type: ignore[operator]
    return float(out["calls"]) / float(out["wall_s"])


def peak_rss_mib(calls: int) -> float:
    """Peak RSS of a child process running one cti simulation of ``calls`` calls."""
    # The child reports its own peak from /proc (VmHWM, reset by exec): ru_maxrss would carry
    # over the size of this process at the fork, which after the peers' runs is large.
    code = (
        "import resource\n"
        "from benchmarks.sim_speed import scenario\n"
        "from sim.runner import run\n"
        f"run(scenario(100, 95.0, {calls}, 1))\n"
        "kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            kib = int(line.split()[1])\n"
        "except OSError:\n"
        "    pass\n"
        "print(kib)\n"
    )
    return int(_in_child(code)) / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--sweep-calls", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--memory-calls", type=int, default=10_000_000)
    args = p.parse_args(argv)
    rates: dict[str, list[float]] = {"cti": [], "simpy": [], "ciw": [], "cti10": [],
                                     "cti1000": [], "cti10_here": [], "cti1000_here": []}
    for i in range(args.repeat):
        seed = i + 1
        rates["cti"].append(cti_rate(100, 95.0, args.calls, seed))
        rates["simpy"].append(peer_rate(run_simpy, 100, 95.0, args.calls, seed))
        rates["ciw"].append(peer_rate(run_ciw, 100, 95.0, args.calls, seed))
        rates["cti10_here"].append(cti_rate(10, 9.5, args.sweep_calls, seed))
        rates["cti1000_here"].append(cti_rate(1000, 950.0, args.sweep_calls, seed))
        rates["cti10"].append(cti_rate_fresh(10, 9.5, args.sweep_calls, seed))
        rates["cti1000"].append(cti_rate_fresh(1000, 950.0, args.sweep_calls, seed))
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "cti_calls_per_s": round(med["cti"], 1),
        "simpy_calls_per_s": round(med["simpy"], 1),
        "ciw_calls_per_s": round(med["ciw"], 1),
        "ratio_vs_simpy": round(med["cti"] / med["simpy"], 3),
        "ratio_vs_ciw": round(med["cti"] / med["ciw"], 3),
        "cti_10_agents_calls_per_s": round(med["cti10"], 1),
        "cti_1000_agents_calls_per_s": round(med["cti1000"], 1),
        "scale_1000_vs_10": round(med["cti1000"] / med["cti10"], 3),
        "cti_10_agents_after_peers_calls_per_s": round(med["cti10_here"], 1),
        "cti_1000_agents_after_peers_calls_per_s": round(med["cti1000_here"], 1),
        "scale_1000_vs_10_after_peers": round(med["cti1000_here"] / med["cti10_here"], 3),
        "peak_rss_mib_10m": None,
        "calls": args.calls,
        "memory_calls": args.memory_calls,
        "repeat": args.repeat,
        # The figures are of this build: compiled (setup.py) or pure Python.
        "compiled_modules": len(native.compiled()),
    }
    if args.memory_calls > 0:
        result["peak_rss_mib_10m"] = round(peak_rss_mib(args.memory_calls), 1)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
