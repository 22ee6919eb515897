"""A small MQTT broker (3.1.1 and 5.0) on asyncio, for ``cti demo``: no Mosquitto to install.

What it does: publish and subscribe with ``+`` and ``#`` filters (``$`` topics are not matched by
a leading wildcard), QoS 0 and 1 to subscribers (QoS 2 is accepted from publishers, with its
exactly-once handshake, and granted as 1 in SUBACK), retained messages (an empty payload
clears one), last will (MQTT 5 will delay too), sessions that outlive a connection when the
client asks (clean session off / session expiry), keep-alive (a client silent for 1.5 times its
keep-alive is closed and its will published), and the MQTT 5 properties an agent's command and
its reply need, forwarded as sent: response topic, correlation data, user properties, content
type, payload format, message expiry (counted down while the message waits).

What protects it: each connection is an ``asyncio.Protocol`` that decodes with the sans-IO
``mqtt_packets.Decoder``; a malformed or oversized packet (``max_packet_size``, announced in
CONNACK) closes that connection with a log line naming the problem, and nobody else notices.
Messages to a client wait in its session's bounded queue when its socket is full (the
transport's flow control) or its QoS 1 window is; beyond ``queue_limit`` the oldest is dropped
and counted, so a slow subscriber never stalls the publisher or the other subscribers.

What it does not: authentication and ACLs (it listens on 127.0.0.1 by default), TLS,
WebSockets, shared subscriptions (refused in SUBACK), topic aliases (Topic Alias Maximum 0),
enhanced authentication (AUTH), persistence across restarts. Use Mosquitto for a real site.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cti.bus.broker_connection import Connection
from cti.bus.broker_session import Message, Outgoing, Session, SubOptions
from cti.bus.mqtt_packets import Will
from cti.bus.mqtt_wire import Properties, only
from cti.bus.topic_tree import TopicTree, filter_matches

__all__ = ["Broker", "BrokerSettings", "BrokerStatistics"]

log = logging.getLogger("cti.broker")

#: Properties of a PUBLISH that travel with the message to its subscribers.
_FORWARDED = ("payload_format", "content_type", "response_topic", "correlation_data", "user")
_SERVER_SHUTTING_DOWN = 0x8B  # MQTT 5 reason code


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883  # 0: any free port (``Broker.port`` says which)
    #: Larger packets close the connection; events and agent commands are far smaller.
    max_packet_size: int = 1 << 20
    #: Messages waiting per client beyond its socket's buffer; the oldest go first.
    queue_limit: int = 1000
    #: QoS 1 messages sent to one client and not yet acknowledged (capped by its own
    #: Receive Maximum).
    max_inflight: int = 100
    connect_timeout_s: float = 10.0
    #: Longest a session outlives its connection (MQTT 3.1.1 persistent sessions get this).
    max_session_expiry_s: int = 3600
    max_retained: int = 100_000


@dataclass(frozen=True, slots=True)
class BrokerStatistics:
    clients: int
    sessions: int
    subscriptions: int
    retained: int
    #: PUBLISH packets received from clients, and sent to them.
    received: int
    sent: int
    #: Messages a client could not take in time (queue full) or at all (over its size limit).
    dropped: int
    #: Connections closed for breaking the protocol (malformed, oversized, ...).
    refused: int


class Broker:
    def __init__(self, settings: BrokerSettings | None = None) -> None:
        self.settings = settings or BrokerSettings()
        self.sessions: dict[str, Session] = {}
        self.tree: TopicTree[SubOptions] = TopicTree()
        self.retained: dict[str, Message] = {}
        self.connections: set[Connection] = set()
        self.received = self.sent = self.dropped = self.refused = 0
        self.closing = False
        self._server: asyncio.Server | None = None
        self._dropped_logged_at = -1e9
        #: The port it listens on, once started.
        self.port: int | None = None

    async def start(self) -> None:
        """Listen; ``OSError`` (address in use, ...) reaches the caller."""
        loop = asyncio.get_running_loop()
        s = self.settings
        self._server = await loop.create_server(lambda: Connection(self), s.host, s.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("MQTT broker listening on %s:%d", s.host, self.port)

    async def close(self) -> None:
        """Stop listening and close every connection (MQTT 5 clients are told why)."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.shut_down(_SERVER_SHUTTING_DOWN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self._server is not None:
            await self._server.wait_closed()
        for session in self.sessions.values():
            session.cancel_timers()

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def statistics(self) -> BrokerStatistics:
        return BrokerStatistics(
            clients=sum(1 for c in self.connections if c.session is not None),
            sessions=len(self.sessions), subscriptions=self.tree.count,
            retained=len(self.retained), received=self.received, sent=self.sent,
            dropped=self.dropped, refused=self.refused,
        )

    # -- sessions ---------------------------------------------------------------------------

    def attach(self, conn: Connection, client_id: str, *, clean: bool) -> tuple[Session, bool]:
        """The session for a new connection, and whether it existed (session present)."""
        session = self.sessions.get(client_id)
        if session is not None:
            session.cancel_timers()
            if session.connection is not None:
                session.connection.take_over()
            pending, session.pending_will = session.pending_will, None
            if clean:
                if pending is not None:  # the session ends here, and its delayed will with it
                    self.publish(pending)
                self._end(session)
                session = None
        if session is None:
            session = self.sessions[client_id] = Session(client_id, self.settings.queue_limit)
            present = False
        else:
            present = True
        session.connection = conn
        return session, present

    def detach(self, conn: Connection, session: Session, will: Will | None) -> None:
        """A connection is gone: publish its will (or delay it), and end or keep its session."""
        session.connection = None
        loop = asyncio.get_running_loop()
        if will is not None and not self.closing:
            message = self.message(will.topic, will.payload, will.qos, will.retain,
                                   will.properties, session.client_id)
            delay = will.properties.will_delay or 0
            if delay and session.expiry_s > 0:
                session.pending_will = message
                session.will_timer = loop.call_later(min(delay, session.expiry_s),
                                                     self._delayed_will, session)
            else:
                self.publish(message)
        if session.expiry_s <= 0:
            self._end(session)
        elif not self.closing:
            session.expiry_timer = loop.call_later(session.expiry_s, self._expire, session)

    def _delayed_will(self, session: Session) -> None:
        session.will_timer = None
        message, session.pending_will = session.pending_will, None
        if message is not None:
            self.publish(message)

    def _expire(self, session: Session) -> None:
        session.expiry_timer = None
        if session.connection is None and self.sessions.get(session.client_id) is session:
            self._delayed_will(session)
            self._end(session)

    def _end(self, session: Session) -> None:
        session.cancel_timers()
        for pattern in session.subscriptions:
            self.tree.remove(pattern, session.client_id)
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def subscribe(self, session: Session, pattern: str, opts: SubOptions) -> bool:
        session.subscriptions[pattern] = opts
        return self.tree.add(pattern, session.client_id, opts)

    def unsubscribe(self, session: Session, pattern: str) -> bool:
        session.subscriptions.pop(pattern, None)
        return self.tree.remove(pattern, session.client_id)

    # -- messages ---------------------------------------------------------------------------

    def message(self, topic: str, payload: bytes, qos: int, retain: bool, props: Properties,
                origin: str) -> Message:
        expires = None
        if props.message_expiry is not None:
            expires = asyncio.get_running_loop().time() + props.message_expiry
        return Message(topic, payload, qos, retain, only(props, *_FORWARDED), origin, expires)

    def publish(self, message: Message) -> None:
        """A message from a client (or a will): keep it if retained, and route it."""
        if message.retain:
            if not message.payload:
                self.retained.pop(message.topic, None)
            elif message.topic in self.retained or len(self.retained) < self.settings.max_retained:
                self.retained[message.topic] = message
            else:
                log.warning("retained message on %s not kept: %d topics retained already",
                            message.topic, len(self.retained))
        # One delivery per session, at the highest QoS of its matching subscriptions, with
        # every matching subscription identifier [MQTT-3.3.4-3, -5].
        targets: dict[str, tuple[int, bool, tuple[int, ...]]] = {}
        for client_id, opts in self.tree.match(message.topic):
            if opts.no_local and client_id == message.origin:
                continue
            qos = min(message.qos, opts.qos)
            ids: tuple[int, ...] = (
                (opts.subscription_id,) if opts.subscription_id is not None else ())
            prev = targets.get(client_id)
            if prev is not None:
                qos, keep, ids = max(qos, prev[0]), prev[1] or opts.retain_as_published, \
                    prev[2] + ids
            else:
                keep = opts.retain_as_published
            targets[client_id] = (qos, keep, ids)
        sessions = self.sessions
        for client_id, (qos, keep, ids) in targets.items():
            self.deliver(sessions[client_id],
                         Outgoing(message, qos, message.retain and keep, ids))

    def deliver(self, session: Session, out: Outgoing) -> None:
        if session.enqueue(out):
            self.count_drop(session)
        conn = session.connection
        if conn is not None:
            conn.pump()

    def send_retained(self, session: Session, pattern: str, opts: SubOptions) -> None:
        """The retained messages a new subscription matches (a scan: there are few)."""
        now = asyncio.get_running_loop().time()
        ids: tuple[int, ...] = (
            (opts.subscription_id,) if opts.subscription_id is not None else ())
        for topic, message in list(self.retained.items()):
            if message.expires_at is not None and message.expires_at <= now:
                del self.retained[topic]
            elif filter_matches(pattern, topic):
                self.deliver(session, Outgoing(message, min(message.qos, opts.qos), True, ids))

    def count_drop(self, session: Session) -> None:
        self.dropped += 1
        now = asyncio.get_running_loop().time()
        if now - self._dropped_logged_at >= 10:
            self._dropped_logged_at = now
            log.warning("client %r does not keep up: %d messages dropped for it so far "
                        "(%d in all)", session.client_id, session.dropped, self.dropped)
