"""A real Mosquitto for tests: started on a free loopback port, stopped by its pid only.

Without the ``mosquitto`` binary the tests that need it are skipped with a message, except under
CI (``CI`` set), where a missing broker is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

__all__ = ["Mosquitto", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)
    if found is None:
        message = "mosquitto is not installed (Debian package 'mosquitto')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Mosquitto:
    def __init__(self, workdir: Path, *, extra: str = "") -> None:
        #: More mosquitto.conf lines (password and ACL files, ...).
        self.extra = extra
        self.binary = _binary()
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        # Started as root, mosquitto drops to the "mosquitto" user, which cannot read the
        # test's private temporary files (password, ACL); stay the user that started it.
        as_root = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(
            as_root + f"listener {self.port} 127.0.0.1\npersistence false\nlog_type error\n"
            + (self.extra or "allow_anonymous true\n"), encoding="utf-8")
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: see {self.workdir / 'mosquitto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # our own pid: never by name
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
