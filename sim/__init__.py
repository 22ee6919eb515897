"""sim: traffic models, the virtual-time runner that drives the production switchboard, and
queueing theory to check it against.

    from sim import load_scenario, run
    report = run(load_scenario("sim/scenarios/erlang-c.toml"))
    report.overall.figures["service_level"]
"""

from sim.erlang import (
    erlang_a,
    erlang_b,
    erlang_c,
    longest_idle_utilisations,
    priority_erlang_c,
    required_agents,
    staffing_table,
)
from sim.runner import Simulation, run
from sim.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sim.stats import QueueReport, Report

__all__ = [
    "QueueReport",
    "Report",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "load_scenario",
    "longest_idle_utilisations",
    "parse_scenario",
    "priority_erlang_c",
    "required_agents",
    "run",
    "staffing_table",
]
