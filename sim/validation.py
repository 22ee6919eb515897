"""The simulator checked against exact queueing theory.

Each case is a scenario (built from TOML text, so the loader is exercised too), run through the
production switchboard, and a list of checks ``(label, simulated, exact, half-width)``. A check
passes when the exact value lies within ``TOLERANCE`` 95% half-widths of the estimate (batch
means): 1.5 half-widths is about three standard errors, so with a dozen checks a correct
simulator fails by chance far less than once in a hundred runs, while a bias of a few standard
errors is caught. ``benchmarks/validate.py`` runs the cases at full length; the test suite runs
them short, with ``scale`` < 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sim.erlang import erlang_c
from sim.runner import run
from sim.scenario import parse_scenario
from sim.stats import Report

__all__ = ["CASES", "Check", "TOLERANCE", "run_case"]

TOLERANCE = 1.5


@dataclass(frozen=True, slots=True)
class Check:
    case: str
    label: str
    simulated: float
    exact: float
    half_width: float
    #: For one-sided checks (``"<"``: simulated must lie below ``exact``).
    relation: str = "="

    @property
    def ok(self) -> bool:
        if self.relation == "<":
            return self.simulated < self.exact
        if self.relation == ">":
            return self.simulated > self.exact
        if math.isnan(self.simulated) or math.isnan(self.half_width):
            return False
        return abs(self.simulated - self.exact) <= TOLERANCE * self.half_width

    def __str__(self) -> str:
        rel = {"=": "≈", "<": "<", ">": ">"}[self.relation]
        hw = f" ± {self.half_width:.6g}" if self.relation == "=" else ""
        return (f"{'ok  ' if self.ok else 'FAIL'} {self.case}: {self.label}: "
                f"{self.simulated:.6g}{hw} {rel} {self.exact:.6g}")


def _scenario(body: str, calls: int, seed: int, warmup_s: float, batches: int = 20) -> str:
    return (f"seed = {seed}\n[run]\ncalls = {calls}\nwarmup_s = {warmup_s}\n"
            f"batches = {batches}\n{body}")


def _fig(report: Report, key: str, queue: str | None = None) -> tuple[float, float]:
    q = report.overall if queue is None else report.queues[queue]
    return q.figures[key], q.ci95[key]


def _checks(case: str, report: Report, expected: dict[str, float],
            queue: str | None = None) -> list[Check]:
    out = []
    for key, exact in expected.items():
        sim, hw = _fig(report, key, queue)
        out.append(Check(case, key if queue is None else f"{queue}.{key}", sim, exact, hw))
    return out


def _conservation(case: str, report: Report) -> list[Check]:
    """offered = answered + abandoned + blocked + rejected + diverted + in progress, and
    Little's law: the queue length Poisson arrivals find (the router's count) equals the
    arrival rate times the mean time in queue (from the call records)."""
    q = report.overall
    accounted = q.answered + q.abandoned + q.blocked + q.rejected + q.diverted + q.in_progress
    checks = [Check(case, "conservation (offered - accounted)", q.offered - accounted, 0.0, 0.0)]
    for name, qr in report.queues.items():
        rate = (qr.offered - qr.in_progress) / report.measured_s if report.measured_s else 0
        waits = qr.figures["mean_wait_s"] * (qr.answered + qr.abandoned) / max(
            1, qr.offered - qr.in_progress)
        seen, hw = qr.figures["queue_length_seen"], qr.ci95["queue_length_seen"]
        if not math.isnan(seen) and not math.isnan(waits) and seen > 0:
            checks.append(Check(case, f"{name}.little (L seen by arrivals vs lambda W)",
                                seen, rate * waits, max(hw, 1e-9)))
    return checks


def _erlang_b(calls: int, seed: int, talk: str, name: str) -> list[Check]:
    body = f"""
[arrivals]
rate_per_s = {8.108 / 180}
[trunks.pstn]
capacity = 15
[queues.q]
wrap_up_s = 0
[call_types.c]
queue = "q"
trunk = "pstn"
talk = {talk}
[agents.a]
count = 15
queues = ["q"]
"""
    report = run(parse_scenario(_scenario(body, calls, seed, 3600), source=name))
    return _checks(name, report, {"p_block": 0.0099996}) + _conservation(name, report)


def erlang_b_exponential(calls: int, seed: int) -> list[Check]:
    return _erlang_b(calls, seed, '{ dist = "exponential", mean = 180 }', "erlang-b")


def erlang_b_lognormal(calls: int, seed: int) -> list[Check]:
    # Erlang B is insensitive to the handle-time distribution beyond its mean.
    return _erlang_b(calls, seed, '{ dist = "lognormal", mean = 180, cv = 1.5 }',
                     "erlang-b-lognormal")


def _single_queue(agents: int, rate: float, patience: str | None) -> str:
    pat = f"patience = {patience}\n" if patience else ""
    return f"""
