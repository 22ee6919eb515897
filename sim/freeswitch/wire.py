"""The simulated FreeSWITCH's Event Socket: mod_event_socket's inbound listener, on asyncio.

Per connection, as mod_event_socket does: ``Content-Type: auth/request`` first; ``auth`` with
the password (``-ERR invalid``, then a disconnect notice and the socket closed); ``event
plain|json <names|ALL>``, ``nixevent``, ``noevents``, ``filter <header> <value>``, ``filter
delete <header> [<value>|all]``; ``api`` run inline (the listener sends no events until it
returns, which is why clients keep a second connection); ``bgapi`` answered at once with the
Job-UUID, its result fired later as BACKGROUND_JOB; ``exit`` (``+OK bye``, the disconnect
notice, close). HEARTBEAT every ``heartbeat_s``.

Each listener has a bounded queue of events not yet written (FreeSWITCH's MAX_QUEUE_LEN); an
event that finds it full is lost, and after ``max_lost`` (500) lost in a row the listener is
killed with a disconnect notice, exactly the fate of a client that does not read.

Test hooks: ``restart()`` (every channel and connection dropped, a new Core-UUID), ``drop_links()``
(sockets closed in the middle of a frame), ``burst(n)`` (n events as fast as the sockets take
them), ``inject(raw)`` (bytes on every event socket), ``stall()``/``resume()`` (a FreeSWITCH
that hangs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid as uuidlib
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from adapters.esl.codec import EslProtocolError
from adapters.esl.server import (
    DISCONNECT_GOODBYE,
    Command,
    CommandParser,
    api_response,
    auth_request,
    command_reply,
    disconnect_notice,
)
from sim.freeswitch.api import run_api
from sim.freeswitch.events import EVENT_NAMES, Block, Core, SimEvent
from sim.freeswitch.switch import Switch

__all__ = ["ListenerInfo", "SimFreeSwitch"]

log = logging.getLogger("cti.sim.freeswitch")

_BATCH = 256 * 1024


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    authed: bool
    format: str
    events: frozenset[str]
    filters: tuple[tuple[str, str], ...]
    pending: int
    lost: int


class _Listener:
    def __init__(self, fs: SimFreeSwitch, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.fs = fs
        self.reader = reader
        self.writer = writer
        self.parser = CommandParser()
        self.authed = False
        self.enabled = False
        self.all = False
        self.events: set[str] = set()
        self.format = "plain"
        self.filters: list[tuple[str, str]] = []
        self.pending: deque[bytes] = deque()
        self.lost = 0
        self.busy = False
        self.closed = False
        self.last_write = 0.0
        self._wake = asyncio.Event()

    @property
    def gone(self) -> bool:
        # A property, not the attribute, so a check after an await is not narrowed away.
        return self.closed

    def info(self) -> ListenerInfo:
        names = frozenset({"ALL"} if self.all else self.events)
        return ListenerInfo(self.authed, self.format, names, tuple(self.filters),
                            len(self.pending), self.lost)

    async def serve(self) -> None:
        self.writer.write(auth_request())
        writer = asyncio.create_task(self._write_events())
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    commands = self.parser.feed(data)
                except EslProtocolError as exc:
                    log.warning("closing a listener that sent a bad command: %s", exc)
                    break
                for command in commands:
                    await self.fs.running.wait()
                    if self.gone:
                        break
                    await self._handle(command)
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    # -- what goes out ------------------------------------------------------------------------

    def offer(self, event: SimEvent) -> None:
        if not self.enabled or self.closed:
            return
        if not (self.all or event.name in self.events):
            return
        if self.filters and not self._passes(event):
            return
        if len(self.pending) >= self.fs.max_queue:
            self.lost += 1
            self.fs.lost_events += 1
            if self.lost > self.fs.max_lost:
                log.warning("killing a listener after %d lost events", self.lost)
                self.kill("killed listener because of lost events\n")
            return
        self.lost = 0
        self.pending.append(event.frame(self.format))
        self._wake.set()

    def _passes(self, event: SimEvent) -> bool:
        # mod_event_socket's event_handler: any matching positive filter lets the event
        # through, a matching "-" filter keeps it out; "/.../" values are regular expressions.
        send = False
        for name, value in self.filters:
            hval = event.get(name)
            if hval is None:
                continue
            comp, pos = value, True
            while comp[:1] in ("+", "-", " ") and comp:
                pos = {"+": True, "-": False}.get(comp[0], pos)
                comp = comp[1:]
            if send and pos:
                continue
            if value.startswith("/"):
                pattern = comp[1:].rsplit("/", 1)[0] if comp.count("/") >= 2 else comp[1:]
                try:
                    hit = re.search(pattern, hval) is not None
                except re.error:
                    hit = False
            else:
                hit = hval.lower() == comp.lower()
            if hit:
                if not pos:
                    return False
                send = True
        return send

    async def _write_events(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.closed:
                await self._wake.wait()
                self._wake.clear()
                while self.pending and not self.closed and not self.busy:
                    if not self.fs.running.is_set():
                        await self.fs.running.wait()
                        continue
                    batch: list[bytes] = []
                    size = 0
                    while self.pending and size < _BATCH:
                        frame = self.pending.popleft()
                        batch.append(frame)
                        size += len(frame)
                    self.writer.write(b"".join(batch))
                    await self.writer.drain()
                    self.last_write = loop.time()
        except (ConnectionError, OSError):
            self.close()

    def reply(self, text: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.writer.write(command_reply(text, headers or ()))

    def kill(self, message: str) -> None:
        """What FreeSWITCH's kill_listener does: a disconnect notice, then the socket shut."""
        if self.closed:
            return
        self.writer.write(disconnect_notice(message))
        self.close()

    def close(self, *, abort: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.pending.clear()
        self._wake.set()
        self.fs.listeners.discard(self)
        transport = self.writer.transport
        if abort:
            transport.abort()
        else:
            transport.close()
            # A peer that never reads would keep the socket open forever: give up on it.
            asyncio.get_running_loop().call_later(1.0, transport.abort)

    # -- commands -----------------------------------------------------------------------------

    async def _handle(self, command: Command) -> None:
        name = command.name
        if name in ("exit", "..."):
            self.reply("+OK bye")
            self.kill(DISCONNECT_GOODBYE)
            return
        if not self.authed:
            if command.line.startswith("auth "):
                if command.line[5:] == self.fs.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.reply("-ERR invalid")
                    self.kill(DISCONNECT_GOODBYE)
            else:
                self.reply("-ERR command not found")
            return
        if name == "api":
            api_cmd, _, arg = command.arg.partition(" ")
            self.busy = True
            try:
                result = await self.fs.api(api_cmd, arg)
            finally:
                self.busy = False
                self._wake.set()
            if not self.closed:
                self.writer.write(api_response(result))
        elif name == "bgapi":
            api_cmd, _, arg = command.arg.partition(" ")
            job_uuid = command.header("Job-UUID") or str(uuidlib.uuid4())
            self.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
            self.fs.start_job(job_uuid, api_cmd, arg)
        elif name == "sendmsg":
            headers = {k.lower(): v for k, v in command.headers.items()}
            self.reply(self.fs.switch.messages.sendmsg(command.arg.strip(), headers))
        elif name == "event":
            self._event(command.arg.split())
        elif name == "nixevent":
            self._nixevent(command.arg.split())
        elif name == "noevents":
            self.pending.clear()
            if self.enabled:
                self.enabled = self.all = False
                self.events.clear()
                self.reply("+OK no longer listening for events")
            else:
                self.reply("-ERR not listening for events")
        elif name == "filter":
            self._filter(command.arg.strip())
        elif name in ("linger", "nolinger"):
            self.reply("-ERR not controlling a session")
        else:
            self.reply("-ERR command not found")

    def _event(self, words: list[str]) -> None:
        if words and words[0].lower() in ("plain", "json", "xml"):
            fmt = words.pop(0).lower()
            if fmt == "xml":
                self.reply("-ERR the simulated FreeSWITCH writes plain and json events only")
                return
            self.format = fmt
        count = 0
        for word in words:
            upper = word.upper()
            if upper not in EVENT_NAMES:
                continue  # FreeSWITCH skips names it does not know
            count += 1
            if upper == "ALL":
                self.all = True
            else:
                self.events.add(upper)
        if not count:
            self.reply("-ERR no keywords supplied")
            return
        self.enabled = True
        self.reply(f"+OK event listener enabled {self.format}")

    def _nixevent(self, words: list[str]) -> None:
        count = 0
        for word in words:
            upper = word.upper()
            if upper not in EVENT_NAMES:
                continue
            count += 1
            if upper == "ALL":
                self.all = False
                self.events.clear()
                continue
            if self.all:  # ALL less one: every event but that one
                self.all = False
                self.events = set(EVENT_NAMES) - {"ALL"}
            self.events.discard(upper)
        if not count:
            self.reply("-ERR no keywords supplied")
            return
        self.enabled = True
        self.reply("+OK events nixed")

    def _filter(self, rest: str) -> None:
        header, _, value = rest.partition(" ")
        if header.lower() == "delete" and value:
            header, _, value = value.partition(" ")
            if header.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [(h, v) for h, v in self.filters
                                if h.lower() != header.lower() or (value and v != value)]
            self.reply(f"+OK filter deleted. [{header}][{value}]")
        elif value:
            if header.lower() == "add":
                header, _, value = value.partition(" ")
            self.filters.append((header, value))
            self.reply(f"+OK filter added. [{header}]=[{value}]")
        else:
            self.reply("-ERR invalid syntax")


class SimFreeSwitch:
    """``async with SimFreeSwitch(port=0) as fs: ... fs.port ...``"""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8021, password: str = "ClueCon",
                 heartbeat_s: float | None = 20.0, speed: float = 1.0,
                 max_queue: int = 100_000, max_lost: int = 500, hostname: str | None = None,
                 prompt_s: float = 2.0) -> None:
        self.host = host
        self._port = port
        self.password = password
        self.heartbeat_s = heartbeat_s
        self.max_queue = max_queue
        self.max_lost = max_lost
        self._ipv4 = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        self._hostname = hostname
        self.core = Core(hostname=hostname, ipv4=self._ipv4)
        self.switch = Switch(self.core, self.fire, speed=speed, prompt_s=prompt_s)
        self.listeners: set[_Listener] = set()
        self.running = asyncio.Event()
        self.running.set()
        self.connections = 0
        self.lost_events = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._down_until = 0.0
        self._subscribed = asyncio.Event()

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def __aenter__(self) -> SimFreeSwitch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port,
                                                  reuse_address=True)
        if self.heartbeat_s:
            self._spawn(self._heartbeats(self.heartbeat_s))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for listener in list(self.listeners):
            # FreeSWITCH shutting down tells its listeners so (kill_all_listeners).
            listener.writer.write(disconnect_notice("The system is being shut down.\n"))
            listener.close(abort=True)
        for task in list(self._tasks):
            task.cancel()
        self.switch.reset(self.core)
        # End each connection's handler now (one may be inside a blocking api such as
        # msleep); one left to be cancelled at loop shutdown makes asyncio log an error.
        for handler in list(self._handlers):
            handler.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def listener_info(self) -> list[ListenerInfo]:
        return [listener.info() for listener in self.listeners]

    async def wait_for_subscriber(self) -> None:
        """Until a client has subscribed to events (the CLI starts the traffic then)."""
        await self._subscribed.wait()

    # -- the engine ---------------------------------------------------------------------------

    def fire(self, event: SimEvent) -> None:
        for listener in list(self.listeners):
            listener.offer(event)

    async def api(self, command: str, arg: str) -> str:
        extra = [("API-Command", command)]
        if arg:
            extra.append(("API-Command-Argument", arg))
        self.fire(self.core.event("API", extra))
        return await run_api(self.switch, command, arg)

    def start_job(self, job_uuid: str, command: str, arg: str) -> None:
        self._spawn(self._job(job_uuid, command, arg))

    async def _job(self, job_uuid: str, command: str, arg: str) -> None:
        result = await self.api(command, arg) or "Command returned no output!"
        extra = [("Job-UUID", job_uuid), ("Job-Command", command)]
        if arg:
            extra.append(("Job-Command-Arg", arg))
        self.fire(self.core.event("BACKGROUND_JOB", extra, body=result))

    async def _heartbeats(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.fire(self._heartbeat())

    def _heartbeat(self) -> SimEvent:
        sw = self.switch
        return self.core.event("HEARTBEAT", [
            ("Event-Info", "System Ready"), ("Up-Time", self.core.uptime()),
            ("Session-Count", str(len(sw.channels))), ("Max-Sessions", "1000"),
            ("Session-Per-Sec", "30"), ("Session-Since-Startup", str(sw.since_startup)),
            ("Idle-CPU", "99.000000")])

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self._down_until:
            writer.transport.abort()  # still restarting: nobody listens yet
            return
        self.connections += 1
        me = asyncio.current_task()
        if me is not None:
            self._handlers.add(me)
            me.add_done_callback(self._handlers.discard)
        listener = _Listener(self, reader, writer)
        self.listeners.add(listener)
        watch = asyncio.create_task(self._watch_subscription(listener))
        try:
            await listener.serve()
        except asyncio.CancelledError:
            pass  # stop(): the handler ends here, as a finished one (see stop)
        finally:
            watch.cancel()

    async def _watch_subscription(self, listener: _Listener) -> None:
        while not listener.enabled and not listener.closed:
            await asyncio.sleep(0.01)
        if listener.enabled:
            self._subscribed.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- test hooks ---------------------------------------------------------------------------

    async def restart(self, *, graceful: bool = True, downtime_s: float = 0.0) -> None:
        """FreeSWITCH restarts: connections closed (with "The system is being shut down."
        when ``graceful``), every channel gone without an event, a new Core-UUID."""
        for listener in list(self.listeners):
            if graceful:
                listener.kill("The system is being shut down.\n")
            else:
                listener.close(abort=True)
        for task in list(self._tasks):
            task.cancel()
        self.core = Core(hostname=self._hostname, ipv4=self._ipv4)
        self.switch.reset(self.core)
        self._down_until = asyncio.get_running_loop().time() + downtime_s
        if self.heartbeat_s:
            self._spawn(self._heartbeats(self.heartbeat_s))
        await asyncio.sleep(0)

    def drop_links(self) -> None:
        """Every connection ends in the middle of a frame (a cable pulled, a NAT timeout)."""
        frame = self._heartbeat().frame("plain")
        for listener in list(self.listeners):
            listener.writer.write(frame[:len(frame) // 2])
            listener.close()

    async def burst(self, n: int, name: str = "HEARTBEAT", chunk: int = 500) -> None:
        """Fire ``n`` events as fast as the listeners' sockets take them (a listener that does
        not read is not waited for: its queue fills, it loses events, it is killed)."""
        loop = asyncio.get_running_loop()
        extra = Block(list(self._heartbeat().blocks[1].pairs))
        for start in range(0, n, chunk):
            for _ in range(min(chunk, n - start)):
                self.fire(SimEvent(name, [self.core.head(name), extra]))
            await asyncio.sleep(0)
            while any(len(li.pending) > 4 * chunk and loop.time() - li.last_write < 0.2
                      for li in self.listeners):
                await asyncio.sleep(0.001)

    def inject(self, raw: bytes) -> None:
        """Write ``raw`` on every event socket, between two frames."""
        for listener in list(self.listeners):
            if listener.enabled:
                listener.writer.write(raw)

    def stall(self) -> None:
        """FreeSWITCH hangs: nothing is written, no command is answered."""
        self.running.clear()

    def resume(self) -> None:
        self.running.set()
