"""The inbound Event Socket client: a thin asyncio shell over the sans-IO codec.

Theory of operation. A *link* is two TCP connections to FreeSWITCH, each authenticated with
``auth <password>``: one carries events (``event plain <names>`` plus ``filter`` lines), the
other carries ``api`` commands, because FreeSWITCH runs an ``api`` inline in the listener's
thread and sends no events on that socket until it returns. ``bgapi`` goes on the event
connection: it is answered at once (its reply is paired through the codec's FIFO like any
other), and its result comes later as a BACKGROUND_JOB event carrying the client-chosen
``Job-UUID``, which the reader routes to the waiting call instead of the stream.

The readers only parse and dispatch; they never wait on the application, since FreeSWITCH
kills a listener that lets 500 events pile up. Events go to a bounded queue: when it is full
an event is dropped and counted (``dropped_events``), the first drop of a burst is logged, and
once the consumer has drained half the queue a ``Resync`` item follows with the channels
FreeSWITCH has at that moment.

A supervisor keeps the link up: no frame on the event connection for ``heartbeat_timeout_s``
(FreeSWITCH sends HEARTBEAT every 20 s by default), end of file, a disconnect notice, an
``api`` without a reply in ``command_timeout_s`` or a protocol error each end the link;
pending ``api``/``bgapi`` calls then fail with ``EslLinkLost``, and the supervisor reconnects
with jittered exponential backoff, authenticates, subscribes, re-adds the filters and puts a
``Resync`` (``show channels as json``; a changed Core-UUID means FreeSWITCH restarted and its
calls are gone) at the head of the new link's events. A refused password or subscription is
not retried: it would not fix itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from adapters.esl.codec import Connection, EslProtocolError, Event, Frame, Reply
from cti.core import CtiError

__all__ = [
    "DEFAULT_EVENTS",
    "EslAuthError",
    "EslClient",
    "EslClientStats",
    "EslLinkLost",
    "EslRefusedError",
    "Resync",
]

log = logging.getLogger("cti.esl.client")

#: ``done(result, error)`` of ``EslClient.bgapi_then``: exactly one of them is None.
JobCallback = Callable[[str | None, Exception | None], None]

#: What the call-control adapter needs.
DEFAULT_EVENTS: tuple[str, ...] = (
    "CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP_COMPLETE", "DTMF", "RECORD_STOP", "BACKGROUND_JOB", "HEARTBEAT",
)

_READ_SIZE = 256 * 1024
_JOB_PREFIX = b"Event-Name: BACKGROUND_JOB\n"


class EslRefusedError(CtiError):
    """FreeSWITCH refused the login or the subscription (an unknown event list, a malformed
    filter). Not retried: it would not fix itself."""


class EslAuthError(EslRefusedError):
    """FreeSWITCH answered ``auth`` with ``-ERR invalid``: the password is wrong."""


class EslLinkLost(CtiError):  # noqa: N818 - the name the issue gives it
    """The link to FreeSWITCH went down (or was not up) while a command waited: its outcome
    is unknown; the ``Resync`` after the reconnect tells what FreeSWITCH has."""


@dataclass(frozen=True, slots=True)
class Resync:
    """Where the stream may have missed events: the channels FreeSWITCH has now.

    It is the first item of each link (``connected``, ``reconnected``) and follows a burst of
    dropped events (``overflow``). The snapshot is taken while events flow, so events just
    before or after it may overlap it: apply them idempotently."""

    reason: Literal["connected", "reconnected", "overflow"]
    core_uuid: str
    #: The Core-UUID differs from the one seen before: FreeSWITCH restarted, its calls are gone.
    restarted: bool
    #: ``show channels as json`` rows (``{"row_count": 0}``: none).
    channels: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class EslClientStats:
    connected: bool
    links: int
    links_lost: int
    events: int
    dropped_events: int
    overflow_resyncs: int
    protocol_errors: int
    queued: int
    queue_peak: int
    last_lost_reason: str


class _LinkEndedError(Exception):
    """Internal: the link must end, for ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Conn:
    """One authenticated connection: streams, the codec, and futures waiting for replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.codec = Connection()
        self.replies: deque[asyncio.Future[Reply]] = deque()

    def send(self, command: str, headers: dict[str, str] | None = None, *,
             label: str | None = None) -> asyncio.Future[Reply]:
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        # The future and the codec's FIFO entry are appended together, with no await between,
        # so the n-th reply always answers the n-th command on this connection.
        self.writer.write(self.codec.send(command, headers, label=label))
        self.replies.append(fut)
        return fut

    def reply(self, reply: Reply) -> None:
        fut = self.replies.popleft()
        if not fut.done():  # a caller that gave up (cancelled) keeps its place in the FIFO
            fut.set_result(reply)

    def fail(self, exc: BaseException) -> None:
        while self.replies:
            fut = self.replies.popleft()
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # nobody may be waiting any more: no "never retrieved" noise

    def close(self, *, polite: bool = False) -> None:
        if polite:  # the client is closing: say goodbye, let the bytes go, then close
            with contextlib.suppress(Exception):
                self.writer.write(b"exit\n\n")
            self.writer.close()
        else:
            self.writer.transport.abort()


class EslClient:
    """``async with EslClient(host, port, password) as client: async for item in
    client.stream(): ...`` where each item is an ``Event`` or a ``Resync``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        events: Sequence[str] = DEFAULT_EVENTS,
        filters: Sequence[tuple[str, str]] = (),
        queue_size: int = 10_000,
        heartbeat_timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        command_timeout_s: float = 30.0,
        job_timeout_s: float | None = 300.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if queue_size < 2:
            raise ValueError("queue_size must be at least 2")
        if not events:
            raise ValueError("subscribe to at least one event")
        self.host = host
        self.port = port
        self.__password = password
        names = list(events)
        # bgapi results and the watchdog's heartbeats need these whatever the caller asked.
        names += [n for n in ("BACKGROUND_JOB", "HEARTBEAT") if n not in names]
        self.events = tuple(names)
        self.filters = tuple(filters)
        self.queue_size = queue_size
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self.job_timeout_s = job_timeout_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()
        self.core_uuid: str | None = None
        #: Events dropped because the queue was full (a public counter).
        self.dropped_events = 0
        self._queue: deque[Event | Resync] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._fatal: BaseException | None = None
        self._closed = False
        self._overflowed = False
        self._resyncing = False
        self._events_conn: _Conn | None = None
        #: Events of a link being set up: they follow its Resync.
        self._pre: list[Event] | None = None
        self._api_conn: _Conn | None = None
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._lost: asyncio.Future[str] | None = None
        self._up = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_frame = 0.0
        self._links = 0
        self._links_lost = 0
        self._events = 0
        self._overflow_resyncs = 0
        self._protocol_errors = 0
        self._queue_peak = 0
        self._last_lost_reason = ""

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        state = "connected" if self.connected else "closed" if self._closed else "connecting"
        return f"<EslClient {self.host}:{self.port} {state} core_uuid={self.core_uuid}>"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def statistics(self) -> EslClientStats:
        return EslClientStats(
            self.connected, self._links, self._links_lost, self._events, self.dropped_events,
            self._overflow_resyncs, self._protocol_errors, len(self._queue), self._queue_peak,
            self._last_lost_reason,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> EslClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect (retrying with backoff while FreeSWITCH cannot be reached) and return once
        the first link is up; raises ``EslRefusedError``/``EslAuthError`` if FreeSWITCH refuses."""
        if self._supervisor is not None:
            raise RuntimeError("the client is already started")
        self._supervisor = asyncio.create_task(self._supervise(), name="esl-supervisor")
        up = asyncio.create_task(self._up.wait())
        try:
            await asyncio.wait({self._supervisor, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise EslLinkLost("the client was closed before it connected")
        if self._supervisor.done():
            self._supervisor.result()  # an unexpected error: let it show
            raise EslLinkLost("the client stopped before connecting")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for task in list(self._tasks):
            task.cancel()
        self._wake()

    async def stream(self) -> AsyncIterator[Event | Resync]:
        """Events and ``Resync`` items in order; ends when the client is closed, raises
        ``EslRefusedError`` if FreeSWITCH refused a reconnect."""
        queue = self._queue
        while True:
            while not queue:
                if self._closed or self._fatal is not None:
                    if self._fatal is not None:
                        raise self._fatal
                    return
                self._getter = asyncio.get_running_loop().create_future()
                try:
                    await self._getter
                finally:
                    self._getter = None
            item = queue.popleft()
            if self._overflowed and not self._resyncing and len(queue) <= self.queue_size // 2:
                self._spawn(self._overflow_resync())
            yield item

    def subscribe(self, names: Sequence[str]) -> None:
        """Add ``names`` to the events this client receives: at once on the live link
        (FreeSWITCH's ``event`` adds to a connection's subscription) and on every reconnect.
        For events only some sites need (the IVR's CHANNEL_EXECUTE_COMPLETE), so the others do
        not pay for formatting and parsing them."""
        new = [n for n in names if n not in self.events]
        if not new:
            return
        self.events = (*self.events, *new)
        if self._events_conn is None or not self.connected:
            return  # the subscription made at connect has them

        def accepted(answer: Reply) -> None:
            if not answer.ok:
                log.warning("FreeSWITCH refused the events %s: %s", new, answer.text)

        # A lost link needs nothing here: the next connect subscribes to ``self.events``.
        self._send_then(f"event plain {' '.join(new)}", {}, accepted, lambda _r, _e: None)

    # -- commands -----------------------------------------------------------------------------

    async def api(self, command: str) -> str:
        """``api <command>`` on the command connection: the api/response body."""
        conn = self._api_conn
        if conn is None or not self.connected:
            raise EslLinkLost("not connected to FreeSWITCH")
        reply = await self._await_reply(conn.send(f"api {command}"), f"api {command}")
        return reply.text

    async def bgapi(self, command: str) -> str:
        """``bgapi <command>`` with a client-chosen Job-UUID: the BACKGROUND_JOB's body (or
        the reply's text, if FreeSWITCH refused to start the job)."""
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def settle(result: str | None, error: Exception | None) -> None:
            if answer.done():  # the caller gave up (cancelled)
                return
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(result or "")

        self.bgapi_then(command, settle)
        return await answer

    def bgapi_then(self, command: str, done: JobCallback) -> None:
        """``bgapi`` without a task: ``done(result, None)`` with the BACKGROUND_JOB's body (or
        the reply's text, if FreeSWITCH refused to start the job), or ``done(None, error)``
        with ``EslLinkLost`` or ``TimeoutError``; never called before this returns.

        The adapter's hot path: a task, a shield and two ``asyncio.timeout`` blocks per
        command were a fifth of the daemon's time at 500 calls/s; two timer handles and two
        callbacks do the same work.
        """
        loop = asyncio.get_running_loop()
        job_uuid = str(uuid.uuid4())
        job: asyncio.Future[str] = loop.create_future()
        # Before the command goes: its BACKGROUND_JOB may be read in the same chunk as its reply.
        self._jobs[job_uuid] = job

        def accepted(answer: Reply) -> None:
            if not answer.ok:
                self._jobs.pop(job_uuid, None)
                done(answer.text, None)
                return
            timeout_s = self.job_timeout_s
            late = None if timeout_s is None else loop.call_later(
                timeout_s, self._no_job, job, command, timeout_s)

            def on_job(fut: asyncio.Future[str]) -> None:
                if late is not None:
                    late.cancel()
                self._jobs.pop(job_uuid, None)
                error = None if fut.cancelled() else fut.exception()
                if fut.cancelled() or error is not None:
                    done(None, error if isinstance(error, Exception)
                         else EslLinkLost("link to FreeSWITCH lost"))
                else:
                    done(fut.result(), None)

            job.add_done_callback(on_job)

        self._send_then(f"bgapi {command}", {"Job-UUID": job_uuid}, accepted, done,
                        lambda: self._jobs.pop(job_uuid, None))

    def sendmsg_then(self, uuid: str, headers: dict[str, str], done: JobCallback) -> None:
        """``sendmsg <uuid>`` with ``headers`` (``call-command: execute``, ``execute-app-name``,
        ``execute-app-arg``, ``Event-UUID``, ...): ``done(reply_text, None)`` once FreeSWITCH
        has queued it on the channel (``+OK``, or ``-ERR ...`` when it refused), or
        ``done(None, EslLinkLost)``; never called before this returns.

        On the events connection, behind the ``bgapi`` commands given before it, so a channel
        gets its commands in the order the adapter gave them. What the application did
        arrives later as CHANNEL_EXECUTE_COMPLETE, whose ``Application-UUID`` is the
        ``Event-UUID`` given here.
        """
        self._send_then(f"sendmsg {uuid}", headers, lambda answer: done(answer.text, None),
                        done)

    def _send_then(self, what: str, headers: dict[str, str],
                   accepted: Callable[[Reply], None], done: JobCallback,
                   failed: Callable[[], object] | None = None) -> None:
        """Send a command on the events connection; its reply goes to ``accepted``, or a lost
        link (or no reply in ``command_timeout_s``) to ``done(None, error)`` after
        ``failed()``; nothing is called before this returns."""
        loop = asyncio.get_running_loop()
        conn = self._events_conn
        if conn is None or not self.connected:
            if failed is not None:
                failed()
            loop.call_soon(done, None, EslLinkLost("not connected to FreeSWITCH"))
            return
        reply = conn.send(what, headers)
        overdue = loop.call_later(self.command_timeout_s, self._no_reply, reply, what)

        def on_reply(fut: asyncio.Future[Reply]) -> None:
            overdue.cancel()
            error = fut.exception()
            if error is None:
                accepted(fut.result())
                return
            if failed is not None:
                failed()
            done(None, error if isinstance(error, Exception) else EslLinkLost(str(error)))

        reply.add_done_callback(on_reply)

    def _no_reply(self, reply: asyncio.Future[Reply], what: str) -> None:
        if reply.done():
            return
        # A late reply would be paired with the next command: the link cannot be trusted.
        self._end_link(f"no reply to {what.split(' ', 2)[:2]} in {self.command_timeout_s} s")
        if not reply.done():  # the link was ending already
            reply.set_exception(EslLinkLost(f"no reply to {what!r} in "
                                            f"{self.command_timeout_s} s"))

    @staticmethod
    def _no_job(job: asyncio.Future[str], command: str, timeout_s: float) -> None:
        if not job.done():
            job.set_exception(TimeoutError(
                f"no BACKGROUND_JOB for bgapi {command!r} in {timeout_s} s"))
            job.exception()  # the callback reads it; no "never retrieved" noise

    async def _await_reply(self, fut: asyncio.Future[Reply], what: str) -> Reply:
        try:
            async with asyncio.timeout(self.command_timeout_s):
                return await asyncio.shield(fut)
        except TimeoutError:
            # A late reply would be paired with the next command: the link cannot be trusted.
            self._end_link(f"no reply to {what.split(' ', 2)[:2]} in {self.command_timeout_s} s")
            raise EslLinkLost(f"no reply to {what!r} in {self.command_timeout_s} s") from None

    # -- the link -----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        try:
            while not self._closed:
                try:
                    await self._open_link()
                except EslRefusedError as exc:
                    log.error("FreeSWITCH %s:%s refused the client: %s", self.host, self.port,
                              exc)
                    self._fatal = exc
                    self._teardown(EslLinkLost(str(exc)))
                    self._wake()
                    return
                except (OSError, TimeoutError, EslProtocolError, _LinkEndedError,
                        EslLinkLost) as exc:
                    self._teardown(EslLinkLost(f"connecting failed: {exc}"))
                    if isinstance(exc, EslProtocolError):
                        self._protocol_errors += 1
                    delay = self._backoff(attempt)
                    attempt += 1
                    log.warning("cannot reach FreeSWITCH at %s:%s (%s); retrying in %.1f s",
                                self.host, self.port, _describe(exc), delay)
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                self._links += 1
                assert self._lost is not None
                reason = await self._lost
                self._up.clear()
                self._links_lost += 1
                self._last_lost_reason = reason
                log.warning("link to FreeSWITCH %s:%s lost: %s; reconnecting", self.host,
                            self.port, reason)
                self._teardown(EslLinkLost(f"link to FreeSWITCH lost: {reason}"))
        finally:
            self._up.clear()
            self._teardown(EslLinkLost("the client is closed"), polite=True)
            self._wake()

    def _backoff(self, attempt: int) -> float:
        # Equal jitter: never less than half the step, so a storm of clients spreads out
        # without anyone retrying at once.
        step = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** min(attempt, 30))
        return step / 2 + self._rng.uniform(0, step / 2)

    async def _open_link(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._pre = []
        events = await self._connect()
        self._events_conn = events
        self._last_frame = loop.time()
        self._spawn(self._read(events, carries_events=True))
        commands = await self._connect()
        self._api_conn = commands
        self._spawn(self._read(commands, carries_events=False))
        reply = await self._await_reply(events.send(f"event plain {' '.join(self.events)}"),
                                        "event")
        if not reply.ok:
            raise EslRefusedError(f"event subscription refused: {reply.text}")
        # With any filter, FreeSWITCH passes only matching events: let the ones the client
        # itself lives on through.
        filters = list(self.filters)
        if filters:
            filters += [("Event-Name", "BACKGROUND_JOB"), ("Event-Name", "HEARTBEAT")]
        for header, value in filters:
            reply = await self._await_reply(events.send(f"filter {header} {value}"), "filter")
            if not reply.ok:
                raise EslRefusedError(f"filter {header} {value!r} refused: {reply.text}")
        core = (await self._await_reply(commands.send("api global_getvar core_uuid"),
                                        "api global_getvar")).text.strip()
        if not core or core.startswith("-"):
            raise EslProtocolError(f"global_getvar core_uuid answered {core[:80]!r}")
        self._overflowed = False  # this link's snapshot covers what a burst dropped before it
        channels = await self._channels(commands)
        restarted = self.core_uuid is not None and core != self.core_uuid
        reason: Literal["connected", "reconnected"] = (
            "connected" if self.core_uuid is None else "reconnected")
        self.core_uuid = core
        self._spawn(self._watchdog())
        # No await from here on: the Resync goes first, then what came during the set-up,
        # then (once the link is marked up) the reader queues straight away.
        self._put(Resync(reason, core, restarted, channels), force=True)
        pre, self._pre = self._pre, None
        for event in pre:
            self._put(event)
        self._up.set()
        if restarted:
            log.warning("FreeSWITCH restarted (Core-UUID %s): its calls are gone", core)
        log.info("connected to FreeSWITCH %s:%s (Core-UUID %s, %d channels)", self.host,
                 self.port, core, len(channels))

    async def _connect(self) -> _Conn:
        async with asyncio.timeout(self.connect_timeout_s):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            conn = _Conn(reader, writer)
            try:
                await self._auth(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    async def _auth(self, conn: _Conn) -> None:
        frames: list[Reply | Event | Frame] = []
        while not any(isinstance(f, Frame) and f.content_type == "auth/request" for f in frames):
            data = await conn.reader.read(_READ_SIZE)
            if not data:
                raise _LinkEndedError("FreeSWITCH closed the connection before asking for "
                                      "a password")
            frames += conn.codec.receive(data)
        conn.writer.write(conn.codec.send(f"auth {self.__password}", label="auth"))
        while True:
            data = await conn.reader.read(_READ_SIZE)
            if not data:
                raise _LinkEndedError("FreeSWITCH closed the connection during auth")
            for item in conn.codec.receive(data):
                if isinstance(item, Reply):
                    if item.text.startswith("-ERR invalid"):
                        raise EslAuthError(
                            f"FreeSWITCH at {self.host}:{self.port} refused the password")
                    if not item.ok:
                        raise EslRefusedError(f"auth answered {item.text!r}")
                    return

    async def _channels(self, conn: _Conn) -> list[dict[str, str]]:
        text = (await self._await_reply(conn.send("api show channels as json"),
                                        "api show channels")).text
        try:
            doc = json.loads(text)
            rows = doc.get("rows", []) if doc.get("row_count") else []
            return [{str(k): str(v) for k, v in row.items()} for row in rows]
        except (ValueError, AttributeError, TypeError):
            raise EslProtocolError(
                f"show channels as json answered {text[:120]!r}") from None

    async def _read(self, conn: _Conn, *, carries_events: bool) -> None:
        """One connection's reader: parse, dispatch, never wait on anybody."""
        loop = asyncio.get_running_loop()
        is_events = carries_events
        try:
            while True:
                data = await conn.reader.read(_READ_SIZE)
                if not data:
                    raise _LinkEndedError("FreeSWITCH closed the connection")
                if is_events:
                    self._last_frame = loop.time()
                for item in conn.codec.receive(data):
                    if isinstance(item, Event):
                        if is_events:
                            self._on_event(item)
                    elif isinstance(item, Reply):
                        conn.reply(item)
                    elif item.content_type == "text/disconnect-notice":
                        raise _LinkEndedError("FreeSWITCH disconnected: "
                                    + item.body.decode("utf-8", "replace").strip())
        except EslProtocolError as exc:
            self._protocol_errors += 1
            log.error("FreeSWITCH %s:%s broke the Event Socket protocol: %s", self.host,
                      self.port, exc)
            self._end_link(f"protocol error: {exc}")
        except _LinkEndedError as exc:
            self._end_link(exc.reason)
        except OSError as exc:
            self._end_link(f"socket error: {exc}")

    def _on_event(self, event: Event) -> None:
        raw = event.raw
        if raw.startswith(_JOB_PREFIX) if event.format == "plain" else (
                event.name == "BACKGROUND_JOB"):
            job = self._jobs.get(event.get("Job-UUID") or "")
            if job is not None and not job.done():
                job.set_result(event.body.decode("utf-8", "replace"))
            return  # another client's job, or one given up on: not an ordinary event
        self._events += 1
        pre = self._pre
        if pre is None:
            self._put(event)
        elif len(pre) < self.queue_size:
            pre.append(event)
        else:
            self._drop()

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.heartbeat_timeout_s
        while True:
            await asyncio.sleep(max(0.01, timeout / 4))
            idle = loop.time() - self._last_frame
            if idle > timeout:
                self._end_link(f"no frame from FreeSWITCH for {idle:.1f} s (heartbeat "
                               f"timeout {timeout:g} s)")
                return

    def _end_link(self, reason: str) -> None:
        lost = self._lost
        if lost is not None and not lost.done():
            lost.set_result(reason)
            self._fail_waiters(EslLinkLost(f"link to FreeSWITCH lost: {reason}"))

    def _fail_waiters(self, exc: EslLinkLost) -> None:
        # At once, not when the supervisor gets round to it: a caller must not sit out a
        # timeout on a link already known dead.
        for conn in (self._events_conn, self._api_conn):
            if conn is not None:
                conn.fail(exc)
        for job in self._jobs.values():
            if not job.done():
                job.set_exception(exc)
                job.exception()

    def _teardown(self, exc: EslLinkLost, *, polite: bool = False) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._fail_waiters(exc)
        for conn in (self._events_conn, self._api_conn):
            if conn is not None:
                conn.close(polite=polite)
        self._events_conn = self._api_conn = None
        self._jobs.clear()
        self._pre = None
        self._resyncing = False

    # -- the queue ----------------------------------------------------------------------------

    def _put(self, item: Event | Resync, *, force: bool = False) -> None:
        queue = self._queue
        if not force and len(queue) >= self.queue_size:
            self._drop()
            return
        queue.append(item)
        self._queue_peak = max(self._queue_peak, len(queue))
        self._wake()

    def _drop(self) -> None:
        self.dropped_events += 1
        if not self._overflowed:
            self._overflowed = True
            log.warning("ESL event queue full (%d): dropping events until the consumer "
                        "catches up, then resyncing", self.queue_size)

    def _wake(self) -> None:
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def _overflow_resync(self) -> None:
        self._resyncing = True
        self._overflowed = False  # drops from now on call for another resync
        conn = self._api_conn
        try:
            if conn is None or self.core_uuid is None:
                return
            channels = await self._channels(conn)
        except (EslLinkLost, EslProtocolError) as exc:
            log.warning("resync after dropped events failed (%s); the reconnect will resync",
                        exc)
            return
        finally:
            self._resyncing = False
        self._overflow_resyncs += 1
        log.info("resyncing after %d dropped events in all", self.dropped_events)
        self._put(Resync("overflow", self.core_uuid, False, channels), force=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
