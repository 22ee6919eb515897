"""Routing decision latency under churn, at 100 to 100,000 agents (50 skills, 1,000 queues).

Each size builds the same kind of site: every queue requires one or two of 50 skills (half of
them relax after 30 s, e.g. "s7 >= 6, then s7 >= 2"), queues cycle through every built-in
strategy, and every agent serves four queues with levels that qualify for at least their
relaxed stage, plus a spare skill. Calls arrive to queues in proportion to their staffing,
agents finish calls, some callers abandon and some agents take breaks, in virtual time
(every decision moves the clock 10 ms, so skill stages relax as they would).

A *decision* is one ``Router.submit`` (a call becomes routable) or ``Router.make_available``
(an agent becomes free); each is timed alone with ``perf_counter_ns``. The garbage collector is
frozen after the site is built, as the daemon does after loading its configuration. Each size
runs ``--repeat`` times, interleaved with the other sizes so that a busy moment of this shared
machine does not fall on one size only; the figures are medians over the repeats.

The mix of decisions changes with size: with 1,000 queues, 100 agents leave most queues with one
member or none, so most calls simply wait (the cheapest decision), while at 10,000 agents most
calls find an agent. The table therefore also gives the p99 of each kind of decision:
``submit_match`` (a call takes an agent), ``submit_wait`` (a call waits), ``free_match`` (a freed
agent takes a waiting call) and ``free_index`` (a freed agent waits for calls).

For comparison, ``--baseline`` also runs the same traffic through a router that scans the
queue's members on every decision, the approach of Asterisk app_queue and FreeSWITCH
mod_callcenter (a model of their algorithm, not the programs themselves).

    python benchmarks/routing.py [--json] [--decisions N] [--sizes 100,1000,...] [--baseline]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acd import Match, Router, SkillSchedule, available_strategies, satisfies

SKILLS = 50
QUEUES = 1000
QUEUES_PER_AGENT = 4


QueueSpec = tuple[str, str, dict[str, object], SkillSchedule]
AgentSpec = tuple[str, dict[str, int], list[str]]


def build_site(n_agents: int, rng: random.Random) -> tuple[list[QueueSpec], list[AgentSpec]]:
    strategies = [s for s in available_strategies() if s != "preferred-agent"]
    queues = []
    for i in range(QUEUES):
        primary = f"s{rng.randrange(SKILLS)}"
        stages: list[tuple[float, dict[str, int]]]
        if i % 2:
            stages = [(0.0, {primary: rng.randint(5, 8)}), (30.0, {primary: rng.randint(1, 4)})]
        else:
            second = f"s{rng.randrange(SKILLS)}"
            stages = [(0.0, {primary: rng.randint(1, 5), second: 1})]
        name = f"q{i}"
        queues.append(
            (name, strategies[i % len(strategies)], {}, SkillSchedule.parse(name, stages))
        )
    agents = []
    for j in range(n_agents):
        served = rng.sample(range(QUEUES), QUEUES_PER_AGENT)
        skills: dict[str, int] = {f"s{rng.randrange(SKILLS)}": rng.randint(1, 10)}
        for qi in served:
            for skill, level in queues[qi][3].stages[-1].requirement:
                skills[skill] = max(skills.get(skill, 0), rng.randint(level, 10))
        agents.append((f"a{j}", skills, [queues[qi][0] for qi in served]))
    return queues, agents


class ScanRouter:
    """The O(members) model: keep agents' states, scan the queue's members on every decision."""

    def __init__(self, queues: list[QueueSpec]) -> None:
        self.schedules = {name: sched for name, _, _, sched in queues}
        self.members: dict[str, list[str]] = {name: [] for name, *_ in queues}
        self.skills: dict[str, dict[str, int]] = {}
        self.queues_of: dict[str, list[str]] = {}
        self.idle_since: dict[str, float] = {}
        self.available: set[str] = set()
        self.waiting: dict[str, tuple[str, float]] = {}  # call -> (queue, entered)

    def login(
        self, agent_id: str, *, skills: dict[str, int], queues: list[str], now: float
    ) -> None:
        self.skills[agent_id] = skills
        self.queues_of[agent_id] = queues
        for q in queues:
            self.members[q].append(agent_id)

    def submit(self, call_id: str, *, queue: str, now: float) -> Match | None:
        req, _ = self.schedules[queue].at(0.0)
        best, best_idle = None, float("inf")
        for a in self.members[queue]:
            if (
                a in self.available
                and satisfies(self.skills[a], req)
                and self.idle_since[a] < best_idle
            ):
                best, best_idle = a, self.idle_since[a]
        if best is None:
            self.waiting[call_id] = (queue, now)
            return None
        self.available.discard(best)
        return Match(call_id, best, queue, req)

    def make_available(self, agent_id: str, *, now: float) -> Match | None:
        best, best_at = None, float("inf")
        served = self.queues_of[agent_id]
        for call_id, (queue, at) in self.waiting.items():
            if queue in served and at < best_at:
                req, _ = self.schedules[queue].at(now - at)
                if satisfies(self.skills[agent_id], req):
                    best, best_at = call_id, at
        if best is None:
            self.available.add(agent_id)
            self.idle_since[agent_id] = now
            return None
        queue, _ = self.waiting.pop(best)
        return Match(best, agent_id, queue, ())

    def make_unavailable(self, agent_id: str) -> None:
        self.available.discard(agent_id)

    def withdraw(self, call_id: str) -> bool:
        return self.waiting.pop(call_id, None) is not None

    def next_deadline(self) -> float | None:
        return None

    def on_timer(self, now: float) -> list[Match]:
        return []


def run(n_agents: int, decisions: int, seed: int, scan: bool = False) -> dict[str, object]:
    rng = random.Random(seed)
    queues, agents = build_site(n_agents, rng)
    router: Router | ScanRouter
    if scan:
        router = ScanRouter(queues)
    else:
        router = Router(seed=seed)
        for name, strategy, options, schedule in queues:
            router.configure_queue(name, strategy=strategy, options=options, skills=schedule)
    now = 0.0
    for agent_id, skills, served in agents:
        router.login(agent_id, skills=skills, queues=served, now=now)
    # Call demand follows staffing, so every size sees the same mix of waiting and matching.
    demand = [q for _, _, served in agents for q in served]
    busy: list[str] = []
    on_break: list[str] = []
    # Insertion-ordered, not a set: a set of strings pops in hash order, which differs from one
    # process to the next, so the same seed would not give the same traffic twice.
    free: dict[str, None] = {}
    waiting: dict[str, None] = {}  # insertion-ordered: the oldest callers abandon first

    def matched(m: Match | None) -> None:
        if m is not None:
            busy.append(m.agent_id)
            free.pop(m.agent_id, None)
            waiting.pop(m.call_id, None)

    for agent_id, _, _ in agents:  # everybody ready at the start
        m = router.make_available(agent_id, now=now)
        free[agent_id] = None
        matched(m)
    gc.collect()
    gc.freeze()
    kinds: dict[str, list[int]] = {
        "submit_match": [], "submit_wait": [], "free_match": [], "free_index": [],
    }
    clock = time.perf_counter_ns
    call_no = 0
    cap = max(20, n_agents // 20)
    target_busy = int(0.9 * n_agents)
    while sum(map(len, kinds.values())) < decisions:
        now += 0.01
        deadline = router.next_deadline()
        if deadline is not None and deadline <= now:
            for m in router.on_timer(now):
                matched(m)
        r = rng.random()
        if r < 0.02 and free:  # a break: an available agent goes not ready
            agent_id, _ = free.popitem()  # the agent freed most recently
            router.make_unavailable(agent_id)
            on_break.append(agent_id)
        elif r < 0.04 and on_break:
            agent_id = on_break.pop(rng.randrange(len(on_break)))
            t0 = clock()
            m = router.make_available(agent_id, now=now)
            kinds["free_index" if m is None else "free_match"].append(clock() - t0)
            free[agent_id] = None
            matched(m)
        elif len(waiting) > cap:  # the longest-waiting caller gives up
            call_id = next(iter(waiting))
            del waiting[call_id]
            router.withdraw(call_id)
        elif len(busy) < target_busy or rng.random() < 0.5 or not busy:
            call_no += 1
            call_id = f"c{call_no}"
            waiting[call_id] = None
            queue = rng.choice(demand)
            t0 = clock()
            m = router.submit(call_id, queue=queue, now=now)
            kinds["submit_wait" if m is None else "submit_match"].append(clock() - t0)
            matched(m)
        else:
            i = rng.randrange(len(busy))
            busy[i], busy[-1] = busy[-1], busy[i]
            agent_id = busy.pop()
            t0 = clock()
            m = router.make_available(agent_id, now=now)
            kinds["free_index" if m is None else "free_match"].append(clock() - t0)
            free[agent_id] = None
            matched(m)
    gc.unfreeze()
    both = sorted(t for ts in kinds.values() for t in ts)

    def pct(xs: list[int], p: float) -> float:
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(p * len(xs)))] / 1000, 2) if xs else float("nan")

    return {
        "router": "scan" if scan else "cti",
        "agents": n_agents,
        "queues": QUEUES,
        "skills": SKILLS,
        "decisions": len(both),
        "p50_us": pct(both, 0.50),
        "p99_us": pct(both, 0.99),
        "max_us": round(both[-1] / 1000, 2),
        "mean_us": round(statistics.fmean(both) / 1000, 2),
        **{f"{kind}_share": round(len(ts) / len(both), 3) for kind, ts in kinds.items()},
        **{f"{kind}_p99_us": pct(ts, 0.99) for kind, ts in kinds.items()},
    }


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """One row from repeated runs: the median of every figure."""
    row = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, float):
            row[key] = round(statistics.median(float(r[key]) for r in runs), 3)  # type: ignore[arg-type]
    row["repeats"] = len(runs)
    return row


def table(rows: list[dict[str, object]], out: Callable[[str], None] = print) -> None:
    cols = ["router", "agents", "decisions", "p50_us", "p99_us", "submit_match_p99_us",
            "submit_wait_p99_us", "free_match_p99_us", "free_index_p99_us", "submit_match_share"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    out("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        out("  ".join(str(r[c]).rjust(w) for c, w in zip(cols, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sizes", default="100,1000,10000,100000")
    p.add_argument("--decisions", type=int, default=100_000, help="timed decisions per size")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs per size; medians are reported")
    p.add_argument("--baseline", action="store_true",
                   help="also run the O(members) scan model of app_queue / mod_callcenter")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[tuple[bool, int], list[dict[str, object]]] = {}
    for _ in range(args.repeat):  # interleaved: size after size, then again
        for n in sizes:
            runs.setdefault((False, n), []).append(run(n, args.decisions, args.seed))
            if args.baseline:  # the scan is slow at scale: fewer decisions
                runs.setdefault((True, n), []).append(
                    run(n, min(args.decisions, 200_000_000 // n), args.seed, scan=True))
    results = [median_of(r) for _, r in sorted(runs.items())]
    cti = {r["agents"]: r for r in results if r["router"] == "cti"}
    summary: dict[str, object] = {}
    if 100 in cti and 10_000 in cti:
        p99_100 = float(cti[100]["p99_us"])  # type: ignore[arg-type]
        p99_10k = float(cti[10_000]["p99_us"])  # type: ignore[arg-type]
        summary = {"p99_10000_over_100": round(p99_10k / p99_100, 2),
                   "p99_10000_us": p99_10k, "budget_p99_us": 20.0}
        for kind in ("submit_match", "submit_wait", "free_match", "free_index"):
            a = float(cti[10_000][f"{kind}_p99_us"])  # type: ignore[arg-type]
            b = float(cti[100][f"{kind}_p99_us"])  # type: ignore[arg-type]
            summary[f"{kind}_p99_10000_over_100"] = round(a / b, 2) if b else None
        scan = {r["agents"]: r for r in results if r["router"] == "scan"}
        for n, row in sorted(scan.items()):
            summary[f"scan_p99_over_cti_at_{n}"] = round(
                float(row["p99_us"]) / float(cti[n]["p99_us"]), 2)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps({"results": results, "summary": summary}))
    else:
        table(results)
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
