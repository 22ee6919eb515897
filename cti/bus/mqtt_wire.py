"""MQTT's wire primitives and properties, sans-IO: integers, strings, the variable byte integer,
and MQTT 5 properties, each bounded, for ``cti.bus.mqtt_packets`` (the packets) to build on.

Everything that reads the wire raises ``MqttProtocolError`` (a ``RemoteProtocolError``) on any
malformed input, never anything else: a short buffer, a variable byte integer longer than four
bytes or not minimally encoded, a string that is not UTF-8 or holds U+0000, a property the
packet may not carry, one given twice, or a value out of its range. ``reason`` is the MQTT 5
reason code a server sends back in its DISCONNECT (0x81 malformed packet, 0x82 protocol error,
...).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from cti.core import RemoteProtocolError

__all__ = [
    "MALFORMED",
    "MAX_VARINT",
    "NO_PROPERTIES",
    "PACKET_TOO_LARGE",
    "PROTOCOL_ERROR",
    "MqttProtocolError",
    "Properties",
    "Reader",
    "decode_varint",
    "encode_binary",
    "encode_properties",
    "encode_string",
    "encode_varint",
    "ids",
    "only",
    "read_properties",
]

#: The largest value a variable byte integer holds (four bytes of seven bits).
MAX_VARINT = 268_435_455

# MQTT 5 reason codes of a server's DISCONNECT for what the peer did wrong.
MALFORMED = 0x81
PROTOCOL_ERROR = 0x82
PACKET_TOO_LARGE = 0x95


class MqttProtocolError(RemoteProtocolError):
    """The peer sent bytes that break MQTT; ``reason`` is the MQTT 5 reason code for it."""

    def __init__(self, problem: str, reason: int = MALFORMED) -> None:
        super().__init__(problem)
        self.reason = reason


# -- reading ----------------------------------------------------------------------------------


class Reader:
    """A cursor over one packet's bytes; every read checks the bound first."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise MqttProtocolError(f"packet ends inside its {what}")
        start = self.pos
        self.pos += n
        return bytes(self.data[start:self.pos])

    def byte(self, what: str) -> int:
        if self.pos >= self.end:
            raise MqttProtocolError(f"packet ends before its {what}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "big")

    def varint(self, what: str) -> int:
        value, n = decode_varint(self.data, self.pos, self.end, what)
        if n == 0:
            raise MqttProtocolError(f"packet ends inside its {what}")
        self.pos += n
        return value

    def binary(self, what: str) -> bytes:
        return self.take(self.u16(what), what)

    def string(self, what: str) -> str:
        raw = self.binary(what)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MqttProtocolError(f"{what} is not valid UTF-8") from None
        if "\0" in text:
            raise MqttProtocolError(f"{what} contains U+0000")
        return text


def decode_varint(data: bytes | bytearray | memoryview, pos: int, end: int,
                  what: str) -> tuple[int, int]:
    """The variable byte integer at ``pos`` and its length in bytes; length 0 when the bytes
    stop before it ends (more may come)."""
    value = 0
    for i in range(4):
        if pos + i >= end:
            return 0, 0
        b = data[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            # [MQTT-1.5.5-1]: the minimum number of bytes; a trailing zero group is not.
            if i and b == 0:
                raise MqttProtocolError(f"{what} is not minimally encoded")
            return value, i + 1
    raise MqttProtocolError(f"{what} is longer than four bytes")


# -- writing ----------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        if value:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def encode_binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes do not fit a two-byte length")
    return len(data).to_bytes(2, "big") + data


def encode_string(text: str) -> bytes:
    return encode_binary(text.encode("utf-8"))


# -- MQTT 5 properties ------------------------------------------------------------------------

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)


@dataclass(frozen=True, slots=True)
class Properties:
    """MQTT 5 properties of one packet (None: absent). Each packet type allows a subset."""

    payload_format: int | None = None
    message_expiry: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_ids: tuple[int, ...] = ()
    session_expiry: int | None = None
    assigned_client_id: str | None = None
    server_keep_alive: int | None = None
    auth_method: str | None = None
    auth_data: bytes | None = None
    request_problem_info: int | None = None
    will_delay: int | None = None
    request_response_info: int | None = None
    response_info: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: int | None = None
    user: tuple[tuple[str, str], ...] = field(default=())
    maximum_packet_size: int | None = None
    wildcard_available: int | None = None
    subscription_ids_available: int | None = None
    shared_available: int | None = None

    def __bool__(self) -> bool:
        return self != NO_PROPERTIES


NO_PROPERTIES = Properties()

#: identifier -> (field, kind), from the MQTT 5 specification's table 2-4.
_TABLE: dict[int, tuple[str, int]] = {
    0x01: ("payload_format", _BYTE), 0x02: ("message_expiry", _U32),
    0x03: ("content_type", _STR), 0x08: ("response_topic", _STR),
    0x09: ("correlation_data", _BIN), 0x0B: ("subscription_ids", _VARINT),
    0x11: ("session_expiry", _U32), 0x12: ("assigned_client_id", _STR),
    0x13: ("server_keep_alive", _U16), 0x15: ("auth_method", _STR),
    0x16: ("auth_data", _BIN), 0x17: ("request_problem_info", _BYTE),
    0x18: ("will_delay", _U32), 0x19: ("request_response_info", _BYTE),
    0x1A: ("response_info", _STR), 0x1C: ("server_reference", _STR),
    0x1F: ("reason_string", _STR), 0x21: ("receive_maximum", _U16),
    0x22: ("topic_alias_maximum", _U16), 0x23: ("topic_alias", _U16),
    0x24: ("maximum_qos", _BYTE), 0x25: ("retain_available", _BYTE),
    0x26: ("user", _PAIR), 0x27: ("maximum_packet_size", _U32),
    0x28: ("wildcard_available", _BYTE), 0x29: ("subscription_ids_available", _BYTE),
    0x2A: ("shared_available", _BYTE),
}
_IDS = {name: ident for ident, (name, _) in _TABLE.items()}
#: Properties whose only values are 0 and 1.
_FLAGS = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
#: Properties for which 0 is a protocol error.
_NONZERO = frozenset({0x0B, 0x21, 0x23, 0x27})


def encode_properties(props: Properties) -> bytes:
    """The property block (its length first); properties left at their default are absent."""
    body = bytearray()
    for ident, (name, kind) in _TABLE.items():
        value: Any = getattr(props, name)
        if value is None or value == ():
            continue
        if kind == _VARINT:
            for v in value:
                body += encode_varint(ident) + encode_varint(v)
        elif kind == _PAIR:
            for k, v in value:
                body += encode_varint(ident) + encode_string(k) + encode_string(v)
        else:
            body += encode_varint(ident) + _encode_value(kind, value)
    return encode_varint(len(body)) + bytes(body)


def _encode_value(kind: int, value: Any) -> bytes:
    if kind == _BYTE:
        return bytes((value,))
    if kind == _U16:
        return int(value).to_bytes(2, "big")
    if kind == _U32:
        return int(value).to_bytes(4, "big")
    if kind == _STR:
        return encode_string(value)
    return encode_binary(value)


def read_properties(r: Reader, allowed: frozenset[int], where: str, *,
                    multi: frozenset[int] = frozenset({0x26})) -> Properties:
    """Read a property block; ``allowed`` are the identifiers this packet may carry and
    ``multi`` those it may carry more than once."""
    length = r.varint(f"{where} properties length")
    if length > r.left:
        raise MqttProtocolError(f"{where} properties run past the end of the packet")
    block = Reader(r.data, r.pos, r.pos + length)
    r.pos += length
    values: dict[str, Any] = {}
    seen: set[int] = set()
    while block.left:
        ident = block.varint(f"{where} property identifier")
        entry = _TABLE.get(ident)
        if entry is None or ident not in allowed:
            raise MqttProtocolError(f"{where} may not carry property 0x{ident:02X}",
                                    PROTOCOL_ERROR)
        if ident in seen and ident not in multi:
            raise MqttProtocolError(f"{where} carries property 0x{ident:02X} twice",
                                    PROTOCOL_ERROR)
        seen.add(ident)
        name, kind = entry
        value = _read_value(block, kind, name)
        if ident in _FLAGS and value not in (0, 1):
            raise MqttProtocolError(f"{where} property {name} must be 0 or 1, not {value}",
                                    PROTOCOL_ERROR)
        if ident in _NONZERO and value == 0:
            raise MqttProtocolError(f"{where} property {name} must not be 0", PROTOCOL_ERROR)
        if kind in (_VARINT, _PAIR):
            values[name] = (*values.get(name, ()), value)
        else:
            values[name] = value
    return Properties(**values) if values else NO_PROPERTIES


def _read_value(r: Reader, kind: int, name: str) -> Any:
    if kind == _BYTE:
        return r.byte(name)
    if kind == _U16:
        return r.u16(name)
    if kind == _U32:
        return r.u32(name)
    if kind == _VARINT:
        return r.varint(name)
    if kind == _STR:
        return r.string(name)
    if kind == _BIN:
        return r.binary(name)
    return (r.string(name), r.string(name))


def ids(*names: str) -> frozenset[int]:
    """The identifiers of the properties named (for a packet's ``allowed`` set)."""
    return frozenset(_IDS[n] for n in names)


def only(props: Properties, *names: str) -> Properties:
    """``props`` with every property but ``names`` dropped (what a broker forwards)."""
    keep = {n: getattr(props, n) for n in names}
    return dataclasses.replace(NO_PROPERTIES, **keep)
