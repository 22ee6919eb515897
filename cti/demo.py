"""``cti demo``: the daemon, a simulated contact center and an MQTT broker, in one command.

    cti demo [--scenario FILE] [--speed K] [--port P] [--db FILE] [--calls N] [--no-view]

It starts the built-in MQTT broker (``cti.bus.broker``, on 127.0.0.1:P, 1883 by default;
``--port 0`` picks a free port), the daemon's runtime with its bus pointed at that broker and
its store in a SQLite file, and the real-time simulated PBX (``sim.realtime``) playing the
scenario (``sim/scenarios/demo.toml`` by default) ``--speed`` times faster than life (10 by
default). ``cti events --port P`` in a second terminal shows the screen pops, tickets, agent and
queue states and call records as they are published; ``cti agent ID COMMAND --port P --site S``
sends an agent a command and prints the daemon's reply.

The terminal shows a live view (agents by state, queues); when stdout is not a terminal, or
with ``--no-view``, a one-line status every few seconds instead. Ctrl-C (or SIGTERM) stops it
cleanly: the agents' final states are published, the store is flushed, and a summary is printed.
With ``--calls N`` it also stops by itself once N calls have arrived and ended.

Choices the demo makes for the daemon: the store is a new SQLite file in a new temporary
directory (printed, kept afterwards for a look with ``sqlite3``) unless ``--db FILE`` names one;
a caller who gave up after 30 s gets an ``abandoned`` ticket (the daemon's default is 60 s);
agents end one wrap-up in twenty with disposition ``callback-needed`` and one in a hundred
with ``escalate``, both of which open a ``follow-up`` ticket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

import sim
from cti.bus.broker import Broker, BrokerSettings
from cti.config import BusModel, DaemonModel, Settings, StoreModel, TicketsModel
from cti.core import CallState
from cti.demo_view import Snapshot, TicketCounts, render, status_line, summary
from cti.loop import run_loop
from cti.runtime import Runtime
from sim.realtime import RealtimePbx, run_realtime
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["DEFAULT_SCENARIO", "Demo", "add_parser"]

DEFAULT_SCENARIO = Path(sim.__file__).resolve().parent / "scenarios" / "demo.toml"
#: Share of wrap-ups ended with each disposition (both open follow-up tickets by default).
DISPOSITIONS = {"callback-needed": 0.05, "escalate": 0.01}
ABANDONED_AFTER_S = 30.0
VIEW_EVERY_S = 1.0
STATUS_EVERY_S = 5.0

log = logging.getLogger("cti.demo")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="the daemon with a simulated contact center and a "
                       "built-in MQTT broker, live", description=__doc__.splitlines()[0]
                       if __doc__ else None)
    p.add_argument("--scenario", metavar="FILE", help="a scenario file (default: the "
                   "bundled sim/scenarios/demo.toml)")
    p.add_argument("--speed", type=float, default=10.0,
                   help="run this many times faster than life (default 10)")
    p.add_argument("--port", type=int, default=1883,
                   help="the built-in broker's port on 127.0.0.1 (default 1883; 0: any free)")
    p.add_argument("--db", metavar="FILE", help="the SQLite file to keep call records and "
                   "tickets in (default: a new one in a temporary directory)")
    p.add_argument("--calls", type=int, help="stop after this many calls (default: Ctrl-C)")
    p.add_argument("--no-view", action="store_true",
                   help="print a status line every few seconds instead of the live view")
    p.add_argument("--verbose", "-v", action="store_true", help="log what the daemon does")
    p.set_defaults(run=run_command)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    if not args.speed > 0:
        return _fail("--speed must be > 0")
    if args.calls is not None and args.calls <= 0:
        return _fail("--calls must be a positive number of calls")
    if not 0 <= args.port <= 65535:
        return _fail("--port must be in 0..65535")
    try:
        scenario = load_scenario(args.scenario or DEFAULT_SCENARIO)
    except ScenarioError as exc:
        return _fail(str(exc))
    if args.db:
        db = Path(args.db)
        if not db.parent.is_dir():
            return _fail(f"--db {args.db}: no directory {db.parent}")
    else:
        db = Path(tempfile.mkdtemp(prefix="cti-demo-")) / "cti-demo.sqlite"
    view = not args.no_view and sys.stdout.isatty()
    demo = Demo(scenario, speed=args.speed, port=args.port, db=db, calls=args.calls,
                view=view)
    demo.configure_logging(logging.INFO if args.verbose else logging.WARNING)
    return run_loop(demo.run())


class _Recent(logging.Handler):
    """Keeps the latest log lines for the live view, which owns the screen meanwhile."""

    def __init__(self, size: int = 50) -> None:
        super().__init__()
        self.lines: deque[str] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Demo:
    def __init__(self, scenario: Scenario, *, speed: float, port: int, db: Path,
                 calls: int | None = None, view: bool = False,
                 out: TextIO | None = None) -> None:
        self.speed = speed
        self.port = port
        self.db = db
        self.view = view
        self.out = out or sys.stdout
        # The demo runs until stopped unless --calls says otherwise, whatever the scenario's
        # own [run] length (meant for `cti sim`).
        self.scenario = replace(scenario, calls=calls)
        self.calls = calls
        self.recent = _Recent()
        self.started = time.monotonic()

    def configure_logging(self, level: int) -> None:
        handler: logging.Handler = self.recent if self.view else logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%H:%M:%S"))
        logging.basicConfig(level=level, handlers=[handler], force=True)

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await self._run(stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def _run(self, stop: asyncio.Event) -> int:
        broker = Broker(BrokerSettings(port=self.port))
        try:
            await broker.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                print(f"error: port {self.port} on 127.0.0.1 is in use (another MQTT broker?); "
                      f"choose another with --port, or --port 0 for any free one",
                      file=sys.stderr)
            else:
                print(f"error: cannot listen on 127.0.0.1:{self.port}: {exc}", file=sys.stderr)
            return 2
        try:
            return await self._serve(broker, stop)
        finally:
            await broker.close()

    async def _serve(self, broker: Broker, stop: asyncio.Event) -> int:
        assert broker.port is not None
        port = broker.port
        sc = self.scenario
        site = sc.config.site
        settings = Settings(
            sc.config, BusModel(port=port, client_id="cti-demo"),
            DaemonModel(shutdown_flush_s=3.0), sc.source,
            store=StoreModel(url=f"sqlite+aiosqlite:///{self.db}"),
            tickets=TicketsModel(abandoned_after_s=ABANDONED_AFTER_S),
        )
        prefix = f"demo-{uuid.uuid4().hex[:6]}-"
        pbx = RealtimePbx(sc, speed=self.speed, calls=self.calls, settle_s=0.2,
                          dispositions=DISPOSITIONS, call_prefix=prefix)
        runtime = Runtime(settings, pbx=pbx, speed=self.speed)
        agent = sc.config.agents[0].agent_id if sc.config.agents else "AGENT"
        queues = ", ".join(q.name for q in sc.config.queues)
        hints = [
            f"watch the events:  cti events --port {port}",
            f"command an agent:  cti agent {agent} not-ready lunch --port {port} --site {site}",
        ]
        self.say(
            f"cti demo: scenario {sc.name} ({sc.source}), site {site!r}, "
            f"{len(sc.config.agents)} agents, queues {queues}, x{self.speed:g} real time",
            f"MQTT broker (built in) on 127.0.0.1:{port}; store {self.db}",
            f"In a second terminal, watch the events:  cti events --port {port}",
            f"                     command an agent:  cti agent {agent} not-ready lunch "
            f"--port {port} --site {site}",
            "Ctrl-C stops it and prints a summary.",
        )
        self.started = time.monotonic()
        shown = asyncio.create_task(self._show(runtime, hints))
        failure: BaseException | None = None
        try:
            await run_realtime(runtime, pbx, signals=False, stop=stop)
        except* (SQLAlchemyError, OSError) as group:  # the store file, mostly
            failure = group.exceptions[0]
        finally:
            shown.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shown
        if failure is not None:
            print(f"error: {failure}", file=sys.stderr)
            return 2
        if self.view and self.recent.lines:
            self.say("log (latest lines):", *list(self.recent.lines)[-10:])
        final = self.snapshot(runtime)
        self.say("", *summary(final, tickets=self._read_back(runtime, prefix),
                              store=str(self.db), broker=self._broker_line(broker)))
        return 0

    # -- what is shown ----------------------------------------------------------------------

    def snapshot(self, runtime: Runtime) -> Snapshot:
        sb = runtime.switchboard
        now = runtime.clock()
        longest: dict[str, float] = {}
        # A walk over the calls in progress, once a second: tens of calls in a demo.
        for call in sb.calls.values():
            if call.state is CallState.QUEUED and call.queue is not None:
                since = call.enqueued_at if call.enqueued_at is not None else call.arrived_at
                longest[call.queue] = max(longest.get(call.queue, 0.0), now - since)
        stats = sb.statistics(now)
        return Snapshot(
            stats=stats, longest_wait=longest, speed=self.speed,
            uptime_s=time.monotonic() - self.started,
            # One screen pop is published per offer to an agent.
            screen_pops=sum(a.offered for a in stats.agents.values()),
            tickets=runtime.tickets.created, tickets_merged=runtime.tickets.merged,
            published=runtime.outbox.published, dropped=runtime.outbox.dropped,
        )

    async def _show(self, runtime: Runtime, hints: list[str]) -> None:
        if not self.view:
            while True:
                await asyncio.sleep(STATUS_EVERY_S)
                self.say(status_line(self.snapshot(runtime)))
        out = self.out
        out.write("\x1b[?1049h\x1b[?25l")  # the alternate screen, without a cursor
        try:
            while True:
                width = shutil.get_terminal_size((100, 30)).columns
                notes = list(self.recent.lines)[-3:]
                lines = render(self.snapshot(runtime), hints=hints, notes=notes, width=width)
                out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
                out.flush()
                await asyncio.sleep(VIEW_EVERY_S)
        finally:
            out.write("\x1b[?25h\x1b[?1049l")
            out.flush()

    def _read_back(self, runtime: Runtime, prefix: str) -> TicketCounts | None:
        """This run's tickets by kind and its call records, from the store it wrote."""
        boot = runtime.boot
        try:
            with contextlib.closing(sqlite3.connect(self.db)) as db:
                kinds = dict(db.execute(
                    "SELECT kind, count(*) FROM tickets WHERE substr(ticket_id, 1, ?) IN (?, ?)"
                    " GROUP BY kind", (len(boot) + 2, f"T{boot}-", f"A{boot}-")).fetchall())
                records = db.execute(
                    "SELECT count(*) FROM call_records WHERE substr(call_id, 1, ?) = ?",
                    (len(prefix), prefix)).fetchone()[0]
        except sqlite3.Error as exc:
            log.warning("could not read the store back: %s", exc)
            return None
        return TicketCounts(kinds, int(records))

    @staticmethod
    def _broker_line(broker: Broker) -> str:
        b = broker.statistics()
        return (f"built-in broker: {b.received} messages in, {b.sent} out, {b.dropped} dropped, "
                f"{b.refused} connections refused")
