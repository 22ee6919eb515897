"""The inbound ESL client against the simulated FreeSWITCH over loopback: login, api and bgapi
among events, subscriptions and filters, the heartbeat watchdog, links dropped mid-frame, a
FreeSWITCH restart, protocol errors, and a burst that a slow consumer cannot keep up with."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from adapters.esl import Event
from adapters.esl.client import EslAuthError, EslClient, EslLinkLost, Resync
from sim.freeswitch import Endpoint, SimFreeSwitch

FAST = 200.0


def client(fs: SimFreeSwitch, **kw: object) -> EslClient:
    opts: dict[str, object] = {"backoff_base_s": 0.02, "backoff_max_s": 0.1,
                               "connect_timeout_s": 2.0, "command_timeout_s": 5.0}
    opts.update(kw)
    return EslClient("127.0.0.1", fs.port, fs.password, **opts)  # type: ignore[arg-type]


async def next_item(stream: AsyncIterator[Event | Resync], timeout: float = 3.0
                    ) -> Event | Resync:
    async with asyncio.timeout(timeout):
        return await anext(stream)


async def next_resync(stream: AsyncIterator[Event | Resync], timeout: float = 3.0) -> Resync:
    async with asyncio.timeout(timeout):
        async for item in stream:
            if isinstance(item, Resync):
                return item
    raise AssertionError("the stream ended")


async def next_event(stream: AsyncIterator[Event | Resync], name: str,
                     timeout: float = 3.0) -> Event:
    async with asyncio.timeout(timeout):
        async for item in stream:
            if isinstance(item, Event) and item.name == name:
                return item
    raise AssertionError("the stream ended")


@pytest.mark.asyncio
async def test_login_first_resync_and_api() -> None:
    async with SimFreeSwitch(port=0, password="pa55-w0rd") as fs:
        fs.switch.inbound_call("+15550000001", "support")
        async with client(fs) as c:
            assert "pa55-w0rd" not in repr(c)
            stream = c.stream()
            first = await next_item(stream)
            assert first == Resync("connected", fs.core.core_uuid, False, first.channels)  # type: ignore[union-attr]
            assert isinstance(first, Resync)
            assert [row["dest"] for row in first.channels] == ["support"]
            assert c.core_uuid == fs.core.core_uuid
            assert (await c.api("status")).startswith("UP ")
            assert await c.api("uuid_kill nobody") == "-ERR No such channel!\n"
            info = fs.listener_info()
            assert len(info) == 2
            assert all(i.authed for i in info)
            assert any("CHANNEL_PARK" in i.events and "BACKGROUND_JOB" in i.events for i in info)
            stats = c.statistics()
            assert stats.connected
            assert stats.links == 1
            assert stats.links_lost == 0


@pytest.mark.asyncio
async def test_a_wrong_password_is_a_clear_error_and_not_retried() -> None:
    async with SimFreeSwitch(port=0, password="right") as fs:
        c = EslClient("127.0.0.1", fs.port, "wrong-secret", backoff_base_s=0.01)
        with pytest.raises(EslAuthError, match="refused the password") as info:
            await c.start()
        assert "wrong-secret" not in str(info.value)
        assert fs.connections == 1
        await c.close()


@pytest.mark.asyncio
async def test_api_and_bgapi_among_events() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        fs.switch.add_endpoint(Endpoint.answering("user/1001", after_s=1))
        async with client(fs) as c:
            stream = c.stream()
            await next_resync(stream)

            async def traffic() -> None:
                for i in range(20):
                    fs.switch.inbound_call(f"+1555000{i:04d}", "support")
                    await asyncio.sleep(0)

            results = await asyncio.gather(
                traffic(),
                *(c.api(f"uuid_exists nobody-{i}") for i in range(10)),
                *(c.bgapi("status") for _ in range(10)),
                c.bgapi("originate {origination_uuid=leg-9,cti_call_id=c9}user/1001 &park()"),
                c.api("show channels as json"),
            )
            assert results[1:11] == ["false"] * 10
            assert all(r.startswith("UP ") for r in results[11:21])
            assert results[21] == "+OK leg-9\n"
            parks = []
            async with asyncio.timeout(3):
                async for item in stream:
                    assert not (isinstance(item, Event) and item.name == "BACKGROUND_JOB")
                    if isinstance(item, Event) and item.name == "CHANNEL_PARK":
                        parks.append(item.get("Unique-ID"))
                        if len(parks) == 21:
                            break
            assert "leg-9" in parks
            assert await c.bgapi("frobnicate") == "-ERR frobnicate Command not found!\n"


@pytest.mark.asyncio
async def test_subscription_and_filters_hold_and_bgapi_still_works() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs, client(fs, events=["CHANNEL_PARK"],
                      filters=[("variable_cti_queue", "sales")]) as c:
        stream = c.stream()
        await next_resync(stream)
        events = next(i for i in fs.listener_info() if i.events)
        assert events.events == {"CHANNEL_PARK", "BACKGROUND_JOB", "HEARTBEAT"}
        assert ("variable_cti_queue", "sales") in events.filters
        fs.switch.inbound_call("+15550000001", "billing", variables={"cti_queue": "billing"})
        sales = fs.switch.inbound_call("+15550000002", "sales",
                                       variables={"cti_queue": "sales"})
        park = await next_item(stream)
        assert isinstance(park, Event)
        assert (park.name, park.get("Unique-ID")) == ("CHANNEL_PARK", sales.uuid)
        assert (await c.bgapi("status")).startswith("UP ")  # its event got through


@pytest.mark.asyncio
async def test_heartbeat_watchdog_ends_a_silent_link_and_fails_what_waits() -> None:
    async with (SimFreeSwitch(port=0, heartbeat_s=None) as fs,
                client(fs, heartbeat_timeout_s=0.3) as c):
        stream = c.stream()
        await next_resync(stream)
        with pytest.raises(EslLinkLost, match="no frame from FreeSWITCH"):
            await c.api("msleep 3000")  # FreeSWITCH answers nothing meanwhile
        again = await next_resync(stream)
        assert (again.reason, again.restarted) == ("reconnected", False)
        assert c.statistics().links_lost >= 1
        assert "heartbeat" in c.statistics().last_lost_reason


@pytest.mark.asyncio
async def test_a_link_dropped_mid_frame_comes_back_subscribed_and_resynced() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        caller = fs.switch.inbound_call("+15550000001", "support")
        async with client(fs, filters=[("Call-Direction", "inbound")]) as c:
            stream = c.stream()
            await next_resync(stream)
            slow = asyncio.create_task(c.api("msleep 2000"))
            await asyncio.sleep(0.05)
            fs.drop_links()
            with pytest.raises(EslLinkLost):
                await slow
            again = await next_resync(stream)
            assert (again.reason, again.restarted) == ("reconnected", False)
            assert [row["uuid"] for row in again.channels] == [caller.uuid]
            events = next(i for i in fs.listener_info() if i.events)
            assert "CHANNEL_PARK" in events.events
            assert ("Call-Direction", "inbound") in events.filters
            new = fs.switch.inbound_call("+15550000002", "support")
            park = await next_event(stream, "CHANNEL_PARK")
            assert park.get("Unique-ID") == new.uuid
            assert await c.api("uuid_exists " + new.uuid) == "true"


@pytest.mark.asyncio
async def test_a_restart_is_a_resync_with_a_new_core_and_no_channels() -> None:
    async with SimFreeSwitch(port=0, speed=FAST) as fs:
        fs.switch.inbound_call("+15550000001", "support")
        async with client(fs) as c:
            stream = c.stream()
            first = await next_resync(stream)
            assert len(first.channels) == 1
            old = fs.core.core_uuid
            await fs.restart(downtime_s=0.1)
            again = await next_resync(stream)
            assert again.reason == "reconnected"
            assert again.restarted is True
            assert again.core_uuid == fs.core.core_uuid != old
            assert again.channels == []
            assert "shut down" in c.statistics().last_lost_reason


@pytest.mark.asyncio
async def test_a_protocol_error_resets_the_link_and_never_crashes_the_client() -> None:
    async with SimFreeSwitch(port=0) as fs, client(fs) as c:
        stream = c.stream()
        await next_resync(stream)
        fs.inject(b"Content-Length: 5\n\nhello")  # a frame FreeSWITCH never writes
        again = await next_resync(stream)
        assert again.reason == "reconnected"
        assert c.statistics().protocol_errors == 1
        assert "protocol error" in c.statistics().last_lost_reason
        assert (await c.api("status")).startswith("UP ")


@pytest.mark.asyncio
async def test_it_waits_for_freeswitch_to_come_up() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = EslClient("127.0.0.1", port, "ClueCon", backoff_base_s=0.02, backoff_max_s=0.05)
    start = asyncio.create_task(c.start())
    await asyncio.sleep(0.2)
    assert not start.done()
    async with SimFreeSwitch(port=port):
        await asyncio.wait_for(start, 3)
        assert c.connected
        await c.close()
        assert not c.connected
        with pytest.raises(EslLinkLost):
            await c.api("status")


@pytest.mark.asyncio
async def test_a_burst_outruns_a_slow_consumer_bounded_counted_resynced() -> None:
    n = 100_000
    size = 1000
    async with (SimFreeSwitch(port=0, heartbeat_s=None) as fs,
                client(fs, queue_size=size, heartbeat_timeout_s=30) as c):
        stream = c.stream()
        await next_resync(stream)
        burst = asyncio.create_task(fs.burst(n))
        got = 0
        overflow = None
        async with asyncio.timeout(15):
            async for item in stream:
                if isinstance(item, Resync):
                    assert item.reason == "overflow"
                    overflow = item
                else:
                    got += 1
                    if got < 300:
                        await asyncio.sleep(0.002)  # slow at first: the queue fills
                if burst.done() and got + c.dropped_events >= n and overflow is not None:
                    break
        await burst
        stats = c.statistics()
        assert got + c.dropped_events == n  # every event either delivered or counted
        assert c.dropped_events > 0
        assert stats.dropped_events == c.dropped_events
        assert stats.queue_peak <= size + 2  # the bound, plus at most the Resync items
        assert overflow is not None
        assert overflow.restarted is False
        assert stats.links_lost == 0  # FreeSWITCH never had to drop the client
        assert fs.lost_events == 0
