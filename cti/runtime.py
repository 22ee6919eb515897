"""The daemon's runtime: the switchboard on an asyncio loop, with its clock, timers and bus.

It is the only place that reads the clock. Every event (from a PBX adapter, or an agent command
from the bus) goes through ``submit``, which stamps it with the time, hands it to the
switchboard, passes the PBX commands to the adapter and the notifications to the outbox, and
re-arms the one timer the switchboard needs (``next_deadline``). Nothing on that path awaits.

Background work runs under one ``TaskGroup``: the bus publisher (which also receives agent
commands), and the PBX adapter's own tasks. SIGTERM and SIGINT stop the daemon cleanly: no new
calls are taken, every logged-in agent's final state is published, and the outbox is given
``shutdown_flush_s`` to drain. SIGHUP reloads queues, strategies, the roster and the IVR flows
and sources from the configuration file without dropping calls in progress (a call in a flow
finishes the flow it started); a file with a mistake is refused with
its error logged, and the running configuration stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import aiomqtt
from sqlalchemy.exc import SQLAlchemyError

from cti.bus.commands import (
    CommandError,
    command_filter,
    parse_command,
    reply,
    supervisor_topic,
)
from cti.bus.mqtt import BrokerConfig, MqttPublisher
from cti.bus.outbox import Outbox
from cti.config import ConfigFileError, Settings, load_settings
from cti.core import (
    AgentLogin,
    AgentNotReady,
    AgentState,
    AgentStateChanged,
    CallArrived,
    CtiError,
    CustomerLookupDone,
    Event,
    LookupCustomer,
    LookupData,
    PbxCommand,
    Switchboard,
    WrapUpDone,
)
from cti.core.notifications import Notification
from cti.core.switchboard import Output
from cti.ivr_sources import DataSources
from cti.loop import settle_heap
from cti.store.customers import caller_history, lookup_customer
from cti.store.writer import STORED, StoreWriter
from cti.tickets import TicketDesk

__all__ = ["PbxLink", "Runtime"]

log = logging.getLogger("cti.runtime")


def _scaled_clock(speed: float) -> Callable[[], float]:
    """POSIX time that starts now and runs ``speed`` times faster (calendars still work)."""
    wall, mono = time.time(), time.monotonic()
    return lambda: wall + speed * (time.monotonic() - mono)


class PbxLink(Protocol):
    """What an adapter (FreeSWITCH, SIP, the real-time simulator) provides the runtime."""

    # An adapter that also stands for the CRM (the real-time simulator) sets
    # ``answers_lookups = True`` and a ``lookup(command)`` method, which gets every
    # ``LookupCustomer`` and ``LookupData``; otherwise the runtime answers customer lookups from
    # the store and IVR lookups from ``[ivr.sources]`` and the store (``cti.ivr_sources``).

    def execute(self, command: PbxCommand) -> None:
        """Carry out a command; must not block (queue it for the adapter's writer task)."""

    async def run(self, runtime: Runtime) -> None:
        """The adapter's own work (reading its wire, calling ``runtime.submit``) until
        cancelled."""


#: The collector's thresholds once the daemon runs (Python's defaults: 700, 10, 10). With the
#: defaults, objects that live a while (a SIP transaction stays 32 s for its retransmissions)
#: reached the older generations quickly, and at 1,000 calls/s their collections held the loop
#: 20-100 ms about once a second: 44 of the 48 loop pauses over 8 ms in a 20 s run came within
#: 150 ms of a collection, and INVITE -> 302 p99 as SIPp saw it was 48 ms. With these, young
#: collections are rarer and still short (1-3 ms), older ones much rarer: p99 4 ms, one pause
#: over 4 ms in the run. Cyclic garbage waits longer for its collection; the daemon makes little.
GC_THRESHOLDS = (10_000, 50, 100)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        pbx: PbxLink | None = None,
        clock: Callable[[], float] | None = None,
        speed: float = 1.0,
    ) -> None:
        """``speed`` > 1 runs the switchboard's clock that many times faster than the wall
        clock (the real-time simulator's ``--speed``); a PBX would use 1."""
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.settings = settings
        self.pbx = pbx
        self.speed = speed
        if clock is None:
            clock = time.time if speed == 1.0 else _scaled_clock(speed)
        self.clock = clock
        config = settings.switchboard
        self.site = config.site
        bus = settings.bus
        self.store = (StoreWriter(settings.store.url,
                                  flush_interval_s=settings.store.flush_interval_s)
                      if settings.store is not None else None)
        # Build only the notifications somebody takes: all for a bus, the stored kinds for a
        # store alone, none without either.
        notify: tuple[type[Notification], ...] | None = None
        if bus is None:
            notify = STORED if self.store is not None else ()
        # Ticket ids are unique per start of the daemon, so they never repeat across restarts.
        self.boot = uuid.uuid4().hex[:8]
        self.switchboard = Switchboard(config, now=clock(), notify=notify,
                                       ticket_prefix=f"T{self.boot}-")
        abandoned = settings.tickets.abandoned_after_s
        self.tickets = TicketDesk(abandoned_after_s=None if abandoned < 0 else abandoned,
                                  merge_window_s=settings.tickets.merge_window_s,
                                  prefix=f"A{self.boot}-",
                                  follow_up=settings.tickets.follow_up)
        self.outbox = Outbox(self.site, bus.outbox_capacity if bus else 100_000)
        self.publisher: MqttPublisher | None = None
        if bus is not None:
            broker = BrokerConfig(
                host=bus.host, port=bus.port, username=bus.username, password=bus.password,
                client_id=bus.client_id, format=bus.format, keepalive_s=bus.keepalive_s,
            )
            self.publisher = MqttPublisher(
                broker, self.outbox, on_message=self._on_bus_message,
                subscriptions=(command_filter(self.site), supervisor_topic(self.site)),
            )
            self.outbox.on_put = self.publisher.wake
        self.accepting = True
        #: The HTTP server's port once it listens (``[http] port = 0`` picks one); it serves
        #: ``/metrics`` too, hence the second name.
        self.http_port: int | None = None
        self.metrics_port: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop: asyncio.Event | None = None
        self.sources = DataSources(
            settings.ivr.sources if settings.ivr is not None else {},
            self.store.engine if self.store is not None else None,
            self._answer_lookup, self._spawn)

    # -- the hot path -----------------------------------------------------------------------

    def submit(self, event: Event) -> Output:
        """Apply one event now. Errors of the switchboard (``LocalProtocolError``,
        ``InvalidTransition``) reach the caller with nothing changed."""
        if not self.accepting and isinstance(event, CallArrived):
            raise CtiError("the daemon is shutting down and takes no new calls")
        now = self.clock()
        out = self.switchboard.handle(event, now)
        if self.store is not None and isinstance(event, CallArrived):
            self.store.opened(event, now)
        if isinstance(event, WrapUpDone):
            out.notifications.extend(
                self.tickets.wrapped_up(event.agent_id, event.disposition, now))
        self._dispatch(out)
        return out

    def _dispatch(self, out: Output) -> None:
        pbx = self.pbx
        for cmd in out.commands:
            if isinstance(cmd, PbxCommand):
                if pbx is not None:
                    pbx.execute(cmd)
            elif isinstance(cmd, LookupCustomer | LookupData):
                if getattr(pbx, "answers_lookups", False):
                    pbx.lookup(cmd)  # type: ignore[union-attr]
                elif isinstance(cmd, LookupCustomer):
                    self._look_up(cmd)
                else:
                    self.sources.look_up(cmd)
        if out.notifications:
            self._deliver(self.tickets.process(out.notifications))
        self._arm()

    def _deliver(self, notes: list[Notification]) -> None:
        """To every subscriber configured: the bus's outbox and the store."""
        if self.publisher is not None:
            put = self.outbox.put
            for note in notes:
                put(note)
        if self.store is not None:
            keep = self.store.put
            for note in notes:
                keep(note)

    def _arm(self) -> None:
        due = self.switchboard.next_deadline()
        if due == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = None
        if due is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, (due - self.clock()) / self.speed),
                                          self._fire)

    def _look_up(self, cmd: LookupCustomer) -> None:
        """The switchboard asked for the caller's record: find it off the hot path and hand
        the answer back as an event (the switchboard routes without it after its timeout)."""
        loop = asyncio.get_running_loop()
        if self.store is None:
            loop.call_soon(self._answer_lookup, CustomerLookupDone(cmd.call_id, None))
            return
        task = loop.create_task(self._fetch_customer(cmd))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch_customer(self, cmd: LookupCustomer) -> None:
        assert self.store is not None
        engine = self.store.engine
        history: dict[str, object] = {}
        try:
            record = await lookup_customer(engine, cmd.caller)
            history = await caller_history(engine, cmd.caller, now=self.clock(),
                                           ticket_window_s=self.settings.tickets.merge_window_s)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("customer lookup for call %s failed: %s", cmd.call_id, exc)
            record = None
        self._answer_lookup(CustomerLookupDone(cmd.call_id, record, history))

    def _answer_lookup(self, event: Event) -> None:
        try:
            self.submit(event)
        except CtiError as exc:  # the call ended meanwhile: nothing to do
            log.debug("lookup answer dropped: %s", exc)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self._dispatch(self.switchboard.on_timer(self.clock()))

    # -- agent commands from the bus ----------------------------------------------------------

    def _on_bus_message(self, message: aiomqtt.Message) -> bytes | None:
        bus = self.settings.bus
        fmt = bus.format if bus else "msgpack"
        try:
            event = parse_command(self.site, str(message.topic), message.payload, fmt)
            self.submit(event)
        except (CommandError, CtiError) as exc:
            log.info("command on %s refused: %s", message.topic, exc)
            return reply(str(exc), fmt)
        return reply(None, fmt)

    # -- running ----------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def reload(self) -> None:
        """SIGHUP: re-read queues, strategies and the roster; calls in progress stay."""
        try:
            settings = load_settings(self.settings.source)
            out = self.switchboard.reconfigure(settings.switchboard, self.clock())
        except (ConfigFileError, CtiError, OSError) as exc:
            log.error("reload refused, the running configuration stays: %s", exc)
            return
        # The bus, store and HTTP server stay as started; thresholds follow the file.
        self.settings = dataclasses.replace(self.settings, switchboard=settings.switchboard,
                                            daemon=settings.daemon,
                                            wallboard=settings.wallboard)
        self.sources.tables = settings.ivr.sources if settings.ivr is not None else {}
        log.info("configuration reloaded from %s", self.settings.source)
        self._dispatch(out)

    async def run(self, *, ready: asyncio.Event | None = None,
                  signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if signals:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            async with asyncio.TaskGroup() as tasks:
                background = []
                if self.store is not None:
                    await self.store.create_tables()
                    await self._recover(self.store)
                    background.append(tasks.create_task(self.store.run()))
                if self.publisher is not None:
                    background.append(tasks.create_task(self.publisher.run()))
                if self.pbx is not None:
                    background.append(tasks.create_task(self.pbx.run(self)))
                http = self.settings.http
                if http is not None:
                    from cti.web import serve_http  # noqa: PLC0415 - aiohttp only if asked for

                    background.append(tasks.create_task(serve_http(
                        self, http, started=self._http_started)))
                self._arm()
                settle_heap(GC_THRESHOLDS)
                if ready is not None:
                    ready.set()
                await self._stop.wait()
                await self._shut_down()
                for task in background:
                    task.cancel()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    with contextlib.suppress(ValueError, RuntimeError):
                        loop.remove_signal_handler(sig)

    async def _recover(self, store: StoreWriter) -> None:
        """After a crash: close the calls it interrupted, and log back in the agents it left
        logged in (not ready, reason ``recovered``: a person decides when they take calls)."""
        closed, agents = await store.recover(self.clock())
        if closed:
            log.warning("recovery: %d calls left open by the last run closed as interrupted",
                        closed)
        roster = {a.agent_id for a in self.settings.switchboard.agents}
        restored = [a for a in agents if a in roster]
        for agent_id in restored:
            self.submit(AgentLogin(agent_id))
            self.submit(AgentNotReady(agent_id, "recovered"))
        if restored:
            log.warning("recovery: %d agents logged back in, not ready: %s", len(restored),
                        ", ".join(restored))

    def _http_started(self, port: int) -> None:
        self.http_port = self.metrics_port = port
        host = self.settings.http.host if self.settings.http else ""
        log.info("wallboard on http://%s:%d/, metrics on /metrics, API on /api/v1/", host, port)

    async def _shut_down(self) -> None:
        self.accepting = False
        now = self.clock()
        # Subscribers (wallboards, CRMs) must not show agents as reachable through a daemon
        # that is gone; the retained state and the history say so.
        self._deliver([
            AgentStateChanged(agent.ident, AgentState.LOGGED_OUT.value, agent.state.value,
                              "shutdown", now)
            for agent in self.switchboard.agents.values()
            if agent.state is not AgentState.LOGGED_OUT
        ])
        if self.store is not None:
            await self.store.close()
        if self.publisher is None:
            return
        flushed = await self.publisher.flush(self.settings.daemon.shutdown_flush_s)
        if not flushed:
            log.warning("shutdown: %d events could not reach the broker in time",
                        len(self.outbox))
