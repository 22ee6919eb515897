"""IVR media over the Event Socket: the FreeSWITCH adapter playing prompts, collecting digits,
announcing and saying goodbye on the simulated FreeSWITCH, over a real loopback socket; and
the messages it writes, checked one by one. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.esl import EslClient
from adapters.esl.adapter import FreeswitchAdapter
from adapters.esl.control import CallControl, ControlOptions
from adapters.esl.media import SendMsg
from cti.config import DaemonModel, Settings
from cti.core import (
    AgentLogin,
    AgentReady,
    AgentState,
    Announce,
    CallArrived,
    CallHungUp,
    CollectDigits,
    DigitsEntered,
    DigitsTimedOut,
    HangUp,
    ParkWithMusic,
    PlayPrompt,
    PromptDone,
    PromptFile,
    SayValue,
)
from cti.core import Event as CoreEvent
from cti.runtime import Runtime
from sim.freeswitch.apps import Collect
from sim.freeswitch.channels import Channel
from sim.freeswitch.driver import EslTrafficDriver
from sim.freeswitch.switch import Endpoint
from sim.freeswitch.wire import SimFreeSwitch
from sim.scenario import load_scenario

SPEED = 20.0


@dataclass
class Recorder:
    """Stands for the runtime: takes every event the adapter submits."""

    events: list[CoreEvent] = field(default_factory=list)

    def submit(self, event: CoreEvent) -> None:
        self.events.append(event)


@dataclass
class Rig:
    fs: SimFreeSwitch
    adapter: FreeswitchAdapter
    seen: Recorder
    #: What the simulated caller does at the next ``play_and_get_digits``.
    answer: tuple[float, str, bool] = (1.0, "", False)
    asked: list[tuple[str, Collect]] = field(default_factory=list)

    async def wait_for(self, cond: Callable[[CoreEvent], bool], what: str,
                       timeout_s: float = 5.0) -> CoreEvent:
        async with asyncio.timeout(timeout_s):
            while True:
                for event in self.seen.events:
                    if cond(event):
                        return event
                await asyncio.sleep(0.01)
        raise AssertionError(what)  # pragma: no cover - the timeout raises first

    async def arrive(self, caller: str = "+33100") -> Channel:
        ch = self.fs.switch.inbound_call(caller, "3000")
        await self.wait_for(lambda e: isinstance(e, CallArrived) and e.call_id == ch.uuid,
                            "the parked call arrives")
        return ch


async def until(cond: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.01)
    assert cond(), what


@contextlib.asynccontextmanager
async def rig() -> AsyncIterator[Rig]:
    async with SimFreeSwitch(port=0, speed=SPEED, heartbeat_s=0.5) as fs:
        client = EslClient("127.0.0.1", fs.port, "ClueCon", events=CallControl.EVENTS,
                           backoff_base_s=0.05, backoff_max_s=0.2)
        adapter = FreeswitchAdapter(client, ControlOptions(
            destinations=frozenset({"3000"}), prompts="/sounds"))
        seen = Recorder()
        r = Rig(fs, adapter, seen)

        def keys(ch: Channel, ask: Collect) -> tuple[float, str, bool]:
            r.asked.append((ch.variables.get("cti_ivr_node", ""), ask))
            return r.answer

        fs.switch.messages.keys = keys
        task = asyncio.create_task(adapter.run(seen))  # type: ignore[arg-type]
        await until(lambda: client.connected and fs.listener_info() != [], "connected")
        try:
            yield r
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.asyncio
async def test_prompts_and_values_play_and_their_end_is_reported() -> None:
    async with rig() as r:
        ch = await r.arrive()
        # A site without an IVR never receives every application's completion ...
        assert "CHANNEL_EXECUTE_COMPLETE" not in r.adapter.client.events
        r.adapter.execute(PlayPrompt(ch.uuid, 1, (PromptFile("welcome"),
                                                  PromptFile("balance", "bills/balance.wav")),
                                     (SayValue("42", "currency"),)))
        await r.wait_for(lambda e: e == PromptDone(ch.uuid, 1), "the prompts end")
        assert ch.variables["last_app"] == "say"  # the value is spoken after the files
        # ... the first prompt subscribes to them, for this link and every reconnect.
        assert "CHANNEL_EXECUTE_COMPLETE" in r.adapter.client.events
        assert not ch.hungup


@pytest.mark.asyncio
async def test_digits_typed_come_back_with_the_terminator_and_the_step() -> None:
    async with rig() as r:
        ch = await r.arrive()
        r.answer = (1.0, "1234#", False)
        r.adapter.execute(CollectDigits(ch.uuid, 2, "meter", 1, (PromptFile("ask-meter"),),
                                        4, 8, "#", 5.0, 3.0))
        got = await r.wait_for(lambda e: isinstance(e, DigitsEntered), "digits")
        assert got == DigitsEntered(ch.uuid, "1234#", 2)
        kinds = [type(e) for e in r.seen.events if getattr(e, "step", None) == 2]
        assert kinds == [PromptDone, DigitsEntered]  # the prompt's end first
        node, ask = r.asked[0]
        assert node == "meter"
        assert (ask.min_digits, ask.max_digits, ask.timeout_ms, ask.terminators) == (
            4, 8, 5000, "#")
        assert ask.files == "/sounds/ask-meter.wav"


@pytest.mark.asyncio
async def test_silence_is_a_timeout_and_an_earlier_collections_keys_are_not_reread() -> None:
    async with rig() as r:
        ch = await r.arrive()
        r.answer = (0.5, "7", False)
        r.adapter.execute(CollectDigits(ch.uuid, 3, "menu", 1, (PromptFile("menu"),),
                                        1, 1, "", 4.0, 2.0))
        await r.wait_for(lambda e: e == DigitsEntered(ch.uuid, "7", 3), "the first key")
        r.answer = (4.0, "", False)
        r.adapter.execute(CollectDigits(ch.uuid, 4, "menu", 2, (PromptFile("menu"),),
                                        1, 1, "", 4.0, 2.0))
        await r.wait_for(lambda e: e == DigitsTimedOut(ch.uuid, 4), "nothing typed")
        assert not any(isinstance(e, DigitsEntered) and e.step == 4 for e in r.seen.events)


@pytest.mark.asyncio
async def test_a_caller_hanging_up_mid_collection_ends_the_call_and_nothing_else() -> None:
    async with rig() as r:
        ch = await r.arrive()
        r.answer = (0.5, "", True)
        r.adapter.execute(CollectDigits(ch.uuid, 5, "menu", 1, (PromptFile("menu"),),
                                        1, 1, "", 4.0, 2.0))
        await r.wait_for(lambda e: isinstance(e, CallHungUp) and e.call_id == ch.uuid,
                         "the caller hangs up")
        await asyncio.sleep(0.2)
        assert not any(isinstance(e, DigitsEntered | DigitsTimedOut) for e in r.seen.events)


@pytest.mark.asyncio
async def test_an_announcement_interrupts_the_music_which_then_resumes() -> None:
    async with rig() as r:
        ch = await r.arrive()
        r.adapter.execute(ParkWithMusic(ch.uuid, "default"))
        await until(lambda: ch.playback == ("playback", "local_stream://moh"), "music")
        r.adapter.execute(Announce(ch.uuid, 3, 150.0, PromptFile("your-position")))
        await until(lambda: ch.playback == ("playback", "/sounds/your-position.wav"),
                    "the announcement plays")
        await until(lambda: ch.playback == ("playback", "local_stream://moh"),
                    "the music again", timeout_s=8.0)
        assert ch.variables["last_app"] == "say"  # position and wait were spoken


@pytest.mark.asyncio
async def test_a_goodbye_plays_before_the_line_is_cleared() -> None:
    async with rig() as r:
        ch = await r.arrive()
        r.adapter.execute(HangUp(ch.uuid, "normal", PromptFile("goodbye")))
        await until(lambda: ch.playback == ("playback", "/sounds/goodbye.wav"), "goodbye")
        assert not ch.hungup
        await until(lambda: ch.hungup, "then the hang-up")
        assert ch.hangup_cause == "NORMAL_CLEARING"


def test_the_messages_written_name_the_application_and_carry_the_step_back() -> None:
    sent: list[object] = []
    seen: list[CoreEvent] = []
    ids = iter(f"app-{n}" for n in range(100))
    control = CallControl(ControlOptions(prompts="/p"), lambda e: seen.append(e) or True,
                          lambda cmd, leg: sent.append(cmd), new_uuid=lambda: next(ids))
    control.on_event("CHANNEL_PARK", {"Unique-ID": "u1", "Caller-Caller-ID-Number": "+1",
                                      "Caller-Destination-Number": "3000"})
    control.execute(CollectDigits("u1", 7, "menu main", 1, (PromptFile("a"), PromptFile("b")),
                                  1, 2, "#", 5.0, 3.0))
    messages = [m for m in sent if isinstance(m, SendMsg)]
    apps = [(m.headers["execute-app-name"], m.headers["execute-app-arg"]) for m in messages]
    assert apps[0] == ("set", "cti_ivr_node=menu_main")  # a space would split the argument
    assert apps[1] == ("unset", "read_terminator_used")
    assert apps[2] == ("play_and_get_digits",
                       "1 2 1 5000 # file_string:///p/a.wav!/p/b.wav silence_stream://1 "
                       "cti_ivr_digits_7 [0-9*#]+ 3000")
    app_uuid = messages[2].headers["Event-UUID"]
    # Another application's completion, then an unknown one: neither means anything.
    control.on_event("CHANNEL_EXECUTE_COMPLETE", {"Unique-ID": "u1",
                                                  "Application-UUID": "someone-else"})
    control.on_event("CHANNEL_EXECUTE_COMPLETE", {"Unique-ID": "u1",
                                                  "Application-UUID": app_uuid,
                                                  "variable_cti_ivr_digits_7": "12"})
    assert seen[1:] == [PromptDone("u1", 7), DigitsEntered("u1", "12", 7)]
    # The same completion twice is one answer only.
    control.on_event("CHANNEL_EXECUTE_COMPLETE", {"Unique-ID": "u1",
                                                  "Application-UUID": app_uuid})
    assert len(seen) == 3


@pytest.mark.asyncio
async def test_the_water_utility_flow_runs_over_the_socket_with_simulated_callers() -> None:
    speed = 100.0
    scenario = load_scenario(Path(__file__).parent.parent / "sim/scenarios/water-utility.toml")
    plan = scenario.ivr_callers
    assert plan is not None
    async with SimFreeSwitch(port=0, speed=speed, heartbeat_s=0.5) as fs:
        for g in scenario.groups:
            for agent_id in g.agent_ids:
                fs.switch.add_endpoint(Endpoint.answering(f"user/{agent_id}", 1.0))
        client = EslClient("127.0.0.1", fs.port, "ClueCon", events=CallControl.EVENTS)
        adapter = FreeswitchAdapter(client, ControlOptions(
            destinations=frozenset({plan.number})))
        # A Wednesday at 09:00 UTC, so the billing line is open whenever the test runs.
        opened, started = 1_772_614_800.0, time.monotonic()
        runtime = Runtime(Settings(scenario.config, None, DaemonModel(), scenario.source),
                          pbx=adapter, speed=speed,
                          clock=lambda: opened + speed * (time.monotonic() - started))
        ready = asyncio.Event()
        task = asyncio.create_task(runtime.run(ready=ready, signals=False))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            await until(lambda: client.connected and fs.listener_info() != [], "connected")
            for g in scenario.groups:
                for agent_id in g.agent_ids:
                    runtime.submit(AgentLogin(agent_id))
                    runtime.submit(AgentReady(agent_id))
            driver = EslTrafficDriver(fs, scenario, speed=speed, calls=12)
            asked = 0
            keys = fs.switch.messages.keys

            def counting(ch: Channel, ask: Collect) -> tuple[float, str, bool]:
                nonlocal asked
                asked += 1
                return keys(ch, ask)

            fs.switch.messages.keys = counting
            summary = await asyncio.wait_for(driver.run(), 60)
            board = runtime.switchboard
            await until(lambda: not board.calls, "every call ended in the switchboard", 20)
            assert summary.placed == 12
            assert sum(board.ended.values()) == 12
            assert asked >= 12  # every caller met the main menu, over the socket
            ivr_ends = sum(board.ended[d] for d in ("self-service", "ivr-abandoned",
                                                    "ivr-failed", "voicemail"))
            assert board.ended["answered"] >= 1  # through the flow to a queue and an agent
            assert ivr_ends >= 1
            stuck = [a.ident for a in board.agents.values()
                     if a.state in (AgentState.RESERVED, AgentState.RINGING,
                                    AgentState.ON_CALL)]
            assert stuck == []
        finally:
            runtime.stop()
            await asyncio.wait_for(task, 10)
