"""``cti staff``: parser registration, the table, --json, and one-line errors with exit code 2.

The parser is built the way ``cti.cli`` builds it (a sub-parsers object handed to
``add_parser``), and the handler is called through the ``run`` default it sets.
"""

from __future__ import annotations

import argparse
import json

import pytest

from sim.erlang import erlang_a, erlang_c
from sim.staffing import add_parser


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cti")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["staff", *argv])
    code: int = args.run(args)
    return code


BASE = ["--rate", str(100 / 1800), "--aht", "180", "--target", "0.8", "--within", "20"]


def answer_line(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.endswith("<- answer")]
    return line


def test_answer_is_fourteen_agents(capsys: pytest.CaptureFixture[str]) -> None:
    assert erlang_c(13, 100 / 1800, 180, 20).service_level < 0.8
    assert erlang_c(14, 100 / 1800, 180, 20).service_level >= 0.8
    assert run(BASE) == 0
    out, err = capsys.readouterr()
    assert err == ""
    line = answer_line(out)
    assert line.split()[0] == "14"
    assert "88.8%" in line  # service level within 20 s
    assert "17.4%" in line  # P(wait)
    assert "answer: 14 agents" in out
    assert "Erlang C" in out


def test_columns_are_aligned(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(BASE) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("agents"))
    rows = [line.removesuffix("<- answer").rstrip() for line in lines[header:]]
    rows = rows[: rows.index("")]
    assert len(rows) == 2 + 7  # header, rule, 3 + 1 + 3 agent counts
    assert len({len(r) for r in rows}) == 1
    assert [r.split()[0] for r in rows[2:]] == [str(k) for k in range(11, 18)]


def test_rate_per_hour_is_the_same_as_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(BASE) == 0
    per_second = capsys.readouterr().out
    assert run(["--rate-per-hour", "200", "--aht", "180", "--target", "80%"]) == 0
    per_hour = capsys.readouterr().out
    assert answer_line(per_hour) == answer_line(per_second)


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*BASE, "--json", "--span", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "erlang_c"
    assert doc["agents"] == 14
    assert doc["offered_erlang"] == pytest.approx(10)
    assert doc["patience_s"] is None
    assert [r["agents"] for r in doc["rows"]] == [13, 14, 15]
    assert [r["answer"] for r in doc["rows"]] == [False, True, False]
    assert [r["meets_target"] for r in doc["rows"]] == [False, True, True]
    row = doc["rows"][1]
    assert row["p_wait"] == pytest.approx(0.174132, rel=1e-5)
    assert row["asa_s"] == pytest.approx(7.8359, rel=1e-5)
    assert row["p_abandon"] is None


def test_json_erlang_a(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*BASE, "--patience", "300", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "erlang_a"
    assert doc["patience_s"] == 300
    answer = next(r for r in doc["rows"] if r["answer"])
    assert answer["agents"] == doc["agents"]
    expected = erlang_a(doc["agents"], 100 / 1800, 180, 300, 20)
    assert answer["p_abandon"] == pytest.approx(expected.p_abandon)
    assert answer["service_level"] >= 0.8
    before = next(r for r in doc["rows"] if r["agents"] == doc["agents"] - 1)
    assert before["service_level"] < 0.8


def test_erlang_a_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--rate-per-hour", "2200", "--aht", "180", "--patience", "120"]) == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out
    assert "P(abandon)" in out
    answer_line(out)


@pytest.mark.parametrize(("argv", "message"), [
    (["--rate", "-1", "--aht", "180"], "--rate must be greater than 0"),
    (["--rate", "0", "--aht", "180"], "--rate must be greater than 0"),
    (["--rate", "abc", "--aht", "180"], "--rate must be a number"),
    (["--rate", "nan", "--aht", "180"], "--rate must be a finite number"),
    (["--aht", "180"], "the arrival rate is required"),
    (["--rate", "1", "--rate-per-hour", "3600", "--aht", "180"], "not both"),
    (["--rate", "0.1"], "the average handling time is required"),
    (["--rate", "0.1", "--aht", "0"], "--aht must be greater than 0"),
    (["--rate", "0.1", "--aht", "180", "--target", "1.5"], "--target must be between 0 and 1"),
    (["--rate", "0.1", "--aht", "180", "--target", "100%"], "--target must be between"),
    (["--rate", "0.1", "--aht", "180", "--within", "-5"], "--within must be 0 or more"),
    (["--rate", "0.1", "--aht", "180", "--patience", "0"], "--patience must be greater than 0"),
    (["--rate", "0.1", "--aht", "180", "--span", "x"], "--span must be a whole number"),
])
def test_bad_input(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert message in err
