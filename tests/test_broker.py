"""The built-in MQTT broker (``cti.bus.broker``) with real clients: aiomqtt (paho) in MQTT 5 and
3.1.1, and a bare client on a socket for what a library hides (no acknowledgement, abrupt
close, malformed bytes). Each behavioural test runs against the built-in broker and against a
real Mosquitto, so the built-in one is held to what the real peer does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiomqtt
import pytest
import pytest_asyncio
from mqtt_broker import Mosquitto
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties

from cti.bus.broker import Broker, BrokerSettings
from cti.bus.mqtt_packets import (
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    Packet,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    Subscription,
    Will,
    encode,
)
from cti.bus.mqtt_wire import Properties

V5, V311 = aiomqtt.ProtocolVersion.V5, aiomqtt.ProtocolVersion.V311
LIMIT = 64 * 1024  # both brokers' maximum packet size in these tests


@dataclass
class Endpoint:
    kind: str
    port: int
    #: The built-in broker, to read its counters; None for Mosquitto.
    broker: Broker | None = None


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for this file's tests (each cleans up what it retains or keeps)."""
    m = Mosquitto(tmp_path_factory.mktemp("mosquitto"),
                  extra=f"allow_anonymous true\nmax_packet_size {LIMIT}\n")
    m.start()
    try:
        yield m
    finally:
        m.stop()


@pytest_asyncio.fixture(params=["built-in", "mosquitto"])
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[Endpoint]:
    if request.param == "mosquitto":
        yield Endpoint("mosquitto", request.getfixturevalue("mosquitto").port)
        return
    broker = Broker(BrokerSettings(port=0, max_packet_size=LIMIT))
    await broker.start()
    assert broker.port is not None
    try:
        yield Endpoint("built-in", broker.port, broker)
    finally:
        await broker.close()


@pytest_asyncio.fixture
async def builtin() -> AsyncIterator[Broker]:
    broker = Broker(BrokerSettings(port=0, queue_limit=20))
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()


