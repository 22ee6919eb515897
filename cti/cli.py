"""The ``cti`` command.

    cti serve --config FILE.toml run the daemon (switchboard, clock, MQTT bus, agent commands)
    cti demo [--speed K] ...     the daemon with a simulated contact center, SQLite and a
                                 built-in MQTT broker, with a live view (``cti demo -h``)
    cti customers import F.csv   load customer records (number, name, vip, preferred_agent, ...)
    cti events [FILTER]          subscribe to the bus and print events
    cti agent ID COMMAND         send an agent command over the bus
    cti check CONFIG.toml        validate a configuration and summarise it
    cti strategies               list the routing strategies (built in and plug-ins)
    cti diagram {agent,call,queue,trunk}
                                 print a state machine's table as a Mermaid diagram
    cti sim SCENARIO.toml ...    run a traffic scenario in virtual time (``cti sim -h``)
    cti staff --rate R --aht S   Erlang C / A staffing table (``cti staff -h``)
    cti report [--from D] ...    historical figures from the store (``cti report -h``)
    cti ivr lint FILE...         check IVR flow files; ``cti ivr try FLOW.toml`` walks one

Later releases add ``bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import acd
from cti import __version__, demo, events_cli, ivr_cli
from cti.config import load_config, load_settings
from cti.core import ConfigurationError
from cti.core._fsm import mermaid
from cti.core.agent import TABLE as AGENT_TABLE
from cti.core.call import TABLE as CALL_TABLE
from cti.core.queue import TABLE as QUEUE_TABLE
from cti.core.trunk import TABLE as TRUNK_TABLE
from cti.loop import run_loop
from cti.pbx import pbx_link
from cti.report import command as report_command
from cti.runtime import Runtime
from sim import command as sim_command
from sim import staffing

__all__ = ["main"]

_TABLES: dict[str, Mapping[Any, Enum]] = {
    "agent": AGENT_TABLE, "call": CALL_TABLE, "queue": QUEUE_TABLE, "trunk": TRUNK_TABLE,
}


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = []
    for q in config.queues:
        stages = " then ".join(
            (f"{s.after_s:g}s: " if len(q.skills.stages) > 1 else "")
            + (", ".join(f"{k}>={v}" for k, v in s.requirement) or "-")
            for s in q.skills.stages
        )
        members = sum(1 for a in config.agents if q.name in a.queues)
        rows.append([q.name, q.strategy, stages, str(members), str(q.on_max_wait)])
    print(f"{args.config}: site {config.site!r}, {len(config.queues)} queues, "
          f"{len(config.agents)} agents, {len(config.trunks)} trunks: OK")
    print(_table(rows, ["queue", "strategy", "skills", "agents", "on max wait"]))
    return 0


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runtime = Runtime(settings, pbx=pbx_link(settings))
    run_loop(runtime.run())
    return 0


def _customers_import(args: argparse.Namespace) -> int:
    from cti.config import StoreModel  # noqa: PLC0415 - only this command needs the store
    from cti.store import StoreWriter  # noqa: PLC0415
    from cti.store.customers import CustomerImportError, import_customers  # noqa: PLC0415

    try:
        store = load_settings(args.config).store if args.config else None
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = store or StoreModel()

    async def run() -> int:
        writer = StoreWriter(store.url)
        try:
            await writer.create_tables()
            return await import_customers(writer.engine, args.file)
        finally:
            await writer.engine.dispose()

    try:
        n = asyncio.run(run())
    except CustomerImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.file}: {n} customers imported into {store.url}")
    return 0


def _strategies(args: argparse.Namespace) -> int:
    for name in acd.available_strategies():
        cls = acd.strategy_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        print(f"{name:18} {cls.__module__}.{cls.__qualname__}" + (f"  {doc[0]}" if doc else ""))
    return 0


def _diagram(args: argparse.Namespace) -> int:
    print(mermaid(_TABLES[args.machine], title=f"{args.machine} state machine"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cti", description="CTI server with an ACD core")
    parser.add_argument("--version", action="version", version=f"cti-server {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate a configuration file")
    p.add_argument("config")
    p.set_defaults(run=_check)
    p = sub.add_parser("serve", help="run the daemon: the switchboard, its clock and the bus")
    p.add_argument("--config", required=True, help="the configuration file (TOML)")
    p.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    p.set_defaults(run=_serve)
    p = sub.add_parser("customers", help="manage customer records")
    csub = p.add_subparsers(dest="action", required=True)
    p = csub.add_parser("import", help="load customers from a CSV file")
    p.add_argument("file")
    p.add_argument("--config", help="the store to load into (its [store] url)")
    p.set_defaults(run=_customers_import)
    p = sub.add_parser("strategies", help="list routing strategies")
    p.set_defaults(run=_strategies)
    p = sub.add_parser("diagram", help="print a state machine as a Mermaid diagram")
    p.add_argument("machine", choices=sorted(_TABLES))
    p.set_defaults(run=_diagram)
    demo.add_parser(sub)
    events_cli.add_parsers(sub)
    sim_command.add_parser(sub)
    staffing.add_parser(sub)
    report_command.add_parser(sub)
    ivr_cli.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:  # `cti sim ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