[arrivals]
rate_per_s = {rate}
[queues.q]
wrap_up_s = 0
service_level_s = 20
[call_types.c]
queue = "q"
talk = {{ dist = "exponential", mean = 180 }}
{pat}[agents.a]
count = {agents}
queues = ["q"]
"""


def erlang_c_case(calls: int, seed: int) -> list[Check]:
    name = "erlang-c"
    sc = parse_scenario(_scenario(_single_queue(14, 100 / 1800, None), calls, seed, 3600),
                        source=name)
    report = run(sc)
    return _checks(name, report, {"p_wait": 0.174132, "asa_s": 7.8359,
                                  "service_level": 0.888350}) + _conservation(name, report)


def erlang_a_case(calls: int, seed: int) -> list[Check]:
    name = "erlang-a"
    sc = parse_scenario(_scenario(_single_queue(
        14, 100 / 1800, '{ dist = "exponential", mean = 300 }'), calls, seed, 3600), source=name)
    report = run(sc)
    return _checks(name, report, {"p_wait": 0.145260, "p_abandon": 0.0139837,
                                  "mean_wait_s": 4.19512}) + _conservation(name, report)


def erlang_a_overload(calls: int, seed: int) -> list[Check]:
    name = "erlang-a-overload"
    sc = parse_scenario(_scenario(_single_queue(
        100, 110 / 180, '{ dist = "exponential", mean = 120 }'), calls, seed, 3600), source=name)
    report = run(sc)
    return _checks(name, report, {"p_wait": 0.778676, "p_abandon": 0.102491,
                                  "mean_wait_s": 12.2989}) + _conservation(name, report)


def cobham_priority(calls: int, seed: int) -> list[Check]:
    # Two queues served by the same 20 agents: a freed agent takes the best call across both,
    # by priority then wait, which is non-preemptive priority between the classes.
    name = "cobham"
    body = """
[arrivals]
rate_per_s = 0.0888888888888889
[queues.high]
priority = 1
wrap_up_s = 0
[queues.low]
priority = 0
wrap_up_s = 0
[call_types.high]
queue = "high"
share = 6
talk = { dist = "exponential", mean = 180 }
[call_types.low]
queue = "low"
share = 10
talk = { dist = "exponential", mean = 180 }
[agents.a]
count = 20
queues = ["high", "low"]
"""
    report = run(parse_scenario(_scenario(body, calls, seed, 3600), source=name))
    return (_checks(name, report, {"p_wait": 0.256078})
            + _checks(name, report, {"mean_wait_s": 3.29243}, "high")
            + _checks(name, report, {"mean_wait_s": 16.4621}, "low")
            + _conservation(name, report))


def _pooling_body(ring: bool) -> str:
    lines = ["[arrivals]", f"rate_per_s = {6 * 14 / 180}"]
    for k in range(6):
        lines += [f"[queues.q{k}]", "wrap_up_s = 0", f"skills = {{ s{k} = 1 }}",
                  f"[call_types.t{k}]", f'queue = "q{k}"',
                  'talk = { dist = "exponential", mean = 180 }']
    if ring:  # 15 agents per adjacent pair of skills: each skill held by 30 agents
        for k in range(6):
            j = (k + 1) % 6
            lines += [f"[agents.ring{k}]", "count = 15", f'queues = ["q{k}", "q{j}"]',
                      f"skills = {{ s{k} = 1, s{j} = 1 }}"]
    else:
        lines += ["[agents.all]", "count = 90",
                  "queues = [" + ", ".join(f'"q{k}"' for k in range(6)) + "]",
                  "skills = {" + ", ".join(f"s{k} = 1" for k in range(6)) + "}"]
    return "\n".join(lines) + "\n"


def skill_pooling(calls: int, seed: int) -> list[Check]:
    name = "pooling"
    pooled = run(parse_scenario(_scenario(_pooling_body(False), calls, seed, 3600),
                                source=name))
    checks = _checks(name, pooled, {"p_wait": 0.41196, "asa_s": 12.359})
    ring = run(parse_scenario(_scenario(_pooling_body(True), calls, seed, 3600),
                              source=name + "-ring"))
    dedicated = erlang_c(15, 14 / 180, 180.0, 20.0).asa_s
    asa = ring.overall.figures["asa_s"]
    checks += [
        Check(name, "ring ASA above pooled M/M/90", asa, 12.359, 0.0, ">"),
        Check(name, "ring ASA below dedicated 6 x M/M/15", asa, dedicated, 0.0, "<"),
        Check(name, "ring ASA below 1.6 x pooled", asa, 1.6 * 12.359, 0.0, "<"),
    ]
    return checks + _conservation(name, pooled) + _conservation(name + "-ring", ring)


def least_idle_utilisation(calls: int, seed: int) -> list[Check]:
    name = "least-idle"
    body = """
[arrivals]
rate_per_s = 0.02
[queues.q]
wrap_up_s = 0
strategy = "least-idle"
[call_types.c]
queue = "q"
talk = { dist = "exponential", mean = 120 }
[agents.slow]
count = 2
queues = ["q"]
talk_scale = 2.0
[agents.fast]
count = 2
queues = ["q"]
"""
    report = run(parse_scenario(_scenario(body, calls, seed, 3600), source=name))
    exact = {"slow-1": 0.846872, "slow-2": 0.846872, "fast-1": 0.776564, "fast-2": 0.776564}
    return [
        Check(name, f"utilisation {a}", report.agents[a], u, report.agents_ci95[a])
        for a, u in exact.items()
    ] + _conservation(name, report)


#: name -> (case, calls at full length).
CASES: dict[str, tuple[Callable[[int, int], list[Check]], int]] = {
    "erlang-b": (erlang_b_exponential, 400_000),
    "erlang-b-lognormal": (erlang_b_lognormal, 400_000),
    "erlang-c": (erlang_c_case, 400_000),
    "erlang-a": (erlang_a_case, 400_000),
    "erlang-a-overload": (erlang_a_overload, 400_000),
    "cobham": (cobham_priority, 400_000),
    "pooling": (skill_pooling, 300_000),
    "least-idle": (least_idle_utilisation, 300_000),
}


def run_case(name: str, *, scale: float = 1.0, seed: int = 1) -> list[Check]:
    case, calls = CASES[name]
    return case(max(2_000, int(calls * scale)), seed)
