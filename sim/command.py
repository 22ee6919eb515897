"""``cti sim``: run a scenario, with one strategy or several on the same traffic.

    cti sim SCENARIO.toml [--calls N | --hours H] [--seed S] [--strategy NAME[,NAME...]]
                          [--warmup S] [--batches B] [--json] [--agents] [--plot FILE.png]
    cti sim SCENARIO.toml --realtime [--speed K] [--config DAEMON.toml] [--calls N]
    cti sim SCENARIO.toml --pbx esl --listen HOST:PORT [--speed K] [--password P] [--calls N]

``--realtime`` runs the daemon's runtime (clock, timers, bus, agent commands) with the scenario's
site, driven by a simulated PBX in real time (``sim.realtime``), ``--speed`` times faster than
life; with ``--config`` the events go to the broker of its ``[bus]`` section.

``--pbx esl`` serves the scenario's traffic as a simulated FreeSWITCH on an Event Socket
(``sim.freeswitch``) for a daemon to connect to, until the calls are done or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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
    p.add_argument("--store", metavar="URL", help="also write every call record and agent "
                   "state change to this store (a URL or a SQLite file), for cti report")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="with --store: the day simulated "
                   "time starts on, at local midnight (default: today)")
    p.add_argument("--realtime", action="store_true",
                   help="drive the daemon's runtime in real time instead")
    p.add_argument("--speed", type=float, default=1.0,
                   help="with --realtime or --pbx: run this many times faster than life")
    p.add_argument("--pbx", choices=["esl"],
                   help="serve the traffic as a simulated FreeSWITCH (Event Socket) instead")
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8021",
                   help="with --pbx esl: where to listen (default 127.0.0.1:8021)")
    p.add_argument("--password", default="ClueCon",
                   help="with --pbx esl: the Event Socket password (default ClueCon)")
    p.add_argument("--config", metavar="DAEMON.toml",
                   help="with --realtime: the [bus] and [daemon] settings to use")
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
    if args.pbx == "esl":
        return _esl(runs, args)
    if args.realtime:
        if len(runs) > 1:
            return _fail("--realtime runs one strategy at a time")
        if not args.speed > 0:
            return _fail("--speed must be > 0")
        return _realtime(runs[0], args)
    if args.store:
        if len(runs) > 1:
            return _fail("--store keeps one strategy's day")
        return _stored(runs[0], args)
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


def _stored(scenario: Scenario, args: argparse.Namespace) -> int:
    # Imported here: only this path needs the store.
    from datetime import date  # noqa: PLC0415

    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from cti.report.command import database_url  # noqa: PLC0415
    from cti.report.simulated import midnight, run_to_store  # noqa: PLC0415

    try:
        day = date.fromisoformat(args.date) if args.date else date.today()
    except ValueError:
        return _fail(f"--date {args.date}: not a date (YYYY-MM-DD)")
    url = database_url(args.store)
    try:
        report = run_to_store(scenario, url, day_start=midnight(day))
    except (SQLAlchemyError, OSError) as exc:
        return _fail(f"--store {args.store}: {exc}")
    print(json.dumps(report.as_dict(agents=args.agents)) if args.json
          else format_reports([report]))
    print(f"\n{report.calls:,} calls of {day} written to {args.store}; read them with "
          f"cti report --db {args.store} --from {day}", file=sys.stderr)
    return 0


def _esl(runs: list[Scenario], args: argparse.Namespace) -> int:
    from sim.freeswitch.driver import parse_listen, run_cli  # noqa: PLC0415

    if args.realtime or len(runs) > 1:
        return _fail("--pbx esl serves one scenario's traffic; the routing is the client's")
    if not args.speed > 0:
        return _fail("--speed must be > 0")
    try:
        parse_listen(args.listen)
    except ValueError as exc:
        return _fail(str(exc))
    sc = runs[0]  # --calls and --hours are already in it
    return run_cli(sc, listen=args.listen, password=args.password, speed=args.speed,
                   calls=sc.calls, hours=sc.hours)


def _realtime(scenario: Scenario, args: argparse.Namespace) -> int:
    # Imported here: the virtual-time path needs none of the daemon's machinery.
    from cti.config import ConfigFileError, DaemonModel, Settings, load_settings  # noqa: PLC0415
    from cti.runtime import Runtime  # noqa: PLC0415
    from sim.realtime import RealtimePbx, run_realtime  # noqa: PLC0415

    settings = Settings(scenario.config, None, DaemonModel(), scenario.source)
    if args.config:
        try:
            daemon_settings = load_settings(args.config)
        except ConfigFileError as exc:
            return _fail(str(exc))
        # The scenario's site; the daemon's bus, store, HTTP server, wallboard, shutdown.
        settings = dataclasses.replace(daemon_settings, switchboard=scenario.config)
    pbx = RealtimePbx(scenario, speed=args.speed, calls=args.calls or scenario.calls)
    runtime = Runtime(settings, pbx=pbx, speed=args.speed)

    asyncio.run(run_realtime(runtime, pbx))
    stats = runtime.switchboard.statistics(runtime.clock())
    rows = [
        f"{name}: offered {q.offered}, answered {q.answered}, abandoned {q.abandoned}, "
        f"blocked {q.blocked}" for name, q in stats.queues.items()
    ]
    print(f"{scenario.name}: {pbx.arrived} calls in real time at speed {args.speed:g}; "
          f"{runtime.outbox.published} events published, {runtime.outbox.dropped} dropped")
    print("\n".join(rows))
    return 0
