"""One client connection of the built-in broker (``cti.bus.broker``): an ``asyncio.Protocol``
that decodes the client's packets with the sans-IO ``mqtt_packets.Decoder`` and acts on them.

A packet that breaks the protocol closes this connection only, with a log line naming the
problem (MQTT 5 clients get a DISCONNECT with its reason code first). Writing follows the
transport's flow control: while the client's socket is full, its messages wait in its session's
bounded queue and reading from it pauses, so a client that does not read cannot grow the
broker's buffers either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING, cast

from cti.bus.broker_session import Session, SubOptions
from cti.bus.mqtt_packets import (
    MAX_PACKET_SIZE,
    V5,
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    UnsupportedVersionError,
    Will,
    encode,
)
from cti.bus.mqtt_wire import PROTOCOL_ERROR, MqttProtocolError, Properties
from cti.bus.topic_tree import filter_problem, is_shared

if TYPE_CHECKING:
    from cti.bus.broker import Broker

__all__ = ["Connection"]

log = logging.getLogger("cti.broker")

# MQTT 5 reason codes this side sends.
_BAD_AUTH_METHOD, _KEEP_ALIVE_TIMEOUT, _TAKEN_OVER = 0x8C, 0x8D, 0x8E
_ALIAS_INVALID, _ID_NOT_FOUND, _WITH_WILL = 0x94, 0x92, 0x04
_FILTER_INVALID, _SHARED_UNSUPPORTED, _NO_SUBSCRIPTION = 0x8F, 0x9E, 0x11


class Connection(asyncio.Protocol):
    """One client's connection: decodes its packets and acts on them."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.settings = broker.settings
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.decoder = Decoder(max_packet_size=self.settings.max_packet_size)
        self.version = V5
        self.session: Session | None = None
        self.client_id: str | None = None
        self.peer = "?"
        self.will: Will | None = None
        self.keepalive = 0
        self.last_seen = 0.0
        self.receive_maximum = self.settings.max_inflight
        #: The client's own Maximum Packet Size: larger messages are not sent to it.
        self.max_send = MAX_PACKET_SIZE
        self.paused = False
        self.closing = False
        self._timer: asyncio.TimerHandle | None = None
        self._abort: asyncio.TimerHandle | None = None

    @property
    def label(self) -> str:
        if self.client_id is None:
            return f"connection from {self.peer}"
        return f"client {self.client_id!r} ({self.peer})"

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self.broker.connections.add(self)
        self.last_seen = self.loop.time()
        self._timer = self.loop.call_later(self.settings.connect_timeout_s, self._no_connect)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        decoder = self.decoder
        decoder.feed(data)
        try:
            while not self.closing and (packet := decoder.next_packet()) is not None:
                self.last_seen = self.loop.time()
                self._handle(packet)
        except UnsupportedVersionError as exc:
            self.broker.refused += 1
            log.warning("%s: %s; connection refused", self.label, exc)
            # MQTT 3.1's CONNACK (return code 1) is also 3.1.1's: what an older client reads.
            self._send(ConnAck(reason=1), 4)
            self.close()
        except MqttProtocolError as exc:
            self.broker.refused += 1
            log.warning("%s: %s (reason 0x%02X); connection closed", self.label, exc,
                        exc.reason)
            if self.session is not None and self.version == V5:
                self.write(Disconnect(exc.reason))
            self.close()

    def pause_writing(self) -> None:
        # Its socket is full: messages wait in the session's queue, and the client's own
        # packets wait in the kernel, until it reads.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
        self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._timer, self._abort):
            if timer is not None:
                timer.cancel()
        self.closing = True
        self.broker.connections.discard(self)
        session, self.session = self.session, None
        if session is not None:
            self.broker.detach(self, session, self.will)

    # -- writing ----------------------------------------------------------------------------

    def write(self, packet: Packet) -> None:
        self._send(packet, self.version)

    def _send(self, packet: Packet, version: int) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode(packet, version))

    def pump(self) -> None:
        """Send what the session's queue holds, as far as the socket and the window allow."""
        session = self.session
        if session is None or self.paused or self.closing or self.transport is None:
            return
        queue, inflight, broker = session.queue, session.inflight, self.broker
        now = self.loop.time()
        while queue and not self.paused:
            out = queue[0]
            if out.qos and len(inflight) >= self.receive_maximum:
                break
            queue.popleft()
            message = out.message
            expiry = message.remaining_expiry(now)
            if expiry == 0:
                continue  # it expired while waiting
            props = message.properties
            if expiry is not None or out.subscription_ids:
                props = dataclasses.replace(props, message_expiry=expiry,
                                            subscription_ids=out.subscription_ids)
            packet_id = session.packet_id() if out.qos else None
            packet = Publish(message.topic, message.payload, out.qos, out.retain, False,
                             packet_id, props)
            data = encode(packet, self.version)
            if len(data) > self.max_send:
                session.dropped += 1
                broker.count_drop(session)
                continue
            if packet_id is not None:
                inflight[packet_id] = dataclasses.replace(packet, dup=True)
            broker.sent += 1
            self.transport.write(data)  # may pause writing at once

    def shut_down(self, reason: int) -> None:
        """The broker is stopping: tell an MQTT 5 client why, and close."""
        if self.session is not None and self.version == V5:
            self.write(Disconnect(reason))
        self.close()

    def close(self) -> None:
        if self.closing or self.transport is None:
            return
        self.closing = True
        if self._timer is not None:
            self._timer.cancel()
        self.transport.close()
        # close() waits for the buffer to drain; a peer that does not read must not keep it.
        self._abort = self.loop.call_later(2.0, self.transport.abort)

    def take_over(self) -> None:
        """Another connection took this client id: close this one, publishing its will."""
        session, self.session = self.session, None
        if self.version == V5:
            self.write(Disconnect(_TAKEN_OVER))
        log.info("%s: session taken over by a new connection", self.label)
        if session is not None:
            session.connection = None
            if self.will is not None:
                w = self.will
                self.broker.publish(self.broker.message(w.topic, w.payload, w.qos, w.retain,
                                                        w.properties, session.client_id))
        self.close()

    # -- timers -----------------------------------------------------------------------------

    def _no_connect(self) -> None:
        log.info("%s: no CONNECT within %g s; connection closed", self.label,
                 self.settings.connect_timeout_s)
        self.close()

    def _check_alive(self) -> None:
        due = self.last_seen + 1.5 * self.keepalive
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._check_alive)
            return
        log.info("%s: nothing received for 1.5 x its keep-alive of %d s; connection closed",
                 self.label, self.keepalive)
        if self.version == V5:
            self.write(Disconnect(_KEEP_ALIVE_TIMEOUT))
        self.close()

    # -- packets ----------------------------------------------------------------------------

    def _handle(self, packet: Packet) -> None:
        session = self.session
        if session is None:
            if not isinstance(packet, Connect):
                raise MqttProtocolError(f"{type(packet).__name__} before CONNECT",
                                        PROTOCOL_ERROR)
            self._connect(packet)
        elif isinstance(packet, Publish):
            self._publish(session, packet)
        elif isinstance(packet, PubAck):
            if session.inflight.pop(packet.packet_id, None) is not None:
                self.pump()
        elif isinstance(packet, PubRel):
            known = packet.packet_id in session.qos2_in
            session.qos2_in.discard(packet.packet_id)
            self.write(PubComp(packet.packet_id, 0 if known else _ID_NOT_FOUND))
        elif isinstance(packet, Subscribe):
            self._subscribe(session, packet)
        elif isinstance(packet, Unsubscribe):
            reasons = tuple(0 if self.broker.unsubscribe(session, f) else _NO_SUBSCRIPTION
                            for f in packet.filters)
            self.write(UnsubAck(packet.packet_id, reasons))
        elif isinstance(packet, PingReq):
            self.write(PingResp())
        elif isinstance(packet, Disconnect):
            self._disconnect(session, packet)
        else:  # CONNECT again, acknowledgements of QoS 2 it never got, AUTH, server packets
            raise MqttProtocolError(f"a client may not send {type(packet).__name__} here",
                                    PROTOCOL_ERROR)

    def _connect(self, p: Connect) -> None:
        self.version = p.version
        self.client_id = p.client_id or None
        props = p.properties
        if props.auth_method is not None:
            log.warning("%s: enhanced authentication (%s) is not offered; refused",
                        self.label, props.auth_method)
            self.write(ConnAck(reason=_BAD_AUTH_METHOD))
            self.close()
            return
        assigned = None
        client_id = p.client_id
        if not client_id:
            if p.version != V5 and not p.clean_start:  # [MQTT-3.1.3-8]
                log.warning("%s: an empty client id needs a clean session; refused",
                            self.label)
                self.write(ConnAck(reason=2))
                self.close()
                return
            client_id = assigned = f"auto-{uuid.uuid4().hex[:16]}"
        self.client_id = client_id
        s = self.settings
        if p.version == V5:
            self.receive_maximum = min(props.receive_maximum or 65535, s.max_inflight)
            self.max_send = props.maximum_packet_size or MAX_PACKET_SIZE
            asked = props.session_expiry or 0
        else:
            asked = 0 if p.clean_start else s.max_session_expiry_s
        expiry = min(asked, s.max_session_expiry_s)
        self.keepalive = p.keepalive
        self.will = p.will
        session, present = self.broker.attach(self, client_id, clean=p.clean_start)
        self.session = session
        session.expiry_s = expiry
        self.write(ConnAck(present, 0, Properties(
            assigned_client_id=assigned, maximum_packet_size=s.max_packet_size,
            shared_available=0, session_expiry=expiry if expiry != asked else None,
        )))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.keepalive:
            self._timer = self.loop.call_at(self.last_seen + 1.5 * self.keepalive,
                                            self._check_alive)
        if present and self.transport is not None:
            for packet in session.inflight.values():  # again, with DUP, in their order
                self.transport.write(encode(packet, self.version))
        self.pump()

    def _publish(self, session: Session, p: Publish) -> None:
        if p.properties.topic_alias is not None:
            raise MqttProtocolError("topic alias used, but Topic Alias Maximum is 0",
                                    _ALIAS_INVALID)
        if not p.topic:
            raise MqttProtocolError("empty topic name without a topic alias", PROTOCOL_ERROR)
        broker = self.broker
        broker.received += 1
        if p.qos == 2:
            assert p.packet_id is not None
            if p.packet_id not in session.qos2_in:  # else a resend: delivered already
                session.qos2_in.add(p.packet_id)
                broker.publish(broker.message(p.topic, p.payload, p.qos, p.retain,
                                              p.properties, session.client_id))
            self.write(PubRec(p.packet_id))
            return
        broker.publish(broker.message(p.topic, p.payload, p.qos, p.retain, p.properties,
                                      session.client_id))
        if p.qos == 1:
            assert p.packet_id is not None
            self.write(PubAck(p.packet_id))

    def _subscribe(self, session: Session, p: Subscribe) -> None:
        v5 = self.version == V5
        ids = p.properties.subscription_ids
        sub_id = ids[0] if ids else None
        reasons: list[int] = []
        retained: list[tuple[str, SubOptions]] = []
        for s in p.subscriptions:
            problem = filter_problem(s.filter)
            if problem is not None or is_shared(s.filter):
                log.info("%s: subscription refused: %s", self.label,
                         problem or f"shared subscriptions are not offered: {s.filter!r}")
                reasons.append((_FILTER_INVALID if problem else _SHARED_UNSUPPORTED)
                               if v5 else 0x80)
                continue
            granted = min(s.qos, 1)
            opts = SubOptions(granted, s.no_local, s.retain_as_published, sub_id)
            new = self.broker.subscribe(session, s.filter, opts)
            reasons.append(granted)
            if s.retain_handling == 0 or (s.retain_handling == 1 and new):
                retained.append((s.filter, opts))
        self.write(SubAck(p.packet_id, tuple(reasons)))
        for pattern, opts in retained:
            self.broker.send_retained(session, pattern, opts)

    def _disconnect(self, session: Session, p: Disconnect) -> None:
        expiry = p.properties.session_expiry
        if expiry is not None:
            if session.expiry_s == 0 and expiry > 0:  # [MQTT-3.14.2-2]
                raise MqttProtocolError("session expiry set at DISCONNECT after 0 at CONNECT",
                                        PROTOCOL_ERROR)
            session.expiry_s = min(expiry, self.settings.max_session_expiry_s)
        if p.reason != _WITH_WILL:
            self.will = None  # a normal DISCONNECT discards the will [MQTT-3.14.4-3]
        self.close()
