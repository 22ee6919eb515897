"""``cti ivr lint`` and ``cti ivr try`` as a user runs them, and the scenario's ``ivr`` key."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cti.cli import main
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
FLOW = str(ROOT / "ivr" / "examples" / "water-utility.toml")
FIXTURES = str(ROOT / "ivr" / "examples" / "water-utility.fixtures.toml")
SCENARIO = ROOT / "sim" / "scenarios" / "water-utility.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_a_good_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ivr", "lint", FLOW) == (0, f"{FLOW}: OK\n", "")


def test_lint_prints_every_problem_and_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[flow]\nstart = "a"\n[nodes.a]\ntype = "play"\nprompt = "p"\nnext = "b"\n'
                   '[nodes.c]\ntype = "jump"\n', encoding="utf-8")
    code, out, err = run(capsys, "ivr", "lint", FLOW, str(bad))
    assert code == 1
    assert out.splitlines() == [
        f"{bad}: c: type: unknown node type 'jump'; use one of play, menu, collect, lookup, "
        "branch, set, hours, queue, voicemail, callback, transfer, hangup",
        f"{bad}: a: next: no node 'b'; the nodes are a, c",
        f"{bad}: c: unreachable: no path from the start 'a' leads here",
    ]
    assert err == "3 problems in 1 file\n"


def test_lint_against_another_catalogue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cat = tmp_path / "p.toml"
    cat.write_text('[prompts]\nwelcome = "Hi"\n', encoding="utf-8")
    code, out, _ = run(capsys, "ivr", "lint", FLOW, "--prompts", str(cat))
    assert code == 1
    assert f"{FLOW}: main: prompt: prompt 'main-menu' is not in the catalogue {cat}" in out


def test_lint_checks_queues_against_a_site(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text("[queues.billing]\n[queues.repairs]\n[queues.general]\n", encoding="utf-8")
    code, out, _ = run(capsys, "ivr", "lint", FLOW, "--config", str(site))
    assert code == 1
    assert out.splitlines() == [
        f"{FLOW}: complaint: queue: queue 'complaints' is not in {site}"]


def test_try_walks_the_bill_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--fixtures", FIXTURES,
                       "--digits", "1,12345678#,#")
    assert code == 0
    assert 'play welcome: "Welcome to City Water."' in out
    assert "[main] pressed 1 -> bill-meter" in out
    assert "lookup bill-status for '12345678'" in out
    assert "[bill-lookup] found" in out
    assert "[bill-check] no case matched -> default bill-amount" in out
    assert "say '42.1' as currency" in out
    assert "=> hang up (normal) after goodbye" in out
    assert "outcome: hangup" in out
    assert '  meter = "12345678"' in out


def test_try_json_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--json", "--digits", "2")
    assert code == 0
    summary = json.loads(out)
    assert summary["outcome"] == "queued"
    assert summary["action"]["type"] == "Enqueue"
    assert summary["action"]["queue"] == "repairs"
    assert summary["action"]["priority"] == 10
    assert summary["data"]["report"] == "leak"
    assert summary["path"] == ["welcome", "main", "leak", "leak-safety", "repairs-queue"]


def test_try_waits_in_line_then_takes_the_callback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--json", "--digits",
                       "1,87654321#,1,wait,1", "--fixtures", FIXTURES)
    summary = json.loads(out)
    assert (code, summary["outcome"]) == (0, "callback")
    assert summary["action"]["number"] == "+15550100200"
    assert summary["data"]["bill"]["status"] == "overdue"


@pytest.mark.parametrize(("answer", "outcome", "node"), [
    ('{"status": "paid", "balance": 0}', "hangup", "bill-paid"),
    ("null", "queued", "meter-unknown"),
    ("timeout", "queued", "lookup-down"),
    ("error", "queued", "lookup-down"),
])
def test_try_lookup_answers(
    capsys: pytest.CaptureFixture[str], answer: str, outcome: str, node: str
) -> None:
    # not found asks again: this caller then gives up typing and is sent to billing
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--json", "--lookup",
                       f"bill-status={answer}", "--digits", "1,12345678#,-,-,-,-")
    summary = json.loads(out)
    assert code == 0
    assert node in summary["path"]
    assert summary["outcome"] == outcome


def test_try_timeouts_and_retries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--digits", "7,-,")
    assert code == 0
    assert "invalid input '7' (attempt 1 of 3): asking again" in out
    assert "no input (attempt 2 of 3): asking again" in out
    assert "timeout on the last attempt -> to-agent" in out
    assert "=> enqueue in general" in out


def test_try_hours_per_queue(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ivr", "try", FLOW, "--hours", "general=holiday", "--digits", "0")
    assert code == 0
    assert "[general-hours] general is holiday -> closed" in out
    assert "=> voicemail for general" in out


def test_try_uses_the_site_calendars(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[queues.general]\nhours = { "mon-fri" = ["08:00-18:00"] }\n'
                    'timezone = "Europe/Paris"\nholidays = ["2026-12-25"]\n', encoding="utf-8")
    for at, status in [("2026-12-24T10:00+01:00", "open"), ("2026-12-24T19:00+01:00", "closed"),
                       ("2026-12-25T10:00+01:00", "holiday")]:
        code, out, _ = run(capsys, "ivr", "try", FLOW, "--config", str(site), "--at", at,
                           "--digits", "0")
        assert code == 0
        assert f"general is {status}" in out


def test_try_reads_turns_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("3\n"))
    code, out, _ = run(capsys, "ivr", "try", FLOW)
    assert code == 0
    assert "outcome: voicemail" in out
    assert '  ticket = "complaint"' in out


@pytest.mark.parametrize("argv", [
    ["--lookup", "bill-status={nope"],
    ["--lookup", "bill-status=[1]"],
    ["--lookup", "nothing"],
    ["--hours", "billing=ajar"],
    ["--at", "yesterday"],
    ["--var", "novalue"],
])
def test_try_refuses_bad_arguments(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, "ivr", "try", FLOW, "--digits", "1", *argv)
    assert code == 2
    assert err.startswith("error: ")


def test_try_an_invalid_flow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[flow]\nstart = "x"\n', encoding="utf-8")
    code, _, err = run(capsys, "ivr", "try", str(bad))
    assert code == 1
    assert err.splitlines() == [f"error: {bad}: (flow): no nodes: add [nodes.ID] tables",
                                f"error: {bad}: (flow): start: no node 'x'"]


# -- the scenario ----------------------------------------------------------------------------


def test_the_water_utility_scenario_names_its_flow() -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.ivr is not None
    assert scenario.ivr.name == "water-utility"
    assert scenario.with_run(calls=10).ivr is scenario.ivr


def test_a_scenario_whose_flow_names_a_missing_queue(tmp_path: Path) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    text = text.replace('ivr = "../../ivr/examples/water-utility.toml"',
                        f'ivr = "{ROOT / "ivr" / "examples" / "water-utility.toml"}"')
    bad = tmp_path / "s.toml"
    bad.write_text(text.replace("[queues.complaints]\n", "[queues.complaint]\n"),
                   encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert str(info.value) == (f"{bad}: ivr: the flow {ROOT}/ivr/examples/water-utility.toml "
                               "names queues the scenario does not have: complaints")
    bad.write_text(text.replace("water-utility.toml", "nope.toml"), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"ivr: the flow has problems: .*cannot read"):
        load_scenario(bad)
