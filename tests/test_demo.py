"""``cti demo`` as a user runs it: its own broker, the daemon and the simulated contact center in
one process; a subscriber sees screen pops and tickets, ``cti agent`` gets its reply through the
built-in broker, and Ctrl-C stops it with a summary. Also the view's text, and a taken port."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiomqtt
import pytest
from mqtt_broker import free_port

from cti.bus.envelope import Envelope, decode
from cti.core import AgentLogin, AgentReady, CallArrived, CustomerLookupDone, Switchboard
from cti.demo import DEFAULT_SCENARIO, Demo
from cti.demo_view import Snapshot, TicketCounts, render, status_line, summary
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CTI = [sys.executable, "-m", "cti"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def watch(port: int) -> tuple[list[Envelope], list[Envelope], int, str]:
    """Screen pops and tickets from the demo's broker, and what ``cti agent`` got back."""
    pops: list[Envelope] = []
    tickets: list[Envelope] = []
    async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe("cti/v1/demo/agents/+/screenpop", qos=1)
        await c.subscribe("cti/v1/demo/tickets/#", qos=1)
        agent = None
        async with asyncio.timeout(60):  # a guard against a hang, not a speed requirement
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                env = decode(m.payload)
                (pops if env.type == "screenpop" else tickets).append(env)
                if agent is None and pops:  # the daemon is up and its agents logged in
                    agent = await asyncio.create_subprocess_exec(
                        *CTI, "agent", "sales-1", "not-ready", "lunch", "--port", str(port),
                        "--site", "demo", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT)
                if pops and tickets:
                    break
            assert agent is not None
            answer, _ = await agent.communicate()
    assert agent.returncode is not None
    return pops, tickets, agent.returncode, answer.decode()


def figure(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, text
    return int(found.group(1))


def test_demo_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.sqlite"
    demo = subprocess.Popen(
        [*CTI, "demo", "--port", str(port), "--speed", "200", "--no-view", "--db", str(db)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert demo.stdout is not None
        intro = [demo.stdout.readline() for _ in range(5)]
        assert f"cti events --port {port}" in "".join(intro), intro
        pops, tickets, code, answer = asyncio.run(watch(port))
        demo.send_signal(signal.SIGINT)  # our own child, by its pid
        out, err = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert (code, answer.strip()) == (0, "sales-1 not-ready: ok")
    pop = pops[0].data
    assert pop["agent_id"]
    assert pop["call_id"].startswith("demo-")
    assert pop["queue"] in {"sales", "support"}
    assert tickets[0].type == "ticket.created"
    assert tickets[0].data["kind"] in {"abandoned", "callback", "follow-up"}
    assert demo.returncode == 0, err
    assert "cti demo stopped" in out
    assert figure(r"screen pops published: (\d+)", out) >= len(pops)
    assert figure(r"tickets: (\d+) created", out) >= 1
    assert figure(r"\((\d+) call records\)", out) > 0
    assert re.search(r"calls: \d+ offered, \d+ answered, \d+ abandoned", out), out
    assert "service level: " in out


@pytest.mark.asyncio
async def test_a_taken_port_is_named_with_a_way_out(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = Demo(load_scenario(DEFAULT_SCENARIO), speed=10, port=port,
                    db=tmp_path / "d.sqlite")
        assert await demo.run() == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "--port 0" in err


def test_the_view_and_the_summary() -> None:
    scenario = load_scenario(DEFAULT_SCENARIO)
    sb = Switchboard(scenario.config, now=1000.0)
    for agent in scenario.config.agents[:2]:
        sb.handle(AgentLogin(agent.agent_id), now=1000.0)
        sb.handle(AgentReady(agent.agent_id), now=1000.0)
    sb.handle(CallArrived("c1", "+3361", "sales", queue="sales"), now=1001.0)
    sb.handle(CustomerLookupDone("c1", None), now=1001.0)  # the scenario looks callers up
    snap = Snapshot(stats=sb.statistics(1010.0), longest_wait={"support": 95.0}, speed=10,
                    uptime_s=61, screen_pops=1, tickets=2, tickets_merged=1, published=40,
                    dropped=0)
    lines = render(snap, hints=["watch the events:  cti events --port 1883"], width=80)
    plain = [ANSI.sub("", line) for line in lines]
    assert all(len(line) <= 80 for line in plain)
    text = "\n".join(plain)
    assert "cti events --port 1883" in text
    assert re.search(r"agents \(2\)\s+ready 1\s+reserved 1\n", text), text
    assert re.search(r"^support\s+0\s+1:35\s+0", text, re.M), text  # longest wait now
    assert re.search(r"^sales\s+0\s+-\s+1\s+0\s+0", text, re.M), text
    assert "screen pops 1   tickets 2 (+1 merged)" in text
    line = status_line(snap)
    assert "\n" not in line
    assert "sales: 0 waiting, offered 1" in line
    done = summary(snap, tickets=TicketCounts({"follow-up": 1, "abandoned": 1}, 3),
                   store="/tmp/x.sqlite", broker="built-in broker: ...")
    joined = "\n".join(done)
    assert "calls: 1 offered, 0 answered, 0 abandoned" in joined
    assert "tickets: 2 created (abandoned 1, follow-up 1), 1 merged" in joined
    assert "store: /tmp/x.sqlite (3 call records)" in joined
