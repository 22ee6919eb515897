"""Kamailio evapi mode end to end, with real peers: SIPp callers → Kamailio 5.6 running
docs/kamailio/acd-evapi.cfg → the daemon's Runtime in-process with the Kamailio adapter (a
client of Kamailio's evapi socket) → SIPp agents (UAS scenarios that echo Record-Route) and
one baresip agent. Every peer is a subprocess on free loopback ports, bounded in calls and
time and stopped by its pid."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sip_peers import (
    Baresip,
    Kamailio,
    SippAgent,
    agent_sections,
    answered_by,
    invite_answer,
    require,
)
from sipp_runner import free_port, run_sipp

from adapters.kamailio import EvapiOptions
from adapters.kamailio.adapter import KamailioAdapter
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, AgentState
from cti.pbx import pbx_link
from cti.runtime import Runtime

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    """One Kamailio for the module; each test's daemon connects to its evapi socket."""
    require("sipp")
    tmp = tmp_path_factory.mktemp("kamailio-evapi")
    evapi = free_port()
    kam = Kamailio("acd-evapi.cfg", tmp, {"EVAPI_BIND": f'"127.0.0.1:{evapi}"',
                                          "ACD_WAIT_MS": "20000"})
    kam.ports["evapi"] = evapi
    kam.start()
    try:
        yield kam
    finally:
        kam.stop()


def config(evapi_port: int, agents: dict[str, str], *, ring_timeout_s: float = 6) -> str:
    text = f"""
site = "kamailio-test"
blacklist = ["666"]
[numbers]
"100" = "sales"
[queues.sales]
wrap_up_s = 0
ring_timeout_s = {ring_timeout_s}
[ring]
retry_s = {{no-answer = 30, busy = 30, rejected = 30, unreachable = 30}}
[kamailio]
port = {evapi_port}
reconnect_max_s = 0.5
"""
    text += agent_sections(agents)
    return text


@contextlib.asynccontextmanager
async def daemon(kam: Kamailio, agents: dict[str, str], *, login: tuple[str, ...] | None = None,
                 evapi: EvapiOptions | None = None, **options: float,
                 ) -> AsyncIterator[tuple[Runtime, KamailioAdapter]]:
    settings = parse_settings(config(kam.ports["evapi"], agents, **options),
                              source="kamailio-test.toml")
    pbx = pbx_link(settings)
    assert isinstance(pbx, KamailioAdapter)
    if evapi is not None:  # options the config file would refuse
        pbx = KamailioAdapter(evapi, port=kam.ports["evapi"], reconnect_max_s=0.5)
    runtime = Runtime(settings, pbx=pbx)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await asyncio.wait_for(ready.wait(), 5)
    await asyncio.wait_for(pbx.link.connected.wait(), 5)
    await asyncio.sleep(0.05)  # Kamailio's connection-new route has marked the link up
    for agent in agents if login is None else login:
        runtime.submit(AgentLogin(agent))
        runtime.submit(AgentReady(agent))
        await asyncio.sleep(0.01)  # login order = idle order (least-idle picks the first)
    try:
        yield runtime, pbx
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)


async def test_no_agent_ever_takes_a_second_call_while_on_one(kamailio: Kamailio,
                                                              tmp_path: Path) -> None:
    # 12 callers in 0.6 s for 3 agents whose calls last 0.8 s: most callers wait (182), and
    # each agent is free again only when Kamailio reports the BYE. An ACD that took the
    # offer for the whole call rings busy agents at once: the same load in redirect mode
    # does (test_kamailio_redirect.py).
    phones = [SippAgent("agent_uas.xml", tmp_path, f"10{i}") for i in range(3)]
    try:
        agents = {f"a{i}": phone.uri for i, phone in enumerate(phones)}
        async with daemon(kamailio, agents) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=12,
                                    rate=20, pause_ms=800, timeout_s=25)
            await asyncio.sleep(0.1)  # the last dialog:end
            sb, stats = runtime.switchboard, pbx.router.statistics()
            assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
            assert result.count("SuccessfulCall(C)") == 12
            assert result.count("FailedCall(C)") == 0
            # Every call went to an agent the ACD chose, with its id and queue.
            answered = answered_by(result.logs)
            assert len(answered) == 12
            for phone in phones:
                assert phone.most_at_once() == 1, phone.lines()
                assert all("queue= sales" in line for line in phone.lines()
                           if line.startswith("INVITE"))
            taken = sorted(call for phone in phones for call in phone.invites())
            assert taken == sorted(answered)
            # The ACD followed the dialogs: answered and ended, with talk time.
            assert stats.routed == stats.answered == stats.ended == 12
            assert stats.queued > 0
            assert stats.malformed == stats.late_answers == 0
            assert sb.ended["answered"] == 12
            assert not sb.calls
            assert pbx.router.active_calls == 0
            for agent_id in agents:
                agent = sb.agents[agent_id]
                assert agent.state is AgentState.READY
                assert agent.answered >= 1
            assert pbx.refused_events == 0
    finally:
        for phone in phones:
            phone.stop()


