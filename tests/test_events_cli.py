"""``cti agent`` and ``cti events`` as a user runs them, against ``cti serve`` and a real
Mosquitto, each in its own process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from mqtt_broker import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
CTI = [sys.executable, "-m", "cti"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Mosquitto]]:
    broker = Mosquitto(tmp_path)
    broker.start()
    config = tmp_path / "site.toml"
    config.write_text(f"""
site = "lyon"
default_queue = "sales"
[bus]
port = {broker.port}
[queues.sales]
[agents.1001]
queues = ["sales"]
""", encoding="utf-8")
    serve = subprocess.Popen([*CTI, "serve", "--config", str(config)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_line(serve.stdout, "connected to broker")  # and subscribed to commands
        yield config, broker
    finally:
        serve.send_signal(signal.SIGTERM)  # our own child, by pid
        try:
            serve.wait(timeout=10)
        except subprocess.TimeoutExpired:
            serve.kill()
        broker.stop()


def wait_for_line(stream: IO[str] | None, text: str, timeout: float = 20) -> None:
    assert stream is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"never printed {text!r}: {''.join(seen)}")


def cti(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CTI, *args], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_agent_commands_and_events(site: tuple[Path, Mosquitto]) -> None:
    config, _ = site
    watcher = subprocess.Popen(
        [*CTI, "events", "cti/v1/lyon/agents/+/state", "--config", str(config),
         "--count", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(watcher.stderr, "subscribed to")
    login = cti("agent", "1001", "login", "--config", str(config))
    assert (login.returncode, login.stdout.strip()) == (0, "1001 login: ok"), login.stderr
    ready = cti("agent", "1001", "ready", "--config", str(config))
    assert ready.returncode == 0, ready.stdout + ready.stderr
    refused = cti("agent", "1001", "wrap-up-done", "--config", str(config))
    assert refused.returncode == 1
    assert "refused" in refused.stdout
    out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, err
    lines = out.strip().splitlines()
    assert "agent 1001: logged-out -> not-ready (login)" in lines[0]
    assert "agent 1001: not-ready -> ready" in lines[1]


def test_agent_without_a_daemon_says_so(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path)
    broker.start()
    try:
        out = cti("agent", "1001", "ready", "--port", str(broker.port), "--timeout", "1")
    finally:
        broker.stop()
    assert out.returncode == 2
    assert "no reply within 1 s" in out.stderr
