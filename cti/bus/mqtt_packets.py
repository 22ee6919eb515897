"""MQTT 3.1.1 and 5.0 control packets, sans-IO: frozen dataclasses, ``encode`` and a ``Decoder``.

``Decoder`` is fed bytes as they arrive (``feed``) and hands out whole packets one at a time
(``next_packet``), so that a server acts on the good packets before a bad one. It reads the
protocol version from the CONNECT it decodes, and refuses a packet whose fixed header announces
more than ``max_packet_size`` bytes before buffering any of it. Any malformed input raises
``MqttProtocolError`` naming the problem; nothing else escapes (a Hypothesis test feeds it
arbitrary bytes).

Version 3.1.1 (protocol level 4) packets have no properties and fewer reason codes: ``encode``
drops what that version cannot carry. AUTH (enhanced authentication) is decoded but a server
here refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from cti.bus.mqtt_wire import (
    MAX_VARINT,
    NO_PROPERTIES,
    PACKET_TOO_LARGE,
    PROTOCOL_ERROR,
    MqttProtocolError,
    Properties,
    Reader,
    decode_varint,
    encode_binary,
    encode_properties,
    encode_string,
    encode_varint,
    ids,
    read_properties,
)

__all__ = [
    "MAX_PACKET_SIZE", "V5", "V311", "Auth", "ConnAck", "Connect", "Decoder", "Disconnect",
    "Packet", "PingReq", "PingResp",
    "PubAck", "PubComp", "PubRec", "PubRel", "Publish", "SubAck", "Subscribe", "Subscription",
    "UnsubAck", "Unsubscribe", "UnsupportedVersionError", "Will", "encode",
]

V311, V5 = 4, 5
TOPIC_NAME_INVALID = 0x90


class UnsupportedVersionError(MqttProtocolError):
    """A CONNECT for a protocol level other than 4 (3.1.1) or 5; ``level`` is the one asked."""

    def __init__(self, level: int) -> None:
        super().__init__(f"unsupported protocol level {level}", 0x84)
        self.level = level


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Connect:
    TYPE: ClassVar[int] = 1
    client_id: str
    version: int = V5
    clean_start: bool = True
    keepalive: int = 60
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class ConnAck:
    TYPE: ClassVar[int] = 2
    session_present: bool = False
    #: 3.1.1 return code (0 to 5) or MQTT 5 reason code.
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Publish:
    TYPE: ClassVar[int] = 3
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubAck:
    TYPE: ClassVar[int] = 4
    packet_id: int
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubRec:
    TYPE: ClassVar[int] = 5
    packet_id: int
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubRel:
    TYPE: ClassVar[int] = 6
    packet_id: int
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class PubComp:
    TYPE: ClassVar[int] = 7
    packet_id: int
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Subscription:
    filter: str
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    #: 0: send retained messages at subscribe; 1: only for a new subscription; 2: never.
    retain_handling: int = 0


@dataclass(frozen=True, slots=True)
class Subscribe:
    TYPE: ClassVar[int] = 8
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class SubAck:
    TYPE: ClassVar[int] = 9
    packet_id: int
    #: Per filter: the QoS granted (0, 1, 2) or a failure code (0x80 and above).
    reasons: tuple[int, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    TYPE: ClassVar[int] = 10
    packet_id: int
    filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class UnsubAck:
    TYPE: ClassVar[int] = 11
    packet_id: int
    #: MQTT 5 only: per filter, 0x00 success or 0x11 no subscription existed.
    reasons: tuple[int, ...] = ()
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class PingReq:
    TYPE: ClassVar[int] = 12


@dataclass(frozen=True, slots=True)
class PingResp:
    TYPE: ClassVar[int] = 13


@dataclass(frozen=True, slots=True)
class Disconnect:
    TYPE: ClassVar[int] = 14
    reason: int = 0
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True)
class Auth:
    TYPE: ClassVar[int] = 15
    reason: int = 0
    properties: Properties = NO_PROPERTIES


Packet = (Connect | ConnAck | Publish | PubAck | PubRec | PubRel | PubComp | Subscribe | SubAck
          | Unsubscribe | UnsubAck | PingReq | PingResp | Disconnect | Auth)
_Ack = PubAck | PubRec | PubRel | PubComp

# Which properties each packet may carry (MQTT 5 table 2-4).
_CONNECT = ids("session_expiry", "receive_maximum", "maximum_packet_size",
               "topic_alias_maximum", "request_response_info", "request_problem_info", "user",
               "auth_method", "auth_data")
_WILL = ids("will_delay", "payload_format", "message_expiry", "content_type", "response_topic",
            "correlation_data", "user")
_CONNACK = ids("session_expiry", "receive_maximum", "maximum_qos", "retain_available",
               "maximum_packet_size", "assigned_client_id", "topic_alias_maximum",
               "reason_string", "user", "wildcard_available", "subscription_ids_available",
               "shared_available", "server_keep_alive", "response_info", "server_reference",
               "auth_method", "auth_data")
_PUBLISH = ids("payload_format", "message_expiry", "topic_alias", "response_topic",
               "correlation_data", "user", "subscription_ids", "content_type")
_PUBLISH_MULTI = ids("user", "subscription_ids")
_REASON_ONLY = ids("reason_string", "user")
_SUBSCRIBE = ids("subscription_ids", "user")
_UNSUBSCRIBE = ids("user")
_DISCONNECT = ids("session_expiry", "reason_string", "user", "server_reference")
_AUTH = ids("auth_method", "auth_data", "reason_string", "user")

#: Fixed-header flags each type must carry (PUBLISH's are its own).
_FLAGS = {6: 0b0010, 8: 0b0010, 10: 0b0010}
MAX_PACKET_SIZE = 1 + 4 + MAX_VARINT


# -- encoding ---------------------------------------------------------------------------------


def encode(packet: Packet, version: int = V5) -> bytes:
    """The packet's bytes for ``version`` (4 or 5); a 3.1.1 packet drops its properties."""
    v5 = version == V5
    flags = _FLAGS.get(packet.TYPE, 0)
    body = bytearray()
    if isinstance(packet, Connect):
        body += _encode_connect(packet, v5)
    elif isinstance(packet, ConnAck):
        body += bytes((int(packet.session_present), packet.reason))
        if v5:
            body += encode_properties(packet.properties)
    elif isinstance(packet, Publish):
        flags = (packet.dup << 3) | (packet.qos << 1) | packet.retain
        body += encode_string(packet.topic)
        if packet.qos:
            body += _packet_id(packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        body += packet.payload
    elif isinstance(packet, PubAck | PubRec | PubRel | PubComp):
        body += _packet_id(packet.packet_id)
        if v5 and (packet.reason or packet.properties):
            body.append(packet.reason)
            if packet.properties:
                body += encode_properties(packet.properties)
    elif isinstance(packet, Subscribe):
        body += _packet_id(packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        for s in packet.subscriptions:
            options = s.qos
            if v5:
                options |= (s.no_local << 2) | (s.retain_as_published << 3) | (
                    s.retain_handling << 4)
            body += encode_string(s.filter) + bytes((options,))
    elif isinstance(packet, SubAck):
        body += _packet_id(packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        body += bytes(packet.reasons if v5 else (min(r, 0x80) for r in packet.reasons))
    elif isinstance(packet, Unsubscribe):
        body += _packet_id(packet.packet_id)
        if v5:
            body += encode_properties(packet.properties)
        for f in packet.filters:
            body += encode_string(f)
    elif isinstance(packet, UnsubAck):
        body += _packet_id(packet.packet_id)
        if v5:
            body += encode_properties(packet.properties) + bytes(packet.reasons)
    elif isinstance(packet, Disconnect | Auth) and v5 and (packet.reason or packet.properties):
        body.append(packet.reason)
        if packet.properties:
            body += encode_properties(packet.properties)
    return bytes(((packet.TYPE << 4) | flags,)) + encode_varint(len(body)) + bytes(body)


def _packet_id(packet_id: int | None) -> bytes:
    if packet_id is None or not 0 < packet_id <= 0xFFFF:
        raise ValueError(f"packet id {packet_id} is not in 1..65535")
    return packet_id.to_bytes(2, "big")


def _encode_connect(p: Connect, v5: bool) -> bytes:
    will = p.will
    flags = (
        (p.username is not None) << 7 | (p.password is not None) << 6
        | (bool(will and will.retain)) << 5 | ((will.qos if will else 0) << 3)
        | (will is not None) << 2 | p.clean_start << 1
    )
    out = bytearray(encode_string("MQTT") + bytes((p.version, flags)))
    out += p.keepalive.to_bytes(2, "big")
    if v5:
        out += encode_properties(p.properties)
    out += encode_string(p.client_id)
    if will is not None:
        if v5:
            out += encode_properties(will.properties)
        out += encode_string(will.topic) + encode_binary(will.payload)
    if p.username is not None:
        out += encode_string(p.username)
    if p.password is not None:
        out += encode_binary(p.password)
    return bytes(out)


# -- decoding ---------------------------------------------------------------------------------


class Decoder:
    """Bytes in (``feed``), packets out (``next_packet``), for one connection."""

    def __init__(self, *, max_packet_size: int = MAX_PACKET_SIZE, version: int = V5) -> None:
        self.max_packet_size = max_packet_size
        #: The protocol level packets are read with; a decoded CONNECT sets it.
        self.version = version
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_packet(self) -> Packet | None:
        """The next whole packet, or None until more bytes arrive."""
        buf = self._buf
        if len(buf) < 2:
            return None
        length, n = decode_varint(buf, 1, len(buf), "remaining length")
        if n == 0:
            return None
        size = 1 + n + length
        if size > self.max_packet_size:
            raise MqttProtocolError(
                f"packet of {size} bytes is over the {self.max_packet_size}-byte limit",
                PACKET_TOO_LARGE)
        if len(buf) < size:
            return None
        head = buf[0]
        body = bytes(buf[1 + n:size])
        del buf[:size]
        packet = _decode(head >> 4, head & 0x0F, body, self.version)
        if isinstance(packet, Connect):
            self.version = packet.version
        return packet


def _decode(kind: int, flags: int, body: bytes, version: int) -> Packet:
    if kind == 3:
        return _decode_publish(flags, body, version)
    expected = _FLAGS.get(kind, 0)
    if flags != expected:
        raise MqttProtocolError(f"packet type {kind} with fixed-header flags {flags:04b}")
    decoder = _DECODERS.get(kind)
    if decoder is None or (kind == Auth.TYPE and version != V5):
        raise MqttProtocolError(f"reserved packet type {kind}")
    r = Reader(body)
    packet = decoder(r, version == V5)
    if r.left:
        raise MqttProtocolError(f"{r.left} unexpected bytes at the end of packet type {kind}")
    return packet


def _decode_connect(r: Reader, _v5: bool) -> Connect:
    name = r.string("protocol name")
    level = r.byte("protocol level")
    if name == "MQIsdp":  # MQTT 3.1: answered with its CONNACK, not parsed further
        raise UnsupportedVersionError(level)
    if name != "MQTT":
        raise MqttProtocolError(f"protocol name {name!r} is not MQTT", PROTOCOL_ERROR)
    if level not in (V311, V5):
        raise UnsupportedVersionError(level)
    v5 = level == V5
    flags = r.byte("connect flags")
    if flags & 0x01:
        raise MqttProtocolError("the reserved connect flag is set")
    will_flag, will_qos, will_retain = flags & 0x04, (flags >> 3) & 0x03, bool(flags & 0x20)
    if will_qos == 3:
        raise MqttProtocolError("will QoS 3")
    if not will_flag and (will_qos or will_retain):
        raise MqttProtocolError("will QoS or retain set without a will")
    if not v5 and flags & 0x40 and not flags & 0x80:
        raise MqttProtocolError("a password without a user name (MQTT 3.1.1)")
    keepalive = r.u16("keep alive")
    props = read_properties(r, _CONNECT, "CONNECT") if v5 else NO_PROPERTIES
    client_id = r.string("client identifier")
    will = None
    if will_flag:
        wprops = read_properties(r, _WILL, "will") if v5 else NO_PROPERTIES
        topic = r.string("will topic")
        _check_topic(topic, "will topic")
        will = Will(topic, r.binary("will payload"), will_qos, will_retain, wprops)
    username = r.string("user name") if flags & 0x80 else None
    password = r.binary("password") if flags & 0x40 else None
    return Connect(client_id, level, bool(flags & 0x02), keepalive, username, password, will,
                   props)


def _decode_connack(r: Reader, v5: bool) -> ConnAck:
    flags = r.byte("acknowledge flags")
    if flags & 0xFE:
        raise MqttProtocolError("reserved CONNACK flags are set")
    reason = r.byte("connect reason code")
    props = read_properties(r, _CONNACK, "CONNACK") if v5 else NO_PROPERTIES
    return ConnAck(bool(flags), reason, props)


def _decode_publish(flags: int, body: bytes, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MqttProtocolError("PUBLISH with QoS 3")
    dup = bool(flags & 0x08)
    if dup and not qos:
        raise MqttProtocolError("PUBLISH with DUP set at QoS 0")
    r = Reader(body)
    topic = r.string("topic name")
    if topic or version != V5:  # MQTT 5 allows an empty name with a topic alias
        _check_topic(topic, "topic name")
    packet_id = None
    if qos:
        packet_id = r.u16("packet identifier")
        if not packet_id:
            raise MqttProtocolError("PUBLISH with packet identifier 0")
    props = NO_PROPERTIES
    if version == V5:
        props = read_properties(r, _PUBLISH, "PUBLISH", multi=_PUBLISH_MULTI)
        if props.response_topic is not None:
            _check_topic(props.response_topic, "response topic")
    return Publish(topic, r.take(r.left, "payload"), qos, bool(flags & 0x01), dup, packet_id,
                   props)


def _check_topic(topic: str, what: str) -> None:
    if not topic:
        raise MqttProtocolError(f"empty {what}", TOPIC_NAME_INVALID)
    if "+" in topic or "#" in topic:
        raise MqttProtocolError(f"{what} {topic[:80]!r} contains a wildcard",
                                TOPIC_NAME_INVALID)


def _decode_ack(cls: type[_Ack]) -> Callable[[Reader, bool], _Ack]:
    def decode(r: Reader, v5: bool) -> _Ack:
        packet_id = r.u16("packet identifier")
        if not packet_id:
            raise MqttProtocolError(f"{cls.__name__} with packet identifier 0")
        reason = r.byte("reason code") if v5 and r.left else 0
        props = (read_properties(r, _REASON_ONLY, cls.__name__) if v5 and r.left
                 else NO_PROPERTIES)
        return cls(packet_id, reason, props)
    return decode


def _decode_subscribe(r: Reader, v5: bool) -> Subscribe:
    packet_id = r.u16("packet identifier")
    if not packet_id:
        raise MqttProtocolError("SUBSCRIBE with packet identifier 0")
    props = read_properties(r, _SUBSCRIBE, "SUBSCRIBE") if v5 else NO_PROPERTIES
    subs = []
    while r.left:
        topic = r.string("topic filter")
        options = r.byte("subscription options")
        qos, handling = options & 0x03, (options >> 4) & 0x03
        if qos == 3:
            raise MqttProtocolError(f"subscription to {topic[:80]!r} at QoS 3")
        if options & (0xC0 if v5 else 0xFC) or handling == 3:
            raise MqttProtocolError(f"reserved subscription options {options:08b}")
        subs.append(Subscription(topic, qos, bool(options & 0x04), bool(options & 0x08),
                                 handling))
    if not subs:
        raise MqttProtocolError("SUBSCRIBE without a topic filter", PROTOCOL_ERROR)
    return Subscribe(packet_id, tuple(subs), props)


def _decode_suback(r: Reader, v5: bool) -> SubAck:
    packet_id = r.u16("packet identifier")
    props = read_properties(r, _REASON_ONLY, "SUBACK") if v5 else NO_PROPERTIES
    return SubAck(packet_id, tuple(r.take(r.left, "reason codes")), props)


def _decode_unsubscribe(r: Reader, v5: bool) -> Unsubscribe:
    packet_id = r.u16("packet identifier")
    if not packet_id:
        raise MqttProtocolError("UNSUBSCRIBE with packet identifier 0")
    props = read_properties(r, _UNSUBSCRIBE, "UNSUBSCRIBE") if v5 else NO_PROPERTIES
    filters = []
    while r.left:
        filters.append(r.string("topic filter"))
    if not filters:
        raise MqttProtocolError("UNSUBSCRIBE without a topic filter", PROTOCOL_ERROR)
    return Unsubscribe(packet_id, tuple(filters), props)


def _decode_unsuback(r: Reader, v5: bool) -> UnsubAck:
    packet_id = r.u16("packet identifier")
    if not v5:
        return UnsubAck(packet_id)
    props = read_properties(r, _REASON_ONLY, "UNSUBACK")
    return UnsubAck(packet_id, tuple(r.take(r.left, "reason codes")), props)


def _decode_ping(cls: type[PingReq | PingResp]) -> Callable[[Reader, bool], Packet]:
    return lambda _r, _v5: cls()


def _decode_disconnect(r: Reader, v5: bool) -> Disconnect:
    if not v5 or not r.left:
        return Disconnect()
    reason = r.byte("reason code")
    props = read_properties(r, _DISCONNECT, "DISCONNECT") if r.left else NO_PROPERTIES
    return Disconnect(reason, props)


def _decode_auth(r: Reader, _v5: bool) -> Auth:
    if not r.left:
        return Auth()
    reason = r.byte("reason code")
    return Auth(reason, read_properties(r, _AUTH, "AUTH") if r.left else NO_PROPERTIES)


_DECODERS: dict[int, Callable[[Reader, bool], Packet]] = {
    1: _decode_connect, 2: _decode_connack, 4: _decode_ack(PubAck), 5: _decode_ack(PubRec),
    6: _decode_ack(PubRel), 7: _decode_ack(PubComp), 8: _decode_subscribe,
    9: _decode_suback, 10: _decode_unsubscribe, 11: _decode_unsuback,
    12: _decode_ping(PingReq), 13: _decode_ping(PingResp), 14: _decode_disconnect,
    15: _decode_auth,
}
