"""Scenario files: the examples load, and each kind of mistake is rejected naming the file,
the key and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

GOOD = """
[arrivals]
rate_per_hour = 100
[queues.billing]
skills = { billing = 5 }
[call_types.billing]
queue = "billing"
talk = { dist = "exponential", mean = 180 }
[agents.a]
count = 3
queues = ["billing"]
skills = { billing = 6 }
"""


@pytest.mark.parametrize("path", sorted((ROOT / "sim" / "scenarios").glob("*.toml")))
def test_example_scenarios_load(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.call_types
    assert sc.config.agents


def test_good_scenario_compiles() -> None:
    sc = parse_scenario(GOOD, source="good.toml")
    assert [a.agent_id for a in sc.config.agents] == ["a-1", "a-2", "a-3"]
    assert sc.arrivals.mean_rate() == pytest.approx(100 / 3600)


@pytest.mark.parametrize(
    ("change", "entry", "words"),
    [
        (("[queues.billing]", "[queues.billing]\nstratgy = 'skill'"), "queues.billing.stratgy",
         "Extra inputs"),
        (("rate_per_hour = 100", "rate_per_hour = -5"), "arrivals.rate_per_hour",
         "greater than 0"),
        (('queue = "billing"', 'queue = "biling"'), "call_types.billing.queue",
         "unknown queue 'biling'"),
        (("skills = { billing = 6 }", "skills = { billing = 2 }"), "call_types.billing.queue",
         "no agent serving queue 'billing' holds the skills billing>=5"),
        (("skills = { billing = 6 }", "skills = { billing = 11 }"), "agents.a.skills",
         "billing"),
        (('mean = 180 }', 'mean = 0 }'), "call_types.billing.talk.exponential.mean",
         "greater than 0"),
        (('dist = "exponential"', 'dist = "poisson"'), "call_types.billing.talk", "poisson"),
        (("count = 3", "count = 3\nshifts = [['09:00', '08:00']]"), "agents.a.shifts[0]",
         "ends (08:00) before it starts (09:00)"),
        (("count = 3", "count = 3\nbreaks = [{ at = '25:00', minutes = 5 }]"),
         "agents.a.breaks[0].at", "not a time of day"),
        (('queues = ["billing"]', 'queues = ["sales"]'), "agents.a.queues", "unknown queue"),
        (("[queues.billing]", "[queues.billing]\nstrategy = 'fastest'"),
         "queues.billing.strategy", "fastest"),
    ],
)
def test_mistakes_name_file_key_and_problem(
    change: tuple[str, str], entry: str, words: str
) -> None:
    text = GOOD.replace(*change, 1)
    assert text != GOOD
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="bad.toml")
    message = str(caught.value)
    assert message.startswith(f"bad.toml: {entry}"), message
    assert words in message, message


def test_syntax_error_and_missing_file() -> None:
    with pytest.raises(ScenarioError, match=r"^bad.toml: \(syntax\)"):
        parse_scenario("[arrivals", source="bad.toml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(ROOT / "no-such-scenario.toml")


def test_unknown_strategy_override() -> None:
    sc = parse_scenario(GOOD, source="good.toml")
    with pytest.raises(ScenarioError, match="fastest"):
        sc.with_strategy("fastest")
    assert sc.with_strategy("random").strategies == {"billing": "random"}
