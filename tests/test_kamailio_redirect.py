"""Kamailio uac_redirect mode end to end, with real peers: SIPp callers → Kamailio 5.6 running
docs/kamailio/acd-redirect.cfg → the daemon's redirect server ([sip], in-process) → 302 →
Kamailio follows it (get_redirects) → SIPp agents (UAS scenarios that echo Record-Route). No
ACD code beyond the redirect server: the point is the Kamailio side. Every peer is a
subprocess on free loopback ports, bounded in calls and time and stopped by its pid."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sip_peers import Kamailio, SippAgent, agent_sections, answered_by, require
from sipp_runner import free_port, run_sipp

from adapters.sip.adapter import SipRedirectAdapter
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady
from cti.pbx import pbx_link
from cti.runtime import Runtime

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    """One Kamailio for the module, forwarding to a redirect server on ``acd_port`` that each
    test starts."""
    require("sipp")
    tmp = tmp_path_factory.mktemp("kamailio-redirect")
    acd_port = free_port()
    kam = Kamailio("acd-redirect.cfg", tmp, {"ACD_URI": f'"sip:127.0.0.1:{acd_port}"'})
    kam.ports["acd"] = acd_port
    kam.start()
    try:
        yield kam
    finally:
        kam.stop()


@contextlib.asynccontextmanager
async def daemon(kam: Kamailio, agents: dict[str, str],
                 ) -> AsyncIterator[tuple[Runtime, SipRedirectAdapter]]:
    text = f"""
site = "kamailio-redirect-test"
[numbers]
"100" = "sales"
[queues.sales]
wrap_up_s = 0
[sip]
port = {kam.ports["acd"]}
"""
    text += agent_sections(agents)
    settings = parse_settings(text, source="kamailio-redirect-test.toml")
    pbx = pbx_link(settings)
    assert isinstance(pbx, SipRedirectAdapter)
    runtime = Runtime(settings, pbx=pbx)
    ready = asyncio.Event()
    task = asyncio.create_task(runtime.run(ready=ready, signals=False))
    await asyncio.wait_for(ready.wait(), 5)
    await asyncio.wait_for(pbx.started.wait(), 5)
    for agent in agents:
        runtime.submit(AgentLogin(agent))
        runtime.submit(AgentReady(agent))
        await asyncio.sleep(0.01)  # login order = idle order (least-idle picks the first)
    try:
        yield runtime, pbx
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)


async def test_calls_follow_the_302_to_the_agent_and_end_with_bye(kamailio: Kamailio,
                                                                  tmp_path: Path) -> None:
    phones = [SippAgent("agent_uas.xml", tmp_path, f"10{i}") for i in range(2)]
    try:
        agents = {f"a{i}": phone.uri for i, phone in enumerate(phones)}
        async with daemon(kamailio, agents) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=6,
                                    rate=5, pause_ms=300, timeout_s=15)
            await asyncio.sleep(0.1)
            sb, stats = runtime.switchboard, pbx.server.statistics()
            assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
            assert result.count("SuccessfulCall(C)") == 6
            assert result.count("FailedCall(C)") == 0
            answered = answered_by(result.logs)
            assert set(answered.values()) <= {f"sip:127.0.0.1:{p.port}" for p in phones}
            taken = sorted(call for phone in phones for call in phone.invites())
            assert taken == sorted(answered)
            # The X-CTI-* headers of the 302 went on to the agent with the call.
            for phone in phones:
                for line in phone.lines():
                    if line.startswith("INVITE"):
                        call_id = line.split()[1]
                        assert "queue= sales" in line
                        assert f"cti= {call_id}" in line
            # The ACD saw each call once, as a 302; it cannot see the BYE.
            assert sb.arrived == stats.invites == stats.redirected == 6
            assert sb.ended["answered"] == 6
            assert not sb.calls
    finally:
        for phone in phones:
            phone.stop()


async def test_an_agent_who_answers_480_gets_the_call_taken_elsewhere(kamailio: Kamailio,
                                                                     tmp_path: Path) -> None:
    busy = SippAgent("agent_480_uas.xml", tmp_path, "1001")
    good = SippAgent("agent_uas.xml", tmp_path, "1002")
    try:
        # a1 logs in first, so least-idle offers it the call; its 480 sends Kamailio back to
        # the ACD, for which the first 302 ended a1's call: a2 has now waited longest.
        async with daemon(kamailio, {"a1": busy.uri, "a2": good.uri}) as (runtime, pbx):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=1,
                                    rate=1, pause_ms=300, timeout_s=10)
            await asyncio.sleep(0.1)
            sb, stats = runtime.switchboard, pbx.server.statistics()
            assert result.returncode == 0, result.output + result.errors + kamailio.log_tail()
            assert result.count("SuccessfulCall(C)") == 1
            assert list(answered_by(result.logs).values()) == [f"sip:127.0.0.1:{good.port}"]
            assert busy.invites() == good.invites()  # the same call, first to a1 then to a2
            assert len(good.invites()) == 1
            # The second question carried the caller's headers only, not the first 302's.
            (invite,) = [line for line in good.lines() if line.startswith("INVITE")]
            assert invite.endswith('data= {"account":"acct-1"}')
            # Two routing decisions for one SIP call; the ACD never learnt of the 480.
            assert sb.arrived == stats.redirected == 2
            assert sb.agents["a1"].missed == 0
            assert not sb.calls
    finally:
        busy.stop()
        good.stop()


async def test_redirect_mode_cannot_keep_an_agent_on_a_call_from_the_next(
        kamailio: Kamailio, tmp_path: Path) -> None:
    # What redirect mode cannot know, shown: the load under which evapi mode never rings a
    # busy agent (test_kamailio_evapi.py) rings agents already on a call, since every 302
    # counts as a call answered and ended at once.
    phones = [SippAgent("agent_uas.xml", tmp_path, f"10{i}") for i in range(3)]
    try:
        agents = {f"a{i}": phone.uri for i, phone in enumerate(phones)}
        async with daemon(kamailio, agents):
            result = await run_sipp("proxy_uac.xml", kamailio.sip_port, tmp_path, calls=12,
                                    rate=20, pause_ms=800, timeout_s=15)
            assert result.returncode == 0, result.output + result.errors
            assert result.count("SuccessfulCall(C)") == 12
            assert max(phone.most_at_once() for phone in phones) > 1
    finally:
        for phone in phones:
            phone.stop()
