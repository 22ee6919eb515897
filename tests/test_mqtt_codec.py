"""The built-in broker's MQTT codec (``cti.bus.mqtt_packets``, ``cti.bus.mqtt_wire``): packets
survive a round trip in both versions, fed whole or byte by byte; malformed input of every kind
raises ``MqttProtocolError`` naming the problem, and arbitrary bytes raise nothing else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.bus.mqtt_packets import (
    Auth,
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
    Subscription,
    UnsubAck,
    Unsubscribe,
    UnsupportedVersionError,
    Will,
    encode,
)
from cti.bus.mqtt_wire import (
    NO_PROPERTIES,
    PACKET_TOO_LARGE,
    MqttProtocolError,
    Properties,
    encode_varint,
)
from cti.core import RemoteProtocolError


def decode_all(data: bytes, version: int = 5, *, max_packet_size: int = 1 << 20,
               step: int | None = None) -> list[Packet]:
    dec = Decoder(max_packet_size=max_packet_size, version=version)
    out: list[Packet] = []
    chunks = [data] if step is None else [data[i:i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        dec.feed(chunk)
        while (p := dec.next_packet()) is not None:
            out.append(p)
    return out


# -- strategies -------------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
               max_size=12)
topic = st.lists(st.text("abc$/", min_size=1, max_size=3), min_size=1, max_size=3).map("/".join)
u16 = st.integers(1, 0xFFFF)
count = st.integers(1, 2**32 - 1)
reason_string = st.none() | text
users = st.lists(st.tuples(text, text), max_size=2).map(tuple)
#: Per packet, properties it may carry (MQTT 5 table 2-4).
props = st.builds(  # PUBLISH and will
    Properties,
    payload_format=st.none() | st.sampled_from([0, 1]),
    message_expiry=st.none() | st.integers(0, 2**32 - 1),
    content_type=st.none() | text,
    response_topic=st.none() | topic,
    correlation_data=st.none() | st.binary(max_size=16),
    user=users,
)
PROPS: dict[str, st.SearchStrategy[Properties]] = {
    "connect": st.builds(Properties, session_expiry=st.none() | count,
                         receive_maximum=st.none() | st.integers(1, 0xFFFF),
                         maximum_packet_size=st.none() | count, user=users),
    "connack": st.builds(Properties, session_expiry=st.none() | count,
                         assigned_client_id=st.none() | text,
                         maximum_qos=st.none() | st.sampled_from([0, 1]),
                         shared_available=st.none() | st.sampled_from([0, 1]),
                         reason_string=reason_string, user=users),
    "ack": st.builds(Properties, reason_string=reason_string, user=users),
    "subscribe": st.builds(Properties, subscription_ids=st.lists(
        st.integers(1, 268_435_455), max_size=1).map(tuple), user=users),
    "unsubscribe": st.builds(Properties, user=users),
    "disconnect": st.builds(Properties, session_expiry=st.none() | count,
                            reason_string=reason_string, user=users),
    "auth": st.builds(Properties, auth_method=st.none() | text, reason_string=reason_string,
                      user=users),
}


def publishes(v5: bool) -> st.SearchStrategy[Publish]:
    return st.builds(
        lambda t, payload, qos, retain, pid, p, dup: Publish(
            t, payload, qos, retain, dup and qos > 0, pid if qos else None,
            p if v5 else NO_PROPERTIES),
        topic, st.binary(max_size=64), st.integers(0, 2), st.booleans(), u16, props,
        st.booleans())


def packets(v5: bool) -> st.SearchStrategy[Packet]:
    def p(kind: str) -> st.SearchStrategy[Properties]:
        return (props if kind == "publish" else PROPS[kind]) if v5 else st.just(NO_PROPERTIES)

    reason = st.integers(0, 255) if v5 else st.just(0)
    sub = st.builds(Subscription, topic, st.integers(0, 2),
                    st.booleans() if v5 else st.just(False),
                    st.booleans() if v5 else st.just(False),
                    st.integers(0, 2) if v5 else st.just(0))
    will = st.none() | st.builds(Will, topic, st.binary(max_size=16), st.integers(0, 2),
                                 st.booleans(), p("publish"))
    username = st.none() | text
    password = st.none() | st.binary(max_size=8)
    connect = st.builds(Connect, text, st.just(5 if v5 else 4), st.booleans(),
                        st.integers(0, 0xFFFF), username, password, will, p("connect"))
    if not v5:  # 3.1.1 has no password without a user name
        connect = connect.filter(lambda c: c.username is not None or c.password is None)
    options: list[st.SearchStrategy[Packet]] = [
        connect,
        st.builds(ConnAck, st.booleans(), reason if v5 else st.integers(0, 5), p("connack")),
        publishes(v5),
        *(st.builds(cls, u16, reason, p("ack")) for cls in (PubAck, PubRec, PubRel, PubComp)),
        st.builds(Subscribe, u16, st.lists(sub, min_size=1, max_size=3).map(tuple),
                  p("subscribe")),
        st.builds(SubAck, u16, st.lists(st.sampled_from([0, 1, 2, 0x80]), max_size=3)
                  .map(tuple), p("ack")),
        st.builds(Unsubscribe, u16, st.lists(topic, min_size=1, max_size=3).map(tuple),
                  p("unsubscribe")),
        st.builds(UnsubAck, u16, st.lists(st.sampled_from([0, 0x11]), max_size=3).map(tuple)
                  if v5 else st.just(()), p("ack")),
        st.just(PingReq()), st.just(PingResp()),
        st.builds(Disconnect, reason, p("disconnect")),
    ]
    if v5:
        options.append(st.builds(Auth, reason, p("auth")))
    return st.one_of(options)


# -- round trips ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_packets_round_trip_in_both_versions(data: st.DataObject) -> None:
    version = data.draw(st.sampled_from([4, 5]))
    packet = data.draw(packets(version == 5))
    wire = encode(packet, version)
    assert decode_all(wire, version) == [packet]


@settings(max_examples=50, deadline=None)
@given(st.lists(packets(True), min_size=1, max_size=6))
def test_fed_byte_by_byte_the_packets_are_the_same(batch: list[Packet]) -> None:
    wire = b"".join(encode(p) for p in batch)
    assert decode_all(wire, step=1) == decode_all(wire) == batch


def test_connect_sets_the_version_for_what_follows() -> None:
    wire = encode(Connect("c", version=4), 4) + encode(Publish("a/b", b"x", 1, packet_id=7), 4)
    dec = Decoder()  # a server's decoder does not know the version before the CONNECT
    dec.feed(wire)
    assert dec.next_packet() == Connect("c", version=4)
    assert dec.version == 4
    assert dec.next_packet() == Publish("a/b", b"x", 1, packet_id=7)


def test_three_one_one_drops_what_it_cannot_carry() -> None:
    pub = Publish("t", b"x", 1, packet_id=3, properties=Properties(response_topic="r"))
    assert decode_all(encode(pub, 4), 4) == [Publish("t", b"x", 1, packet_id=3)]
    assert encode(SubAck(1, (0x8F,)), 4)[-1] == 0x80  # any failure is 0x80 in 3.1.1


def test_remaining_length_encodings() -> None:
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(128) == b"\x80\x01"
    assert encode_varint(268_435_455) == b"\xff\xff\xff\x7f"
    with pytest.raises(ValueError, match="does not fit"):
        encode_varint(268_435_456)


# -- malformed input --------------------------------------------------------------------------

CONNECT5 = encode(Connect("c"))


@pytest.mark.parametrize(
    ("wire", "words"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "longer than four bytes"),
        (b"\x30\x80\x00", "not minimally encoded"),
        (b"\x00\x00", "reserved packet type 0"),
        (b"\x36\x03\x00\x01a", "QoS 3"),
        (b"\x38\x03\x00\x01a", "DUP set at QoS 0"),
        (b"\x80\x02\x00\x01", "flags 0000"),
        (b"\xc0\x01\x00", "unexpected bytes"),
        (b"\x30\x04\x00\x02\xff\xfe", "not valid UTF-8"),
        (b"\x30\x05\x00\x03a\x00b", r"topic name contains U\+0000"),
        (b"\x30\x05\x00\x03a/+", "wildcard"),
        (b"\x32\x06\x00\x01a\x00\x00\x00", "packet identifier 0"),
        (b"\x30\x05\x00\x01a\x05\x01", "properties run past"),
        (b"\x30\x06\x00\x01a\x02\x11\x00", "may not carry property 0x11"),
        (b"\x30\x08\x00\x01a\x04\x01\x00\x01\x01", "twice"),
        (b"\x30\x06\x00\x01a\x02\x01\x07", "must be 0 or 1"),
        (b"\x82\x03\x00\x01\x00", "without a topic filter"),
        (b"\x82\x07\x00\x01\x00\x00\x01a\x03", "QoS 3"),
        (b"\x82\x07\x00\x01\x00\x00\x01a\x30", "reserved subscription options"),
        (b"\x10\x0b\x00\x04MQTT\x05\x03\x00\x00\x00\x00", "reserved connect flag"),
        (b"\x10\x0a\x00\x04MQTT\x05\x08\x00\x00", "without a will"),
        (b"\x10\x0a\x00\x04MQTT\x04\x40\x00\x00\x00\x00", "password without a user name"),
        (b"\x10\x0a\x00\x04XXXX\x04\x02\x00\x00\x00\x00", "is not MQTT"),
        (CONNECT5[:-1] + b"\x00", r"client identifier contains U\+0000"),
    ],
)
def test_malformed_packets_are_named(wire: bytes, words: str) -> None:
    with pytest.raises(MqttProtocolError, match=words):
        decode_all(wire)


def test_auth_is_reserved_in_three_one_one() -> None:
    with pytest.raises(MqttProtocolError, match="reserved packet type 15"):
        decode_all(b"\xf0\x00", 4)


def test_the_protocol_error_is_a_remote_protocol_error() -> None:
    assert issubclass(MqttProtocolError, RemoteProtocolError)
    assert issubclass(UnsupportedVersionError, MqttProtocolError)


def test_an_oversized_packet_is_refused_from_its_header() -> None:
    dec = Decoder(max_packet_size=1000)
    dec.feed(b"\x30\xe8\x07")  # announces 1,000 bytes: 1,003 with its header; none sent yet
    with pytest.raises(MqttProtocolError, match="over the 1000-byte limit") as err:
        dec.next_packet()
    assert err.value.reason == PACKET_TOO_LARGE


@pytest.mark.parametrize(("wire", "level"), [
    (b"\x10\x0c\x00\x06MQIsdp\x03\x02\x00\x3c", 3),
    (b"\x10\x0a\x00\x04MQTT\x06\x02\x00\x3c\x00\x00", 6),
])
def test_other_protocol_levels_are_named(wire: bytes, level: int) -> None:
    with pytest.raises(UnsupportedVersionError) as err:
        decode_all(wire)
    assert err.value.level == level


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([4, 5]))
def test_any_bytes_decode_or_raise_the_protocol_error(data: bytes, version: int) -> None:
    with contextlib.suppress(MqttProtocolError):
        decode_all(data, version, max_packet_size=256)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_packets_decode_or_raise_the_protocol_error(data: st.DataObject) -> None:
    packet = data.draw(packets(True))
    wire = bytearray(encode(packet))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(MqttProtocolError):  # anything else fails the test
        decode_all(bytes(wire))
