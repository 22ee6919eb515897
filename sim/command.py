"""``cti sim``: run a scenario, with one strategy or several on the same traffic.

    cti sim SCENARIO.toml [--calls N | --hours H] [--seed S] [--strategy NAME[,NAME...]]
                          [--warmup S] [--batches B] [--json] [--agents] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sim.progress import ProgressBar
from sim.report import format_reports, plot_reports
from sim.runner import run
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.stats import Report

__all__ = ["add_parser", "run_command"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sim", help="run a traffic scenario in virtual time",
                       description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("scenario", help="a scenario file (see docs/scenarios.md)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--calls", type=int, help="calls to measure after the warm-up")
    length.add_argument("--hours", type=float, help="hours to measure after the warm-up")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--strategy", help="route every queue with NAME; several, comma-separated, "
                   "run the same traffic through each and compare them")
    p.add_argument("--warmup", type=float, metavar="S", help="seconds of warm-up to discard")
    p.add_argument("--batches", type=int, help="batches for the confidence intervals")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list of "
                   "them with several strategies)")
    p.add_argument("--agents", action="store_true", help="include each agent's occupancy")
    p.add_argument("--plot", metavar="FILE.png", help="write a chart comparing the runs")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(run=run_command)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    if args.calls is not None and args.calls <= 0:
        return _fail("--calls must be a positive number of calls")
    if args.hours is not None and not args.hours > 0:
        return _fail("--hours must be > 0")
    if args.batches is not None and args.batches < 2:
        return _fail("--batches must be at least 2")
    if args.warmup is not None and args.warmup < 0:
        return _fail("--warmup must be >= 0 seconds")
    try:
        base = load_scenario(args.scenario).with_run(
            calls=args.calls, hours=args.hours, seed=args.seed, warmup_s=args.warmup,
            batches=args.batches,
        )
        runs: list[Scenario] = [base]
        if args.strategy:
            names = [n.strip() for n in args.strategy.split(",") if n.strip()]
            if not names:
                return _fail("--strategy names no strategy")
            runs = [base.with_strategy(n) for n in names]
    except ScenarioError as exc:
        return _fail(str(exc))
    show = sys.stderr.isatty() if args.progress is None else args.progress
    reports: list[Report] = []
    for sc in runs:
        label = ",".join(sorted(set(sc.strategies.values())))
        bar = ProgressBar(f"{sc.name} {label}") if show else None
        reports.append(run(sc, progress=bar))
    if args.plot:
        try:
            plot_reports(reports, args.plot)
        except (RuntimeError, OSError) as exc:
            return _fail(f"--plot {args.plot}: {exc}")
    if args.json:
        docs = [r.as_dict(agents=args.agents) for r in reports]
        print(json.dumps(docs[0] if len(docs) == 1 else docs))
    else:
        print(format_reports(reports))
        if args.agents:
            for r in reports:
                print(f"\nagent occupancy ({r.strategy}):")
                for agent_id, occ in r.agents.items():
                    print(f"  {agent_id:16} {100 * occ:6.2f}%")
        if args.plot:
            print(f"\nchart written to {args.plot}")
    return 0
