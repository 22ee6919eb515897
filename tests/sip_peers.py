"""Real SIP peers for the end-to-end tests: Kamailio (the configs shipped in docs/kamailio/),
SIPp agents (UAS scenarios that echo Record-Route) and baresip, each a subprocess on free
loopback ports, bounded in time and stopped by its own pid (never by name).

A missing binary skips the test with the package to install, except under CI (the environment
variable ``CI`` set), where it fails: .ci/run installs them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import wave
from pathlib import Path

import pytest
from sipp_runner import SCENARIOS, free_port

ROOT = Path(__file__).resolve().parent.parent
KAMAILIO_CONFIGS = ROOT / "docs" / "kamailio"
PACKAGES = {"kamailio": "kamailio kamailio-extra-modules kamailio-json-modules",
            "sipp": "sip-tester", "baresip": "baresip"}


def require(binary: str) -> str:
    """The binary's path; skip (or, under CI, fail) when it is not installed."""
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.access(p, os.X_OK)),
        None)
    if path is None:
        message = f"{binary} not installed (Debian: apt-get install {PACKAGES.get(binary, binary)})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """End one process we started: SIGTERM, then SIGKILL after ``grace_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _options_answered(port: int, timeout_s: float) -> bool:
    """Whether something answers a SIP OPTIONS on 127.0.0.1:``port`` (UDP)."""
    deadline = time.monotonic() + timeout_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
        s.settimeout(0.2)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKprobe{n}\r\n"
                   f"From: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                   f"Call-ID: probe-{n}@127.0.0.1\r\nCSeq: {n} OPTIONS\r\nMax-Forwards: 5\r\n"
                   "Content-Length: 0\r\n\r\n")
            s.sendto(msg.encode(), ("127.0.0.1", port))
            try:
                if s.recv(4096).startswith(b"SIP/2.0 "):
                    return True
            except (TimeoutError, ConnectionRefusedError):
                continue
    return False


def invite_answer(port: int, dialed: str, caller: str = "4420",
                  timeout_s: float = 5.0) -> tuple[int, str]:
    """Send one INVITE (without SDP) to 127.0.0.1:``port`` and return its final status and
    reason phrase, acknowledging it; for calls that are refused, not answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
        call_id = f"probe-{local}-{time.monotonic_ns()}@127.0.0.1"
        head = (f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{local}x\r\n"
                f"From: <sip:{caller}@127.0.0.1:{local}>;tag=t{local}\r\n"
                f"To: <sip:{dialed}@127.0.0.1:{port}>\r\nCall-ID: {call_id}\r\n")
        invite = (f"INVITE sip:{dialed}@127.0.0.1:{port} SIP/2.0\r\n{head}CSeq: 1 INVITE\r\n"
                  f"Contact: <sip:{caller}@127.0.0.1:{local}>\r\nMax-Forwards: 70\r\n"
                  "Content-Length: 0\r\n\r\n")
        s.sendto(invite.encode(), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65536).decode(errors="replace")
            except TimeoutError:
                break
            status_line = data.split("\r\n", 1)[0]
            _, code, reason = status_line.split(" ", 2)
            if int(code) >= 200:
                to = next(line for line in data.split("\r\n") if line.lower().startswith("to:"))
                head = head.replace(f"To: <sip:{dialed}@127.0.0.1:{port}>", to)
                ack = (f"ACK sip:{dialed}@127.0.0.1:{port} SIP/2.0\r\n{head}CSeq: 1 ACK\r\n"
                       "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
                s.sendto(ack.encode(), ("127.0.0.1", port))
                return int(code), reason
    raise TimeoutError(f"no final answer to an INVITE for {dialed} on port {port}")


def answered_by(logs: list[str]) -> dict[str, str]:
    """Call-ID → the answering agent's Contact, from the SIPp caller's ``ANSWERED`` log lines."""
    out = {}
    for line in logs:
        if line.startswith("ANSWERED "):
            _, call_id, contact = line.split()
            out[call_id] = contact
    return out


def agent_sections(agents: dict[str, str], queue: str = "sales") -> str:
    """The config's ``[agents.*]`` tables for agents at these SIP URIs."""
    return "".join(f'[agents.{agent_id}]\nendpoint = "{uri}"\nqueues = ["{queue}"]\n'
                   for agent_id, uri in agents.items())


