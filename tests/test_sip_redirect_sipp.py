"""The redirect-mode ACD driven by SIPp over UDP and TCP: the daemon's Runtime in-process with
the SIP adapter on a free loopback port, SIPp as a bounded subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sipp_runner import SIPP, run_sipp

from adapters.sip.adapter import SipRedirectAdapter
from cti.config import parse_settings
from cti.core import AgentLogin, AgentReady, AgentState
from cti.pbx import pbx_link
from cti.runtime import Runtime

# Skipped without SIPp, except under CI (.ci/run installs it), where run_sipp then fails.
pytestmark = [pytest.mark.asyncio,
              pytest.mark.skipif(SIPP is None and not os.environ.get("CI"),
                                 reason="sipp not installed (Debian: apt-get install sip-tester)")]

CONFIG = """
site = "sip-test"
blacklist = ["666"]
[numbers]
"100" = "sales"
[queues.sales]
skills = {billing = 5}
wrap_up_s = 0
[agents.a1]
endpoint = "sip:1001@10.0.0.1"
queues = ["sales"]
skills = {billing = 5}
[agents.a2]
endpoint = "sip:1002@10.0.0.2:5070"
queues = ["sales"]
skills = {billing = 7}
[agents.a3]
endpoint = "sip:1003@10.0.0.3"
queues = ["sales"]
skills = {billing = 1}
[sip]
port = 0
transport = "both"
provisional_refresh_s = 10
"""
QUALIFIED = {"sip:1001@10.0.0.1", "sip:1002@10.0.0.2:5070"}


@contextlib.asynccontextmanager
async def daemon(agents: tuple[str, ...]) -> AsyncIterator[tuple[Runtime, SipRedirectAdapter]]:
    settings = parse_settings(CONFIG, source="sip-test.toml")
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
    try:
        yield runtime, pbx
    finally:
        runtime.stop()
        await asyncio.wait_for(task, 10)


def redirects(logs: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for line in logs:
        if line.startswith("REDIRECT "):
            _, call_id, contact, queue = line.split(" ", 3)
            out.append((call_id, contact, queue.strip()))
    return out


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_every_call_is_redirected_to_a_qualified_agent(tmp_path: Path,
                                                              transport: str) -> None:
    async with daemon(("a1", "a2", "a3")) as (runtime, pbx):
        result = await run_sipp("redirect_uac.xml", pbx.transport.port, tmp_path, calls=40,
                                rate=80, transport=transport)
        await asyncio.sleep(0.05)  # the answered-then-ended events of the last 302
        sb, stats = runtime.switchboard, pbx.server.statistics()
        assert result.returncode == 0, result.output + result.errors
        assert result.count("FailedCall(C)") == 0
        assert result.count("SuccessfulCall(C)") == 40
        seen = redirects(result.logs)
        assert len(seen) == 40
        assert len({c for c, _, _ in seen}) == 40
        assert {contact for _, contact, _ in seen} <= QUALIFIED
        assert {queue for _, _, queue in seen} == {"sales"}
        # The ACD's counters equal SIPp's.
        assert sb.arrived == stats.invites == stats.redirected == 40
        assert sb.ended["answered"] == 40
        assert not sb.calls
        assert sb.agents["a3"].offered == 0
        assert pbx.server.active_calls == 0
        assert pbx.refused_events == 0


async def test_callers_who_cancel_while_queued_get_487(tmp_path: Path) -> None:
    async with daemon(()) as (runtime, pbx):
        result = await run_sipp("cancel_uac.xml", pbx.transport.port, tmp_path, calls=10,
                                rate=50, pause_ms=300)
        await asyncio.sleep(0.05)
        sb, stats = runtime.switchboard, pbx.server.statistics()
        assert result.returncode == 0, result.output + result.errors
        assert result.count("FailedCall(C)") == 0
        assert result.count("SuccessfulCall(C)") == 10
        assert stats.queued == stats.cancelled == 10
        assert stats.redirected == 0
        assert sb.queues["sales"].abandoned == 10
        assert not sb.calls
        # Nothing is left reserved for a caller who left: an agent coming in stays ready.
        runtime.submit(AgentLogin("a1"))
        runtime.submit(AgentReady("a1"))
        await asyncio.sleep(0.05)
        assert sb.agents["a1"].state is AgentState.READY
        assert sb.agents["a1"].offered == 0


async def test_every_call_completes_with_ten_percent_loss(tmp_path: Path) -> None:
    async with daemon(("a1", "a2")) as (runtime, pbx):
        result = await run_sipp("redirect_uac.xml", pbx.transport.port, tmp_path, calls=30,
                                rate=30, lost=10, pause_ms=2500, timeout_s=25)
        await asyncio.sleep(0.05)
        sb, stats = runtime.switchboard, pbx.server.statistics()
        assert result.returncode == 0, result.output + result.errors
        assert result.count("FailedCall(C)") == 0
        assert result.count("SuccessfulCall(C)") == 30
        assert {contact for _, contact, _ in redirects(result.logs)} <= QUALIFIED
        # Losses were repaired by retransmission (the same 302 again, Timer G, or the caller's
        # INVITE again), never by a second routing decision.
        assert sb.arrived == stats.redirected == 30
        layer = pbx.server.layer.statistics()
        assert layer.response_retransmissions + layer.retransmissions > 0
