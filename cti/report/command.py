"""``cti report``: historical figures from the store.

    cti report [--config FILE | --db URL] [--from DATE] [--to DATE] [--interval 15m|30m|1h|1d]
               [--by queue|agent] [--format table|csv|json] [--plot FILE.png] [--tz ZONE]

``--config`` names the daemon's configuration: its ``[store]`` (or ``CTI_DATABASE_URL``), its
queues' service-level thresholds and who serves which queue, and its ``[wallboard] timezone``.
``--db`` names a database alone (a SQLAlchemy URL, or a SQLite file's path): thresholds are
then 20 s and per-queue occupancy is not known. Dates are local days (``--to`` included),
or instants (``2026-03-02T08:00``, ``--to`` excluded); both default to today.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from cti.report.compute import Report, Site, compute_report
from cti.report.period import INTERVALS, PeriodError, parse_period
from cti.report.render import to_csv, to_json, to_table

__all__ = ["add_parser", "database_url", "run_command"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="historical figures per interval, queue or agent, "
                       "from the store", description=__doc__.splitlines()[0] if __doc__ else None)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="FILE", help="the daemon's configuration (its "
                        "store, thresholds, queues' agents, time zone)")
    source.add_argument("--db", metavar="URL", help="a database URL or a SQLite file (default: "
                        "CTI_DATABASE_URL, else the daemon's default cti.sqlite)")
    p.add_argument("--from", dest="first", metavar="DATE", help="first day (default: today)")
    p.add_argument("--to", dest="last", metavar="DATE", help="last day, included (default: "
                   "the first)")
    p.add_argument("--interval", choices=list(INTERVALS), default="1d",
                   help="interval length (default 1d)")
    p.add_argument("--by", choices=["queue", "agent"], default="queue")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--plot", metavar="FILE.png", help="also chart volume and service level "
                   "per interval")
    p.add_argument("--tz", metavar="ZONE", help="time zone of the dates and intervals "
                   "(default: [wallboard] timezone, else local time)")
    p.set_defaults(run=run_command)


def database_url(text: str) -> str:
    """A URL as the store takes it: a path is a SQLite file; plain PostgreSQL URLs get asyncpg."""
    if "://" not in text:
        return f"sqlite+aiosqlite:///{text}"
    for plain in ("postgresql://", "postgres://"):
        if text.startswith(plain):
            return "postgresql+asyncpg://" + text.removeprefix(plain)
    return text


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    from cti.config import ConfigFileError, StoreModel, load_settings  # noqa: PLC0415

    site = Site()
    zone_name = args.tz
    if args.config:
        try:
            settings = load_settings(args.config)
        except ConfigFileError as exc:
            return _fail(str(exc))
        url = (settings.store or StoreModel()).url
        site = Site.of(settings.switchboard)
        zone_name = zone_name or settings.wallboard.timezone
    else:
        url = database_url(args.db or os.environ.get("CTI_DATABASE_URL") or StoreModel().url)
    if url.startswith("sqlite") and ":memory:" not in url:
        path = Path(url.split(":///", 1)[-1])
        if not path.is_file():
            return _fail(f"no database at {path} (give --db URL or --config FILE)")
    try:
        zone = ZoneInfo(zone_name) if zone_name else None
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"--tz {zone_name}: unknown time zone")
    try:
        period = parse_period(args.first, args.last, args.interval, zone, now=time.time())
    except PeriodError as exc:
        return _fail(str(exc))

    async def compute() -> Report:
        engine = create_async_engine(url)
        try:
            return await compute_report(engine, period, by=args.by, site=site)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(compute())
    except (SQLAlchemyError, OSError) as exc:
        return _fail(f"cannot read {url.split('@')[-1]}: {exc.__class__.__name__}: "
                     f"{str(exc).splitlines()[0]}")
    text = {"table": to_table, "csv": to_csv, "json": to_json}[args.format](report)
    print(text, end="" if text.endswith("\n") else "\n")
    if args.plot:
        from cti.report.plot import plot_report  # noqa: PLC0415 - matplotlib is slow to load

        try:
            plot_report(report, args.plot)
        except (RuntimeError, OSError) as exc:
            return _fail(f"--plot {args.plot}: {exc}")
        print(f"chart written to {args.plot}", file=sys.stderr)
    return 0