class Kamailio:
    """Kamailio in the foreground (-DD -E) with one of the shipped configs, its own pid file
    and working directory, small memory pools, listening on ``sip_port``; ``defines`` become
    ``-A`` preprocessor defines (the config's addresses)."""

    def __init__(self, config: str, tmp: Path, defines: dict[str, str]) -> None:
        self.binary = require("kamailio")
        self.config = KAMAILIO_CONFIGS / config
        self.tmp = tmp
        self.sip_port = free_port()
        self.defines = {"SIP_LISTEN": f"udp:127.0.0.1:{self.sip_port}", **defines}
        self.log = tmp / f"{self.config.stem}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        #: Other ports the test chose for this Kamailio (its evapi socket, the ACD's).
        self.ports: dict[str, int] = {}

    def start(self, timeout_s: float = 10.0) -> None:
        args = [self.binary, "-DD", "-E", "-f", str(self.config), "-P",
                str(self.tmp / "kamailio.pid"), "-w", str(self.tmp), "-Y", str(self.tmp),
                "-m", "48", "-M", "8", "-n", "2"]
        for name, value in self.defines.items():
            args += ["-A", f"{name}={value}"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.tmp)
        if not _options_answered(self.sip_port, timeout_s):
            self.stop()
            raise RuntimeError(f"Kamailio did not come up:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)


class SippAgent:
    """An agent's phone: SIPp running a UAS scenario on its own port until stopped (or
    ``timeout_s``), logging what it receives (-trace_logs)."""

    def __init__(self, scenario: str, tmp: Path, name: str, *, timeout_s: float = 30) -> None:
        self.binary = require("sipp")
        self.port = free_port()
        self.uri = f"sip:{name}@127.0.0.1:{self.port}"
        self.log = tmp / f"agent-{name}.log"
        self.out = tmp / f"agent-{name}.out"
        args = [self.binary, "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p",
                str(self.port), "-t", "u1", "-nostdin", "-timeout", f"{timeout_s}s",
                "-trace_logs", "-log_file", str(self.log), "-trace_err", "-error_file",
                str(tmp / f"agent-{name}.err"), "-max_recv_loops", "100"]
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=tmp)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def invites(self) -> list[str]:
        return [line.split()[1] for line in self.lines() if line.startswith("INVITE ")]

    def most_at_once(self) -> int:
        """The most calls this phone was on at the same time, from its log (INVITE and BYE
        lines in the order they arrived)."""
        active: set[str] = set()
        most = 0
        for line in self.lines():
            kind, call_id = line.split()[:2]
            if kind == "INVITE":
                active.add(call_id)
                most = max(most, len(active))
            elif kind == "BYE":
                active.discard(call_id)
        return most

    def stop(self) -> None:
        _stop(self.proc, grace_s=2.0)


class Baresip:
    """baresip as an agent's phone with auto-answer: headless, its own config directory, a
    local account without registration, SIP on ``port``; audio from an 8 kHz WAV (its ausine
    source only does 48 kHz, DESIGN.md §9) long enough for the call (at its end baresip hangs
    up), played to aubridge (no sound device)."""

    def __init__(self, tmp: Path, user: str = "1001", *, quit_after_s: int = 60) -> None:
        self.binary = require("baresip")
        self.dir = tmp / "baresip"
        self.dir.mkdir()
        self.port = free_port()
        self.uri = f"sip:{user}@127.0.0.1:{self.port}"
        tone = self.dir / "silence-8k.wav"
        with wave.open(str(tone), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\x00\x00" * 8000 * 30)
        (self.dir / "config").write_text(
            "poll_method\tepoll\n"
            f"sip_listen\t127.0.0.1:{self.port}\n"
            "sip_transports\tudp\n"
            "net_interface\t127.0.0.1\n"
            "audio_player\taubridge,nil\n"
            f"audio_source\taufile,{tone}\n"
            "audio_alert\taubridge,nil\n"
            "module_path\t/usr/lib/baresip/modules\n"
            "module\tg711.so\nmodule\taufile.so\nmodule\taubridge.so\n"
            "module_app\taccount.so\nmodule_app\tmenu.so\n")
        (self.dir / "accounts").write_text(
            f"<sip:{user}@127.0.0.1:{self.port}>;regint=0;answermode=auto\n")
        (self.dir / "contacts").write_text("")
        self.log = tmp / "baresip.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [self.binary, "-f", str(self.dir), "-t", str(quit_after_s)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "baresip is ready" in self.text():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"baresip did not come up:\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        _stop(self.proc, grace_s=3.0)

