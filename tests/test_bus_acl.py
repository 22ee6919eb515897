"""docs/mosquitto.acl against a real Mosquitto: an agent publishes commands only for itself and
reads only its own screen pops; the daemon's user sees everything."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest
from mqtt_broker import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
USERS = {"cti-server": "srv-pass", "1001": "pw-1001", "1002": "pw-1002"}


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Mosquitto]:
    passwd = tmp_path / "cti.passwd"
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package 'mosquitto')")
    for i, (user, password) in enumerate(USERS.items()):
        flags = ["-c"] if i == 0 else []
        subprocess.run([tool, *flags, "-b", str(passwd), user, password], check=True,
                       capture_output=True)
    passwd.chmod(0o600)
    acl = ROOT / "docs" / "mosquitto.acl"
    broker = Mosquitto(tmp_path, extra=(
        f"allow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def client(broker: Mosquitto, user: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, username=user, password=USERS[user],
                          identifier=f"test-{user}", protocol=aiomqtt.ProtocolVersion.V5)


async def receive(c: aiomqtt.Client, seconds: float) -> list[str]:
    got: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for message in c.messages:
                got.append(str(message.topic))  # noqa: PERF401 - kept up to the timeout
    return got


@pytest.mark.asyncio
async def test_agents_act_only_for_themselves(secured: Mosquitto) -> None:
    async with client(secured, "cti-server") as server, client(secured, "1001") as agent:
        await server.subscribe("cti/v1/+/agents/+/cmd", qos=1)
        await agent.subscribe("cti/v1/lyon/agents/+/screenpop", qos=1)
        await asyncio.sleep(0.2)
        await agent.publish("cti/v1/lyon/agents/1001/cmd", b"own", qos=1)
        await agent.publish("cti/v1/lyon/agents/1002/cmd", b"other", qos=1)
        await server.publish("cti/v1/lyon/agents/1001/screenpop", b"mine", qos=1)
        await server.publish("cti/v1/lyon/agents/1002/screenpop", b"theirs", qos=1)
        server_got, agent_got = await asyncio.gather(receive(server, 1.0),
                                                     receive(agent, 1.0))
    assert server_got == ["cti/v1/lyon/agents/1001/cmd"]
    assert agent_got == ["cti/v1/lyon/agents/1001/screenpop"]


@pytest.mark.asyncio
async def test_a_wrong_password_is_refused(secured: Mosquitto) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", secured.port, username="1001",
                                  password="guess", protocol=aiomqtt.ProtocolVersion.V5):
            pass