class Raw:
    """A bare MQTT client on a socket, speaking through the codec under test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 version: int) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = Decoder(version=version)
        self.version = version

    @classmethod
    async def open(cls, port: int, connect: Connect | None = None) -> tuple[Raw, ConnAck]:
        connect = connect or Connect("raw")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer, connect.version)
        raw.send(connect)
        ack = await raw.recv()
        assert isinstance(ack, ConnAck), ack
        return raw, ack

    def send(self, packet: Packet) -> None:
        self.writer.write(encode(packet, self.version))

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    async def recv(self, timeout: float = 10) -> Packet | None:
        """The next packet, or None once the broker has closed the connection."""
        async with asyncio.timeout(timeout):
            while (packet := self.decoder.next_packet()) is None:
                try:
                    data = await self.reader.read(65536)
                except ConnectionError:
                    return None
                if not data:
                    return None
                self.decoder.feed(data)
        return packet

    async def closed(self, timeout: float = 10) -> list[Packet]:
        """What the broker sent until it closed the connection (fails if it does not)."""
        seen: list[Packet] = []
        while (packet := await self.recv(timeout)) is not None:
            seen.append(packet)
        return seen

    def abort(self) -> None:
        self.writer.transport.abort()  # no DISCONNECT: as if the client crashed


@contextlib.asynccontextmanager
async def client(port: int, protocol: aiomqtt.ProtocolVersion = V5,
                 **kwargs: object) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", port, protocol=protocol, **kwargs) as c:  # type: ignore[arg-type]
        yield c


async def until(c: aiomqtt.Client, marker: str, timeout: float = 10) -> list[aiomqtt.Message]:
    """Messages received before the one on topic ``marker``."""
    got: list[aiomqtt.Message] = []
    async with asyncio.timeout(timeout):
        async for m in c.messages:
            if str(m.topic) == marker:
                return got
            got.append(m)
    raise AssertionError("unreachable")


async def round_trip(port: int, topic: str = "bystander/check") -> None:
    """A message still goes from one client to another."""
    async with client(port) as c:
        await c.subscribe(topic, qos=1)
        await c.publish(topic, b"still here", qos=1)
        async with asyncio.timeout(10):
            async for m in c.messages:
                assert m.payload == b"still here"
                return


# -- publish and subscribe --------------------------------------------------------------------

FILTERS = {
    "a/+/c": {"a/b/c"},
    "a/#": {"a/b/c", "a/x", "a"},
    "#": {"a/b/c", "a/x", "a", "b/x/c"},  # not $test/x: a leading wildcard skips $ topics
    "+/x": {"a/x"},
    "+/+/c": {"a/b/c", "b/x/c"},
    "$test/#": {"$test/x"},
}


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
async def test_wildcards_and_dollar_topics(endpoint: Endpoint,
                                           protocol: aiomqtt.ProtocolVersion) -> None:
    async with contextlib.AsyncExitStack() as stack:
        subs = {}
        for pattern in FILTERS:
            c = await stack.enter_async_context(client(endpoint.port, protocol))
            await c.subscribe(pattern, qos=1)
            await c.subscribe("end/marker", qos=1)
            subs[pattern] = c
        async with client(endpoint.port, protocol) as pub:
            for topic in ("a/b/c", "a/x", "a", "$test/x", "b/x/c"):
                await pub.publish(topic, topic.encode(), qos=1)
            await pub.publish("end/marker", b"", qos=1)
        for pattern, c in subs.items():
            # Retained messages other tests left would come first: this one retains nothing.
            got = [m for m in await until(c, "end/marker") if not m.retain]
            topics = {str(m.topic) for m in got} - {"end/marker"}
            assert topics == FILTERS[pattern], pattern
            assert all(m.payload == str(m.topic).encode() for m in got)


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
async def test_retained_messages(endpoint: Endpoint, protocol: aiomqtt.ProtocolVersion) -> None:
    async with client(endpoint.port, protocol) as pub:
        await pub.publish("r/a", b"1", qos=1, retain=True)
        await pub.publish("r/b", b"2", qos=1, retain=True)
        await pub.publish("r/b", b"", qos=1, retain=True)  # clears r/b
        async with client(endpoint.port, protocol) as late:
            await late.subscribe("r/#", qos=1)
            await pub.publish("r/live", b"3", qos=1, retain=True)
            await pub.publish("r/end", b"", qos=1)
            got = await until(late, "r/end")
        for topic in ("r/a", "r/live"):  # the broker may be shared with the next test
            await pub.publish(topic, b"", qos=1, retain=True)
    assert [(str(m.topic), m.payload, m.retain) for m in got] == [
        ("r/a", b"1", True),  # retained, sent at subscribe
        ("r/live", b"3", False),  # to a subscriber already there: the flag is cleared
    ]


@pytest.mark.asyncio
async def test_request_and_response_keep_their_properties(endpoint: Endpoint) -> None:
    async with client(endpoint.port) as responder, client(endpoint.port) as requester:
        await responder.subscribe("svc/+/cmd", qos=1)
        await requester.subscribe("svc/replies/42", qos=1)
        props = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = "svc/replies/42"
        props.CorrelationData = b"\x00\x01corr"
        props.UserProperty = [("trace", "t-1"), ("trace", "t-2")]
        props.ContentType = "application/json"
        props.PayloadFormatIndicator = 1
        await requester.publish("svc/agent7/cmd", b'{"cmd": "ready"}', qos=1, properties=props)
        async with asyncio.timeout(10):
            request = await anext(aiter(responder.messages))
        got = request.properties
        assert got is not None
        assert got.ResponseTopic == "svc/replies/42"
        assert got.CorrelationData == b"\x00\x01corr"
        assert got.UserProperty == [("trace", "t-1"), ("trace", "t-2")]
        assert got.ContentType == "application/json"
        assert got.PayloadFormatIndicator == 1
        answer = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        answer.CorrelationData = got.CorrelationData
        await responder.publish(got.ResponseTopic, b'{"ok": true}', qos=1, properties=answer)
        async with asyncio.timeout(10):
            reply = await anext(aiter(requester.messages))
    assert reply.payload == b'{"ok": true}'
    assert reply.properties is not None
    assert reply.properties.CorrelationData == b"\x00\x01corr"


@pytest.mark.asyncio
async def test_qos2_publish_is_delivered_once(endpoint: Endpoint) -> None:
    async with client(endpoint.port) as sub, client(endpoint.port) as pub:
        granted = await sub.subscribe("q2/#", qos=2)
        await pub.publish("q2/x", b"once", qos=2)
        await pub.publish("q2/end", b"", qos=2)  # same QoS: delivered in order
        got = await until(sub, "q2/end")
    assert [(str(m.topic), m.payload) for m in got] == [("q2/x", b"once")]
    if endpoint.kind == "built-in":  # QoS 2 to subscribers is granted as QoS 1
        assert [int(getattr(r, "value", r)) for r in granted] == [1]
        assert got[0].qos == 1


# -- sessions ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [5, 4], ids=["mqtt5", "mqtt311"])
async def test_unacknowledged_qos1_is_sent_again_on_reconnect(endpoint: Endpoint,
                                                              version: int) -> None:
    keep = Connect("keeper", version=version, clean_start=False,
                   properties=Properties(session_expiry=60) if version == 5 else Properties())
    raw, ack = await Raw.open(endpoint.port, Connect("keeper", version=version))  # fresh
    raw.send(Disconnect())
    await raw.closed()
    raw, ack = await Raw.open(endpoint.port, keep)
    assert not ack.session_present
    raw.send(Subscribe(1, (Subscription("q/#", qos=1),)))
    assert isinstance(await raw.recv(), SubAck)
    async with client(endpoint.port) as pub:
        await pub.publish("q/1", b"first", qos=1)
        first = await raw.recv()
        assert isinstance(first, Publish)
        assert (first.topic, first.qos, first.dup) == ("q/1", 1, False)
        raw.abort()  # never acknowledged
        await asyncio.sleep(0.05)  # gone, most likely, when the next one is published
        await pub.publish("q/2", b"while away", qos=1)
    raw, ack = await Raw.open(endpoint.port, keep)
    assert ack.session_present
    again = await raw.recv()
    assert isinstance(again, Publish)
    assert (again.topic, again.payload, again.dup, again.packet_id) == (
        "q/1", b"first", True, first.packet_id)
    raw.send(PubAck(again.packet_id or 0))
    queued = await raw.recv()
    assert isinstance(queued, Publish)
    assert (queued.topic, queued.payload) == ("q/2", b"while away")
    raw.send(PubAck(queued.packet_id or 0))
    raw.send(Disconnect())
    await raw.closed()
    raw, ack = await Raw.open(endpoint.port, Connect("keeper", version=version))
    assert not ack.session_present  # a clean start discards the session kept till now
    raw.send(Disconnect())
    await raw.closed()


@pytest.mark.asyncio
async def test_a_second_connection_takes_the_session_over(endpoint: Endpoint) -> None:
    first, _ = await Raw.open(endpoint.port, Connect("twin"))
    second, _ = await Raw.open(endpoint.port, Connect("twin"))
    seen = await first.closed()
    assert all(isinstance(p, Disconnect) and p.reason == 0x8E for p in seen)
    second.send(Disconnect())
    await second.closed()


# -- last will and keep-alive -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_last_will_on_a_broken_connection_only(endpoint: Endpoint) -> None:
    async with client(endpoint.port) as watcher:
        await watcher.subscribe("will/#", qos=1)
        crash, _ = await Raw.open(endpoint.port, Connect(
            "crasher", will=Will("will/crasher", b"gone", 1, properties=Properties(
                content_type="text/plain"))))
        polite, _ = await Raw.open(endpoint.port, Connect(
            "polite", will=Will("will/polite", b"should not be sent", 1)))
        polite.send(Disconnect())  # a normal DISCONNECT discards the will
        assert await polite.closed() == []
        crash.abort()
        async with asyncio.timeout(10):
            will = await anext(aiter(watcher.messages))
        async with client(endpoint.port) as pub:
            await pub.publish("will/end", b"", qos=1)
        rest = await until(watcher, "will/end")
    assert (str(will.topic), will.payload) == ("will/crasher", b"gone")
    assert will.properties is not None
    assert will.properties.ContentType == "text/plain"
    assert rest == []


@pytest.mark.asyncio
async def test_keep_alive_expiry_closes_and_publishes_the_will(builtin: Broker) -> None:
    # The built-in broker only: Mosquitto does the same, but checks keep-alives only every
    # few seconds, too slow for this suite.
    assert builtin.port is not None
    async with client(builtin.port) as watcher:
        await watcher.subscribe("ka/#", qos=1)
        silent, _ = await Raw.open(builtin.port, Connect(
            "silent", keepalive=1, will=Will("ka/silent", b"timed out", 1)))
        # It sends nothing more: after 1.5 x 1 s the broker closes it.
        seen = await silent.closed()
        async with asyncio.timeout(10):
            will = await anext(aiter(watcher.messages))
    assert all(isinstance(p, Disconnect) for p in seen)
    assert (str(will.topic), will.payload) == ("ka/silent", b"timed out")


# -- misbehaving clients ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_oversized_packet_closes_only_that_client(endpoint: Endpoint) -> None:
    async with client(endpoint.port) as bystander:
        await bystander.subscribe("big/#", qos=1)
        raw, ack = await Raw.open(endpoint.port, Connect("big"))
        if endpoint.kind == "built-in":
            assert ack.properties.maximum_packet_size == LIMIT
        raw.send(Publish("big/one", b"x" * (LIMIT + 1), 0))
        seen = await raw.closed()
        assert all(isinstance(p, Disconnect) and p.reason == 0x95 for p in seen)
        await bystander.publish("big/small", b"fine", qos=1)
        async with asyncio.timeout(10):
            m = await anext(aiter(bystander.messages))
        assert (str(m.topic), m.payload) == ("big/small", b"fine")  # the big one never came


MALFORMED = {
    "remaining length over four bytes": b"\x30\xff\xff\xff\xff\x01",
    "PUBLISH at QoS 3": b"\x36\x03\x00\x01a",
    "SUBSCRIBE with the wrong flags": b"\x80\x06\x00\x01\x00\x01a\x00",
    "topic name not UTF-8": b"\x30\x04\x00\x02\xff\xfe",
    "reserved packet type": b"\x00\x00",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("name", [*MALFORMED, "PUBLISH before CONNECT"])
async def test_a_malformed_packet_closes_only_that_client(
    endpoint: Endpoint, name: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "cti.broker")
    async with client(endpoint.port) as bystander:
        await bystander.subscribe("ok/#", qos=1)
        if name == "PUBLISH before CONNECT":
            reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
            raw = Raw(reader, writer, 5)
            raw.send(Publish("ok/sneaky", b"x"))
        else:
            raw, _ = await Raw.open(endpoint.port, Connect("bad", version=4))
            raw.send_bytes(MALFORMED[name])
        await raw.closed()
        await round_trip(endpoint.port, "ok/after")
        await bystander.publish("ok/still", b"", qos=1)
        async with asyncio.timeout(10):
            seen = [str(m.topic) async for m in _take(bystander, 2)]
    assert seen == ["ok/after", "ok/still"]
    if endpoint.broker is not None:
        assert endpoint.broker.statistics().refused == 1
        assert any("connection closed" in r.getMessage() for r in caplog.records)


async def _take(c: aiomqtt.Client, n: int) -> AsyncIterator[aiomqtt.Message]:
    async for m in c.messages:
        yield m
        n -= 1
        if n == 0:
            return


# -- the built-in broker alone ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_slow_subscriber_does_not_stall_the_others(builtin: Broker) -> None:
    assert builtin.port is not None
    port = builtin.port
    stuck, _ = await Raw.open(port, Connect("stuck"))
    stuck.send(Subscribe(1, (Subscription("flood/#", qos=0),)))
    assert isinstance(await stuck.recv(), SubAck)
    # From here on "stuck" reads nothing: its socket fills, then its queue, then drops.
    stuck.writer.transport.pause_reading()
    payload = b"z" * 32 * 1024
    n = 400  # 12.5 MiB: more than the kernel buffers on both sides of the socket
    async with client(port) as fast, client(port) as pub:
        await fast.subscribe("flood/#", qos=0)
        await fast.subscribe("flood-end", qos=1)
        for i in range(n):
            await pub.publish(f"flood/{i}", payload, qos=0)
        await pub.publish("flood-end", b"", qos=1)
        got = await until(fast, "flood-end", timeout=30)
    assert len(got) == n  # the reader that keeps up lost nothing
    stats = builtin.statistics()
    assert stats.dropped > 0
    assert builtin.sessions["stuck"].dropped == stats.dropped
    assert len(builtin.sessions["stuck"].queue) <= 20
    stuck.abort()


@pytest.mark.asyncio
async def test_older_protocols_and_enhanced_auth_are_refused_clearly(builtin: Broker) -> None:
    assert builtin.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", builtin.port)
    raw = Raw(reader, writer, 4)
    raw.send_bytes(b"\x10\x10\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x02id")  # MQTT 3.1
    assert await raw.closed() == [ConnAck(reason=1)]  # unacceptable protocol version
    reader, writer = await asyncio.open_connection("127.0.0.1", builtin.port)
    raw = Raw(reader, writer, 5)
    raw.send(Connect("kerberos", properties=Properties(auth_method="GS2-KRB5")))
    seen = await raw.closed()
    assert [p.reason for p in seen if isinstance(p, ConnAck)] == [0x8C]  # bad auth method
    assert builtin.statistics().refused == 1


@pytest.mark.asyncio
async def test_subscription_identifiers_and_no_local(builtin: Broker) -> None:
    assert builtin.port is not None
    raw, _ = await Raw.open(builtin.port, Connect("self"))
    raw.send(Subscribe(1, (Subscription("id/#", qos=1),), Properties(subscription_ids=(7,))))
    raw.send(Subscribe(2, (Subscription("own/#", qos=1, no_local=True),)))
    assert isinstance(await raw.recv(), SubAck)
    assert isinstance(await raw.recv(), SubAck)
    raw.send(Publish("own/echo", b"mine", 1, packet_id=1))  # not sent back to its publisher
    assert await raw.recv() == PubAck(1)
    async with client(builtin.port) as other:
        await other.publish("id/x", b"tagged", qos=1)
    got = await raw.recv()
    assert isinstance(got, Publish)
    assert (got.topic, got.properties.subscription_ids) == ("id/x", (7,))
    raw.send(PubAck(got.packet_id or 0))
    raw.send(Disconnect())
    await raw.closed()
