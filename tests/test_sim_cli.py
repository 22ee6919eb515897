"""``cti sim`` as a user runs it: the table, JSON for one and several strategies, the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cti.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = str(ROOT / "sim" / "scenarios" / "erlang-c.toml")
KEYS = {"offered", "answered", "abandoned", "blocked", "p_wait", "asa_s", "service_level",
        "aht_s", "occupancy", "queues"}


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", SCENARIO, "--calls", "3000", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "service level = answered within the queue's threshold / offered" in out
    assert "P(wait > 0)" in out
    assert "±" in out


def test_json_one_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", SCENARIO, "--calls", "3000", "--seed", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= KEYS
    assert doc["offered"] == 3000
    assert set(doc["queues"]["support"]) >= KEYS - {"queues"}
    assert doc["seed"] == 3


def test_json_several_strategies_same_traffic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", SCENARIO, "--calls", "2000", "--json",
                 "--strategy", "least-idle,random"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["strategy"] for d in docs] == ["least-idle", "random"]
    assert docs[0]["offered"] == docs[1]["offered"] == 2000


def test_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "cmp.png"
    assert main(["sim", SCENARIO, "--calls", "2000", "--strategy", "least-idle,random",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "nope.toml"], "nope.toml: (file): cannot read"),
        (["sim", SCENARIO, "--strategy", "fastest"], "fastest"),
        (["sim", SCENARIO, "--calls", "0"], "--calls must be a positive"),
    ],
)
def test_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
