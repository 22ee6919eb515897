"""The event bus: envelopes and topics, the bounded outbox, the in-memory bus, and publishing to
a real Mosquitto through an outage."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator

import aiomqtt
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mqtt_broker import Mosquitto, free_port

from cti.bus import (
    BrokerConfig,
    BusPayloadError,
    Envelope,
    MemoryBus,
    MqttPublisher,
    Outbox,
    decode,
    encode,
    topic_for,
    topic_matches,
)
from cti.bus.topics import level
from cti.core import CustomerRecord
from cti.core.notifications import AgentStateChanged, QueueStats, ScreenPop, TicketCreated


def pop(i: int, agent: str = "1001") -> ScreenPop:
    return ScreenPop(agent, f"call-{i}", "+33612345678", "3000", "billing", 12.5,
                     {"account": "12345"}, CustomerRecord("C1", "Ada", vip=True), 1000.0 + i)


# -- envelopes and topics ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_envelope_round_trip(fmt: str) -> None:
    box = Outbox("lyon")
    box.put(pop(1))
    env = box.take().envelope  # type: ignore[union-attr]
    back = decode(encode(env, fmt), fmt)  # type: ignore[arg-type]
    assert back == Envelope(env.id, 1, 1001.0, "lyon", "screenpop", back.data)
    assert back.data["customer"]["vip"] is True
    assert back.data["data"] == {"account": "12345"}
    assert back.data["waited_s"] == 12.5


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\xc1", "not valid msgpack"),
        (msgpack.packb([1, 2]), "is a map"),
        (msgpack.packb({"v": 1}), "no 'id'"),
        (msgpack.packb({"v": 2, "id": "x", "seq": 1, "ts": 1.0, "site": "s", "type": "t",
                        "data": {}}), "version 2"),
        (msgpack.packb({"v": 1, "id": 5, "seq": 1, "ts": 1.0, "site": "s", "type": "t",
                        "data": {}}), "'id' has the wrong type"),
        (b"\x00" * (2 << 20), "over the"),
    ],
)
def test_malformed_payloads_are_named(payload: bytes, words: str) -> None:
    with pytest.raises(BusPayloadError, match=words):
        decode(payload)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_the_bus_error(payload: bytes) -> None:
    for fmt in ("msgpack", "json"):
        with contextlib.suppress(BusPayloadError):
            decode(payload, fmt)  # type: ignore[arg-type]


def test_topics() -> None:
    assert topic_for("lyon", pop(1)) == ("cti/v1/lyon/agents/1001/screenpop", False)
    state = AgentStateChanged("a/b+c", "ready", "not-ready", None, 1.0)
    assert topic_for("lyon", state) == ("cti/v1/lyon/agents/a%2Fb%2Bc/state", True)
    assert topic_for("lyon", QueueStats("q#1", True, 3, 1.0)) == (
        "cti/v1/lyon/queues/q%231/stats", True)
    assert topic_for("s", TicketCreated("T1", "voicemail", "c", "+1", "q", 1.0))[0] == (
        "cti/v1/s/tickets/created")
    assert level("50%") == "50%25"


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [
        ("cti/v1/+/agents/+/screenpop", "cti/v1/lyon/agents/1001/screenpop", True),
        ("cti/v1/lyon/#", "cti/v1/lyon/agents/1001/state", True),
        ("cti/v1/lyon/#", "cti/v1/lyon", True),
        ("cti/v1/+/agents/+/state", "cti/v1/lyon/agents/1001/screenpop", False),
        ("cti/v1/lyon/agents/+", "cti/v1/lyon/agents/1001/state", False),
    ],
)
def test_topic_filters(pattern: str, topic: str, match: bool) -> None:
    assert topic_matches(pattern, topic) is match


# -- the outbox and the in-memory bus ---------------------------------------------------------


def test_outbox_keeps_the_newest_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    box = Outbox("s", capacity=3)
    for i in range(5):
        box.put(pop(i))
    assert len(box) == 3
    assert box.dropped == 2
    assert "dropped 1 oldest" in caplog.text  # logged once, not once per drop
    taken = [box.take(), box.take()]
    assert [t.envelope.seq for t in taken if t] == [3, 4]
    box.put(pop(9))
    box.put(pop(10))  # full again: 5, 9, 10
    box.give_back([t for t in taken if t])  # unacknowledged: back to the front, over the bound
    seqs = []
    while (item := box.take()) is not None:
        seqs.append(item.envelope.seq)
    # Given back over the bound: the oldest go, as on put, and are counted.
    assert seqs == [5, 6, 7]
    assert box.dropped == 4
    box.give_back([pop_item for pop_item in taken if pop_item][1:])  # room for one: it fits
    assert [box.take().envelope.seq] == [4]  # type: ignore[union-attr]



def test_memory_bus_retains_state_and_filters() -> None:
    box = Outbox("s")
    bus = MemoryBus(box)
    box.put(AgentStateChanged("1001", "ready", "not-ready", None, 1.0))
    box.put(pop(1))
    assert bus.pump() == 2
    late: list[str] = []
    bus.subscribe("cti/v1/s/agents/+/state", lambda topic, env: late.append(env.type))
    assert late == ["agent.state"]  # retained: a late subscriber sees it
    box.put(pop(2))
    bus.pump()
    assert late == ["agent.state"]
    assert [e.seq for _, e in bus.messages] == [1, 2, 3]


# -- a real broker ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def publishing(box: Outbox, port: int) -> AsyncIterator[MqttPublisher]:
    pub = MqttPublisher(BrokerConfig(port=port, backoff_min_s=0.05, backoff_max_s=0.3,
                                     publish_timeout_s=2.0), box, seed=1)
    box.on_put = pub.wake
    task = asyncio.create_task(pub.run())
    try:
        yield pub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def collect(
    port: int, pattern: str, want: int, timeout: float = 15.0,
    ready: asyncio.Event | None = None,
) -> list[Envelope]:
    got: list[Envelope] = []
    async with aiomqtt.Client("127.0.0.1", port,
                              protocol=aiomqtt.ProtocolVersion.V5) as client:
        await client.subscribe(pattern, qos=1)
        if ready is not None:
            ready.set()
        async with asyncio.timeout(timeout):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                got.append(decode(message.payload))
                if len({e.id for e in got}) >= want:
                    break
    return got


@pytest.mark.asyncio
async def test_screen_pops_reach_a_subscriber(broker: Mosquitto) -> None:
    box = Outbox("lyon")
    async with publishing(box, broker.port):
        listener = asyncio.create_task(
            collect(broker.port, "cti/v1/lyon/agents/+/screenpop", 20))
        await asyncio.sleep(0.3)  # subscribed before the pops go out
        for i in range(20):
            box.put(pop(i))
        got = await listener
    assert [e.data["call_id"] for e in got] == [f"call-{i}" for i in range(20)]


@pytest.mark.asyncio
async def test_retained_state_for_a_late_subscriber(broker: Mosquitto) -> None:
    box = Outbox("lyon")
    async with publishing(box, broker.port) as pub:
        box.put(AgentStateChanged("1001", "ready", "not-ready", None, 5.0))
        assert await pub.flush(5)
    got = await collect(broker.port, "cti/v1/lyon/agents/1001/state", 1)
    assert got[0].data["state"] == "ready"


@pytest.mark.asyncio
async def test_broker_outage_loses_nothing_within_the_bound(broker: Mosquitto) -> None:
    """Events put while the broker is down wait in the outbox and all arrive after it returns;
    putting never blocks, and the ids make duplicates harmless."""
    box = Outbox("lyon", capacity=1000)
    async with publishing(box, broker.port) as pub:
        for i in range(10):
            box.put(pop(i))
        assert await pub.flush(5)
        live = pub.config
        broker.stop()  # the connection breaks under the publisher
        # While the broker is away, keep the publisher failing on a dead port, so that the
        # subscriber below is in place before the backlog goes out (no race with the retry).
        pub.config = dataclasses.replace(live, port=free_port())
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(10, 200):
            box.put(pop(i))  # the hot path: returns at once, broker or not
        assert loop.time() - started < 0.5
        await asyncio.sleep(1.0)
        assert len(box) == 190
        assert not pub.connected
        broker.start()  # on the same port
        ready = asyncio.Event()
        listener = asyncio.create_task(
            collect(broker.port, "cti/v1/lyon/#", 190, ready=ready))
        await ready.wait()
        pub.config = live
        got = await listener
        assert await pub.flush(10)
    ids = {e.id for e in got}
    seqs = sorted({e.seq for e in got})
    assert len(ids) == 190
    assert seqs == list(range(11, 201))
    assert box.dropped == 0
    assert pub.connects >= 2
    assert pub.failures >= 1


def test_broker_config_hides_the_password() -> None:
    cfg = BrokerConfig(username="cti", password="s3cret")
    assert "s3cret" not in repr(cfg)
    assert "s3cret" not in json.dumps(str(cfg))
