"""The daemon's runtime with the FreeSWITCH adapter, against the simulated FreeSWITCH over a
real loopback socket: whole calls, ring-no-answer, callers giving up while an agent rings, a
link cut mid-frame, a FreeSWITCH restart. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from adapters.esl import EslClient
from adapters.esl.adapter import FreeswitchAdapter
from adapters.esl.control import CallControl, ControlOptions
from cti.config import DaemonModel, Settings
from cti.core import AgentLogin, AgentReady, AgentState
from cti.runtime import Runtime
from sim.freeswitch.channels import Channel
from sim.freeswitch.driver import EslTrafficDriver
from sim.freeswitch.switch import Endpoint
from sim.freeswitch.wire import SimFreeSwitch
from sim.scenario import Scenario, parse_scenario

pytestmark = pytest.mark.asyncio

SPEED = 20.0  # simulated seconds per wall-clock second, the same on both sides

SCENARIO = """
name = "esl-daemon"
seed = 11
[run]
calls = 30
[arrivals]
rate_per_s = 0.5
[queues.q]
strategy = "least-idle"
wrap_up_s = 2
ring_timeout_s = 10
[call_types.c]
queue = "q"
dialed = "3000"
talk = { dist = "exponential", mean = 20 }
patience = { dist = "exponential", mean = 60 }
[agents.agent]
count = 3
queues = ["q"]
ring_delay = { dist = "fixed", value = 2 }
no_answer_p = 0.1
"""

TWO_AGENTS = SCENARIO.replace("count = 3", "count = 2").replace("no_answer_p = 0.1", "")


@dataclass
class Daemon:
    fs: SimFreeSwitch
    runtime: Runtime
    adapter: FreeswitchAdapter

    def agent(self, agent_id: str) -> AgentState:
        return self.runtime.switchboard.agents[agent_id].state

    def stats(self) -> object:
        return self.runtime.switchboard.statistics(self.runtime.clock())


async def until(cond: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)
    assert cond(), what


@contextlib.asynccontextmanager
async def daemon(scenario: Scenario, *endpoints: Endpoint,
                 record_calls: bool = False) -> AsyncIterator[Daemon]:
    async with SimFreeSwitch(port=0, speed=SPEED, heartbeat_s=0.5) as fs:
        # Phones that answer after a second, unless the test gives its own.
        for g in scenario.groups:
            for agent_id in g.agent_ids:
                fs.switch.add_endpoint(Endpoint.answering(f"user/{agent_id}", 1.0))
        for endpoint in endpoints:
            fs.switch.add_endpoint(endpoint)
        client = EslClient("127.0.0.1", fs.port, "ClueCon", events=CallControl.EVENTS,
                           heartbeat_timeout_s=3.0,
                           backoff_base_s=0.05, backoff_max_s=0.2)
        adapter = FreeswitchAdapter(client, ControlOptions(
            destinations=frozenset({"3000"}), recordings="/rec", record_calls=record_calls))
        settings = Settings(scenario.config, None, DaemonModel(), scenario.source)
        runtime = Runtime(settings, pbx=adapter, speed=SPEED)
        ready = asyncio.Event()
        task = asyncio.create_task(runtime.run(ready=ready, signals=False))
        await asyncio.wait_for(ready.wait(), 10)
        await until(lambda: client.connected and fs.listener_info() != [], "connected")
        for g in scenario.groups:
            for agent_id in g.agent_ids:
                runtime.submit(AgentLogin(agent_id))
                runtime.submit(AgentReady(agent_id))
        try:
            yield Daemon(fs, runtime, adapter)
        finally:
            runtime.stop()
            await asyncio.wait_for(task, 10)


def queue(d: Daemon) -> object:
    return d.runtime.switchboard.statistics(d.runtime.clock()).queues["q"]


def call(d: Daemon, caller: str = "+33100") -> Channel:
    return d.fs.switch.inbound_call(caller, "3000",
                                    variables={"cti_queue": "q", "cti_account": "A-7"})


async def test_a_scenario_runs_through_the_socket_and_every_call_is_accounted_for() -> None:
    scenario = parse_scenario(SCENARIO)
    async with daemon(scenario) as d:
        driver = EslTrafficDriver(d.fs, scenario, speed=SPEED, calls=30)
        summary = await asyncio.wait_for(driver.run(), 60)
        board = d.runtime.switchboard
        await until(lambda: not board.calls, "every call ended in the switchboard")
        q = queue(d)
        assert summary.placed == 30
        assert q.offered == 30  # type: ignore[attr-defined]
        assert q.answered == summary.bridged  # type: ignore[attr-defined]
        assert q.answered + q.abandoned == 30  # type: ignore[attr-defined]
        assert summary.abandoned == q.abandoned  # type: ignore[attr-defined]
        # No agent is left reserved, ringing or talking to nobody.
        await until(lambda: all(a.state in (AgentState.READY, AgentState.NOT_READY)
                                for a in board.agents.values()), "agents free")
        assert not d.adapter.control.calls
        assert not d.adapter.control.legs
        assert d.adapter.commands_failed == 0


async def test_a_full_call_carries_its_data_to_the_agent_leg_and_ends_in_wrap_up() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario) as d:
        sw = d.fs.switch
        caller = call(d)
        await until(lambda: caller.partner is not None, "bridged")
        agent_leg = caller.partner
        assert agent_leg is not None
        assert agent_leg.variables.get("cti_account") == "A-7"
        assert agent_leg.variables.get("cti_call_id") == caller.uuid
        talking = [a for a in ("agent-1", "agent-2") if d.agent(a) is AgentState.ON_CALL]
        assert len(talking) == 1
        sw.hangup(caller, "NORMAL_CLEARING")
        await until(lambda: d.agent(talking[0]) is AgentState.WRAP_UP, "wrap-up")
        await until(lambda: agent_leg.hungup, "agent leg hung up")
        await until(lambda: d.agent(talking[0]) is AgentState.READY, "ready after wrap-up")
        assert queue(d).answered == 1  # type: ignore[attr-defined]


async def test_a_recorded_call_carries_its_recording_in_the_call_record() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario, record_calls=True) as d:
        caller = call(d)
        await until(lambda: caller.partner is not None, "bridged")
        path = f"/rec/{caller.uuid}.wav"
        await until(lambda: path in caller.recordings, "FreeSWITCH records the conversation")
        board = d.runtime.switchboard
        await until(lambda: board.calls[caller.uuid].data.get("recording") == path,
                    "the call's data names the recording")


async def test_ring_no_answer_then_another_agent_takes_the_call() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario, Endpoint.not_answering("user/agent-1"),
                      Endpoint.answering("user/agent-2", 1.0)) as d:
        # agent-1 is the longest idle (logged in first), so it is offered the call first.
        caller = call(d)
        await until(lambda: caller.partner is not None, "bridged", timeout_s=15)
        assert d.agent("agent-2") is AgentState.ON_CALL
        a1 = d.runtime.switchboard.agents["agent-1"].statistics(d.runtime.clock())
        assert a1.missed == 1
        assert a1.state != AgentState.ON_CALL.value


async def test_a_caller_hanging_up_while_the_agent_rings_releases_the_agent() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario, Endpoint.not_answering("user/agent-1"),
                      Endpoint.not_answering("user/agent-2")) as d:
        caller = call(d)
        await until(lambda: any(d.agent(a) is AgentState.RINGING
                                for a in ("agent-1", "agent-2")), "ringing")
        ringing = [ch for ch in d.fs.switch.channels.values() if ch.direction == "outbound"]
        assert len(ringing) == 1
        d.fs.switch.hangup(caller, "ORIGINATOR_CANCEL")
        await until(lambda: ringing[0].hungup, "agent leg cancelled")
        assert ringing[0].hangup_cause == "ORIGINATOR_CANCEL"
        await until(lambda: all(d.agent(a) is AgentState.READY
                                for a in ("agent-1", "agent-2")), "agents ready")
        assert queue(d).abandoned == 1  # type: ignore[attr-defined]


async def test_a_link_cut_mid_frame_resyncs_and_leaves_no_agent_stuck() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario) as d:
        sw = d.fs.switch
        first, second = call(d, "+331"), call(d, "+332")
        await until(lambda: first.partner is not None and second.partner is not None,
                    "both bridged")
        client = d.adapter.client
        links = client.statistics().links
        d.fs.inject(b"Content-Type: text/event-plain\nContent-Length: 500\n\nEvent-Na")
        d.fs.drop_links()
        sw.hangup(first, "NORMAL_CLEARING")  # while the link is down: its events are lost
        await until(lambda: client.statistics().links > links and client.connected,
                    "reconnected")
        board = d.runtime.switchboard
        await until(lambda: first.uuid not in board.calls, "the lost call ended")
        assert second.uuid in board.calls  # the call FreeSWITCH still has goes on
        await until(lambda: sum(d.agent(a) is AgentState.ON_CALL
                                for a in ("agent-1", "agent-2")) == 1, "one agent talking")
        sw.hangup(second, "NORMAL_CLEARING")
        await until(lambda: not board.calls, "all ended")
        await until(lambda: all(d.agent(a) is AgentState.READY
                                for a in ("agent-1", "agent-2")), "agents ready")


async def test_a_freeswitch_restart_ends_every_call_it_had() -> None:
    scenario = parse_scenario(TWO_AGENTS)
    async with daemon(scenario) as d:
        caller = call(d)
        await until(lambda: caller.partner is not None, "bridged")
        old_core = d.adapter.client.core_uuid
        await d.fs.restart()
        board = d.runtime.switchboard
        await until(lambda: not board.calls, "calls of the old FreeSWITCH ended")
        assert d.adapter.client.core_uuid != old_core
        await until(lambda: all(d.agent(a) is AgentState.READY
                                for a in ("agent-1", "agent-2")), "agents ready")
        # And the new FreeSWITCH's calls are routed as usual.
        fresh = call(d, "+339")
        await until(lambda: fresh.partner is not None, "new call bridged")

