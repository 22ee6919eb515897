"""Run SIPp (Debian's ``sip-tester``) as a bounded subprocess and read its statistics file.

Only the process started here is ever stopped (by its own handle), after ``-timeout``
plus a margin."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SippResult:
    returncode: int
    stats: dict[str, str]  # the last row of the -stf CSV
    logs: list[str]  # lines of -log_file (the scenario's <log> actions)
    errors: str
    output: str

    def count(self, name: str) -> int:
        return int(self.stats[name])


async def run_sipp(scenario: str, port: int, tmp: Path, *, calls: int, rate: float = 50,
                   transport: str = "u1", lost: int = 0, pause_ms: int = 0,
                   service: str = "100", timeout_s: float = 20,
                   extra: tuple[str, ...] = ()) -> SippResult:
    assert SIPP is not None, "sipp (package sip-tester) is not installed"
    tag = f"{Path(scenario).stem}-{transport}-{calls}-{lost}"
    stf, log_file, err = (tmp / f"{tag}.csv", tmp / f"{tag}.log", tmp / f"{tag}.err")
    local = free_port(socket.SOCK_STREAM if transport.startswith("t") else socket.SOCK_DGRAM)
    args = [
        SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-s", service,
        "-i", "127.0.0.1", "-p", str(local), "-t", transport, "-m", str(calls),
        "-r", str(rate), "-d", str(pause_ms), "-timeout", f"{timeout_s}s", "-timeout_error",
        "-nostdin", "-trace_stat", "-stf", str(stf), "-fd", "1",
        "-trace_err", "-error_file", str(err), "-trace_logs", "-log_file", str(log_file),
        *(("-lost", str(lost)) if lost else ()), *extra,
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    rows = list(csv.DictReader(stf.open(), delimiter=";")) if stf.exists() else []
    return SippResult(
        returncode=proc.returncode if proc.returncode is not None else -1,
        stats=rows[-1] if rows else {},
        logs=log_file.read_text().splitlines() if log_file.exists() else [],
        errors=err.read_text() if err.exists() else "",
        output=out.decode(errors="replace")[-3000:],
    )