async def test_an_agent_who_answers_480_gets_the_call_taken_elsewhere(kamailio: Kamailio,
                                                                     tmp_path: Path) -> None:
    busy = SippAgent("agent_480_uas.xml", tmp_path, "1001")
    good = SippAgent("agent_uas.xml", tmp_path, "1002")
    try:
        # a1 logs in first: least-idle offers it the first call, which it refuses.
        async with daemon(kamailio, {"a1": busy.uri, "a2": good.uri}) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=3,
                                    rate=2, pause_ms=300, timeout_s=15)
            await asyncio.sleep(0.1)
            sb, stats = runtime.switchboard, pbx.router.statistics()
            assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
            assert result.count("SuccessfulCall(C)") == 3
            assert result.count("FailedCall(C)") == 0
            answered = answered_by(result.logs)
            assert set(answered.values()) == {f"sip:127.0.0.1:{good.port}"}
            # The refused call is one of those the good agent took; a1 rests after its miss.
            refused = busy.invites()
            assert len(refused) == 1
            assert refused[0] in good.invites()
            assert sb.agents["a1"].missed == 1
            assert sb.agents["a1"].state is AgentState.NOT_READY
            assert sb.agents["a2"].answered == 3
            assert stats.branch_failures == 1
            assert sb.ended["answered"] == 3
            assert not sb.calls
    finally:
        busy.stop()
        good.stop()


@pytest.mark.parametrize("timer", ["kamailio", "acd"])
async def test_an_agent_who_does_not_pick_up_is_cancelled_and_the_call_goes_on(
        kamailio: Kamailio, tmp_path: Path, timer: str) -> None:
    # Normally Kamailio's ring timer (fr_inv_timer, the ring timeout less ring_margin_s) ends
    # the ring and the failure route reports a 408. Should the ACD's own ring timeout come
    # first (forced here: Kamailio's timer made longer, which the config file refuses), its
    # cancel action has Kamailio cancel the branch. Either way: one miss, the next agent.
    silent = SippAgent("agent_noanswer_uas.xml", tmp_path, "1001")
    good = SippAgent("agent_uas.xml", tmp_path, "1002")
    evapi = EvapiOptions(ring_margin_s=-3.0) if timer == "acd" else None
    try:
        async with daemon(kamailio, {"a1": silent.uri, "a2": good.uri}, ring_timeout_s=2,
                          evapi=evapi) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=1,
                                    rate=1, pause_ms=200, timeout_s=10)
            await asyncio.sleep(0.1)
            sb, stats = runtime.switchboard, pbx.router.statistics()
            assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
            assert result.count("SuccessfulCall(C)") == 1
            assert [line.split()[0] for line in silent.lines()] == ["INVITE", "CANCEL"]
            assert silent.invites() == good.invites()
            assert sb.agents["a1"].missed == 1
            assert sb.agents["a1"].state is AgentState.NOT_READY
            assert sb.agents["a2"].answered == 1
            assert stats.branch_failures == 1
            assert stats.offers_cancelled == (timer == "acd")
            assert not sb.calls
    finally:
        silent.stop()
        good.stop()


async def test_a_caller_who_cancels_while_queued_gets_487(kamailio: Kamailio,
                                                          tmp_path: Path) -> None:
    async with daemon(kamailio, {"a1": "sip:1001@127.0.0.1:9"}, login=()) as (runtime, pbx):
        result = await run_sipp("proxy_cancel_uac.xml", kamailio.sip_port, tmp_path, calls=3,
                                rate=10, pause_ms=300, timeout_s=10)
        await asyncio.sleep(0.1)
        sb, stats = runtime.switchboard, pbx.router.statistics()
        assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
        assert result.count("SuccessfulCall(C)") == 3
        assert sorted(line.split(" ", 2)[2] for line in result.logs
                      if line.startswith("QUEUED")) == [f"Queued position {n}" for n in (1, 2, 3)]
        assert stats.queued == stats.cancelled == 3
        assert sb.queues["sales"].abandoned == 3
        assert not sb.calls
        assert pbx.router.active_calls == 0


async def test_a_baresip_agent_with_auto_answer_takes_a_call(kamailio: Kamailio,
                                                             tmp_path: Path) -> None:
    phone = Baresip(tmp_path, "1001")
    try:
        phone.wait_ready()
        async with daemon(kamailio, {"a1": phone.uri}) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=1,
                                    rate=1, pause_ms=1000, timeout_s=10)
            await asyncio.sleep(0.2)
            sb, stats = runtime.switchboard, pbx.router.statistics()
            assert result.returncode == 0, (result.output + result.errors + phone.text()
                                            + kamailio.log_tail())
            assert result.count("SuccessfulCall(C)") == 1
            log = phone.text()
            assert "Call established" in log
            assert "terminated" in log
            assert stats.answered == stats.ended == 1
            agent = sb.agents["a1"]
            assert agent.answered == 1
            assert agent.state is AgentState.READY
            assert sb.ended["answered"] == 1
    finally:
        phone.stop()


async def test_refusals_and_an_acd_that_is_not_there(kamailio: Kamailio) -> None:
    # No ACD connected (an earlier test's has closed: give Kamailio a moment to see it),
    # Kamailio turns callers away itself, with a Retry-After.
    await asyncio.sleep(0.3)
    status = await asyncio.to_thread(invite_answer, kamailio.sip_port, "100")
    assert status == (503, "ACD Unavailable")
    async with daemon(kamailio, {"a1": "sip:1001@127.0.0.1:9"}) as (runtime, pbx):
        # The ACD's refusals, with the status configured for each cause.
        no_route = await asyncio.to_thread(invite_answer, kamailio.sip_port, "999")
        blocked = await asyncio.to_thread(invite_answer, kamailio.sip_port, "100", "666")
        assert no_route == (480, "Temporarily Unavailable")
        assert blocked == (603, "Decline")
        await asyncio.sleep(0.05)  # dialog:failed for both
        assert pbx.router.statistics().refused == 2
        assert runtime.switchboard.arrived == 2
        assert not runtime.switchboard.calls
        assert pbx.router.active_calls == 0
