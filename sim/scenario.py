"""Scenario files: a contact center and its traffic, in TOML (see ``docs/scenarios.md``).

The site part (``[queues.*]``, ``[trunks.*]``, ``[ring]``, ``vip_priority_boost``) uses exactly
the keys of the daemon's configuration, so a queue tuned in the simulator is pasted into
production unchanged. The traffic part (``[arrivals]``, ``[call_types.*]``, ``[population]``)
and the sim-only agent keys (``count``, ``shifts``, ``breaks``, ``ring_delay``,
``no_answer_p``) describe what the PBX and the people would do.

Every mistake is one ``ScenarioError`` naming the file, the key as a dotted path, and the
problem, e.g. ``sim/scenarios/x.toml: call_types.billing.queue: unknown queue 'biling'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

import acd
from cti.config import (
    ConfigFileError,
    QueueModel,
    RingModel,
    TrunkModel,
    queue_config,
    read_file,
    ring_policy,
    validate_toml,
)
from cti.core import (
    AgentConfig,
    ConfigurationError,
    CustomerRecord,
    SwitchboardConfig,
    TrunkConfig,
)
from ivr import Flow as IvrFlow
from ivr import FlowError, load_flow
from sim.arrivals import ArrivalProcess, Poisson, RateProfile
from sim.distributions import Distribution, DistributionSpec, FixedSpec, build
from sim.ivr_callers import CallerPlan, IvrCallersModel, compile_callers

__all__ = [
    "AgentGroup",
    "CallType",
    "Population",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]


class ScenarioError(ConfigFileError):
    """A scenario is invalid; the message names the file, the key and the problem."""


# -- schema -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _clock(text: str) -> float:
    """``"HH:MM"`` -> seconds after midnight."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    h, m = int(hours), int(minutes)
    if h > 24 or m > 59 or (h == 24 and m):
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return h * 3600.0 + m * 60.0


class RunModel(_Model):
    hours: float | None = Field(None, gt=0, allow_inf_nan=False)
    calls: int | None = Field(None, gt=0)
    warmup_s: float = Field(0.0, ge=0, allow_inf_nan=False)
    batches: int = Field(20, ge=2, le=1000)
    start: str = "00:00"
    #: After the last counted arrival, how long calls in progress may take to finish.
    drain_s: float = Field(86_400.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_length(self) -> RunModel:
        if self.hours is not None and self.calls is not None:
            raise ValueError("give hours or calls, not both")
        _clock(self.start)
        return self


class ArrivalsModel(_Model):
    rate_per_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    rate_per_hour: float | None = Field(None, gt=0, allow_inf_nan=False)
    #: Calls per hour in each interval of the day, repeated daily.
    profile_per_hour: list[float] | None = Field(None, min_length=1)
    interval_s: float = Field(1800.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_rate(self) -> ArrivalsModel:
        given = [k for k in ("rate_per_s", "rate_per_hour", "profile_per_hour")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of rate_per_s, rate_per_hour, profile_per_hour")
        if self.profile_per_hour is not None:
            for i, rate in enumerate(self.profile_per_hour):
                if not (math.isfinite(rate) and rate >= 0):
                    raise ValueError(f"profile_per_hour[{i}] must be >= 0, not {rate}")
            if not any(self.profile_per_hour):
                raise ValueError("profile_per_hour is all zeros: no call would arrive")
        return self


class StageModel(_Model):
    after: float = Field(0.0, ge=0)
    require: dict[str, StrictInt] = Field(default_factory=dict)


class CallTypeModel(_Model):
    queue: str
    share: float = Field(1.0, gt=0, allow_inf_nan=False)
    priority: float | None = None
    #: The call's own requirement; default: its queue's.
    skills: dict[str, StrictInt] | list[StageModel] | None = None
    talk: DistributionSpec
    wrap_up: DistributionSpec = FixedSpec(dist="fixed", value=0.0)
    #: Time the caller is willing to wait; absent: they never give up.
    patience: DistributionSpec | None = None
    trunk: str = "default"
    dialed: str = ""


class PopulationModel(_Model):
    #: Distinct caller numbers; callers are drawn uniformly, so repeat callers occur.
    size: int = Field(gt=0)
    vip_share: float = Field(0.0, ge=0, le=1)
    blacklisted_share: float = Field(0.0, ge=0, le=1)
    #: Share of callers whose customer record names an account manager (``preferred-agent``).
    managed_share: float = Field(0.0, ge=0, le=1)


class BreakModel(_Model):
    at: str
    minutes: float = Field(gt=0, allow_inf_nan=False)
    reason: str = "break"


class AgentModel(_Model):
    count: int = Field(1, ge=1)
    queues: list[str] = Field(min_length=1)
    skills: dict[str, StrictInt] = Field(default_factory=dict)
    #: Daily shifts as ``["08:00", "12:00"]`` pairs; absent: logged in all the time.
    shifts: list[tuple[str, str]] | None = None
    breaks: list[BreakModel] = Field(default_factory=list)
    ring_delay: DistributionSpec = FixedSpec(dist="fixed", value=0.0)
    no_answer_p: float = Field(0.0, ge=0, lt=1)
    #: Talk time multiplier for these agents (2.0: they take twice as long as the call type's).
    talk_scale: float = Field(1.0, gt=0, allow_inf_nan=False)


class ScenarioModel(_Model):
    name: str = ""
    description: str = ""
    seed: int = 1
    #: The overall report's service-level threshold; queues use their own ``service_level_s``.
    service_level_s: float = Field(20.0, ge=0, allow_inf_nan=False)
    run: RunModel = RunModel()
    arrivals: ArrivalsModel
    call_types: dict[str, CallTypeModel] = Field(min_length=1)
    population: PopulationModel | None = None
    queues: dict[str, QueueModel] = Field(min_length=1)
    agents: dict[str, AgentModel] = Field(min_length=1)
    trunks: dict[str, TrunkModel] = Field(default_factory=dict)
    ring: RingModel = RingModel()
    vip_priority_boost: float = 5.0
    #: The IVR flow callers meet (a flow file, relative to the scenario's directory); checked
    #: at load, its queues must be the scenario's. Every arrival then dials it.
    ivr: str | None = None
    #: What callers do in the flow (``sim/ivr_callers.py``); only with ``ivr``.
    ivr_callers: IvrCallersModel | None = None


# -- the compiled scenario --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallType:
    name: str
    queue: str
    share: float
    priority: float | None
    skills: acd.SkillSchedule | None
    talk: Distribution
    wrap_up: Distribution
    patience: Distribution | None
    trunk: str
    dialed: str


@dataclass(frozen=True, slots=True)
class AgentGroup:
    name: str
    agent_ids: tuple[str, ...]
    #: Daily (login, logout) in seconds after midnight; None: always logged in.
    shifts: tuple[tuple[float, float], ...] | None
    #: Daily (start, duration_s, reason).
    breaks: tuple[tuple[float, float, str], ...]
    ring_delay: Distribution
    no_answer_p: float
    talk_scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Population:
    size: int
    vip_share: float
    blacklisted_share: float
    managed_share: float


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    source: str
    seed: int
    service_level_s: float
    config: SwitchboardConfig
    arrivals: ArrivalProcess
    call_types: tuple[CallType, ...]
    groups: tuple[AgentGroup, ...]
    population: Population | None
    hours: float | None
    calls: int | None
    warmup_s: float
    batches: int
    start_s: float
    drain_s: float
    #: The IVR flow of the ``ivr`` key, checked; None without one.
    ivr: IvrFlow | None = None
    #: What callers do in it (``[ivr_callers]``, or its defaults); None without a flow.
    ivr_callers: CallerPlan | None = None

    def with_run(
        self, *, calls: int | None = None, hours: float | None = None, seed: int | None = None,
        warmup_s: float | None = None, batches: int | None = None,
    ) -> Scenario:
        """A copy with the run's length, seed or batching overridden (the command line's)."""
        changes: dict[str, Any] = {}
        if calls is not None or hours is not None:
            changes.update(calls=calls, hours=hours)
        if seed is not None:
            changes["seed"] = seed
        if warmup_s is not None:
            changes["warmup_s"] = warmup_s
        if batches is not None:
            changes["batches"] = batches
        return replace(self, **changes)

    def with_strategy(self, strategy: str) -> Scenario:
        """A copy whose every queue routes with ``strategy`` (its options dropped when the
        strategy changes, since they belong to the old one)."""
        try:
            acd.strategy_class(strategy)
        except acd.UnknownStrategyError as exc:
            raise ScenarioError("--strategy", strategy, str(exc)) from exc
        queues = tuple(
            q if q.strategy == strategy else replace(q, strategy=strategy, options={})
            for q in self.config.queues
        )
        config = replace(self.config, queues=queues)
        try:
            config.validate()
        except ConfigurationError as exc:
            raise ScenarioError(self.source, exc.entry, f"with --strategy {strategy}: "
                                f"{exc.problem}") from exc
        return replace(self, config=config)

    @property
    def strategies(self) -> dict[str, str]:
        return {q.name: q.strategy for q in self.config.queues}


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    return parse_scenario(read_file(path, ScenarioError), source=str(path))


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    model = validate_toml(text, ScenarioModel, source=source, error=ScenarioError)
    try:
        return _compile(model, source)
    except ConfigurationError as exc:
        raise ScenarioError(source, exc.entry, exc.problem) from exc
    except acd.ConfigError as exc:
        raise ScenarioError(source, exc.entry, exc.problem) from exc


def _stages(entry: str, skills: Mapping[str, int] | list[StageModel]) -> acd.SkillSchedule:
    if isinstance(skills, Mapping):
        return acd.SkillSchedule.parse(entry, [(0.0, dict(skills))])
    return acd.SkillSchedule.parse(entry, [(s.after, dict(s.require)) for s in skills])


def _dist(entry: str, spec: DistributionSpec) -> Distribution:
    try:
        return build(spec)
    except ValueError as exc:
        raise ConfigurationError(entry, str(exc)) from exc


def _compile(model: ScenarioModel, source: str) -> Scenario:
    queues = tuple(queue_config(name, q) for name, q in model.queues.items())
    by_name = {q.name: q for q in queues}
    agents: list[AgentConfig] = []
    groups: list[AgentGroup] = []
    for name, a in model.agents.items():
        where = f"agents.{name}"
        for q in a.queues:
            if q not in by_name:
                raise ConfigurationError(f"{where}.queues", f"unknown queue {q!r}")
        acd.skills.validate_levels(f"{where}.skills", a.skills)
        ids = (name,) if a.count == 1 else tuple(
            f"{name}-{i:0{len(str(a.count))}d}" for i in range(1, a.count + 1)
        )
        # FreeSWITCH's way of naming a phone, which the simulated FreeSWITCH answers to.
        agents += [AgentConfig(i, skills=dict(a.skills), queues=tuple(a.queues),
                               endpoint=f"user/{i}") for i in ids]
        shifts = None
        if a.shifts is not None:
            shifts = []
            for k, (start, end) in enumerate(a.shifts):
                try:
                    s, e = _clock(start), _clock(end)
                except ValueError as exc:
                    raise ConfigurationError(f"{where}.shifts[{k}]", str(exc)) from None
                if e <= s:
                    raise ConfigurationError(f"{where}.shifts[{k}]",
                                             f"ends ({end}) before it starts ({start})")
                shifts.append((s, e))
        breaks = []
        for k, b in enumerate(a.breaks):
            try:
                breaks.append((_clock(b.at), b.minutes * 60.0, b.reason))
            except ValueError as exc:
                raise ConfigurationError(f"{where}.breaks[{k}].at", str(exc)) from None
        groups.append(AgentGroup(
            name, ids, None if shifts is None else tuple(shifts), tuple(breaks),
            _dist(f"{where}.ring_delay", a.ring_delay), a.no_answer_p, a.talk_scale,
        ))
    trunks = tuple(TrunkConfig(name, t.capacity) for name, t in model.trunks.items())
    trunk_names = {t.name for t in trunks} | {"default"}
    call_types = []
    for name, ct in model.call_types.items():
        where = f"call_types.{name}"
        if ct.queue not in by_name:
            raise ConfigurationError(f"{where}.queue", f"unknown queue {ct.queue!r}")
        if ct.trunk not in trunk_names:
            raise ConfigurationError(f"{where}.trunk", f"unknown trunk {ct.trunk!r}")
        skills = None if ct.skills is None else _stages(f"{where}.skills", ct.skills)
        _check_servable(where, ct.queue, skills or by_name[ct.queue].skills, agents,
                        "skills" if ct.skills is not None else "queue")
        call_types.append(CallType(
            name, ct.queue, ct.share, ct.priority, skills,
            _dist(f"{where}.talk", ct.talk), _dist(f"{where}.wrap_up", ct.wrap_up),
            None if ct.patience is None else _dist(f"{where}.patience", ct.patience),
            ct.trunk, ct.dialed or name,
        ))
    population = None
    blacklist: frozenset[str] = frozenset()
    if model.population is not None:
        p = model.population
        population = Population(p.size, p.vip_share, p.blacklisted_share, p.managed_share)
        blacklist = frozenset(caller_number(i) for i in range(p.size)
                              if _blacklisted(i, p.blacklisted_share))
    flow = plan = None
    if model.ivr is not None:
        flow = _flow(model.ivr, source, set(by_name))
        plan = compile_callers(model.ivr_callers, flow, source, trunk_names)
    elif model.ivr_callers is not None:
        raise ConfigurationError("ivr_callers", "callers in an IVR need the flow: give ivr")
    config = SwitchboardConfig(
        site=model.name or "sim",
        queues=queues,
        agents=tuple(agents),
        trunks=trunks,
        blacklist=blacklist,
        vip_priority_boost=model.vip_priority_boost,
        customer_lookup=population is not None and (
            population.vip_share > 0 or population.managed_share > 0
        ),
        ring=ring_policy(model.ring),
        seed=model.seed,
        flows={} if flow is None or plan is None else {plan.number: flow},
    )
    config.validate()
    arr = model.arrivals
    arrivals: ArrivalProcess
    if arr.profile_per_hour is not None:
        arrivals = RateProfile([r / 3600.0 for r in arr.profile_per_hour], arr.interval_s)
    else:
        rate = arr.rate_per_s if arr.rate_per_s is not None else (arr.rate_per_hour or 0) / 3600
        arrivals = Poisson(rate)
    run = model.run
    hours, calls = run.hours, run.calls
    if hours is None and calls is None:
        calls = 100_000
    return Scenario(
        name=model.name or Path(source).stem, source=source, seed=model.seed,
        service_level_s=model.service_level_s, config=config, arrivals=arrivals,
        call_types=tuple(call_types), groups=tuple(groups), population=population,
        hours=hours, calls=calls, warmup_s=run.warmup_s, batches=run.batches,
        start_s=_clock(run.start), drain_s=run.drain_s,
        ivr=flow, ivr_callers=plan,
    )


def _flow(name: str, source: str, queues: set[str]) -> IvrFlow:
    try:
        flow = load_flow(Path(source).parent / name)
    except FlowError as exc:
        raise ConfigurationError("ivr", f"the flow has problems: {exc}") from exc
    missing = sorted(flow.queues() - queues)
    if missing:
        raise ConfigurationError("ivr", f"the flow {name} names queues the scenario does not "
                                 f"have: {', '.join(missing)}")
    return flow


def _check_servable(
    where: str, queue: str, schedule: acd.SkillSchedule, agents: list[AgentConfig], key: str
) -> None:
    # The last stage is the most relaxed one: if no agent of the queue meets it, these calls
    # could only ever time out or be abandoned, which is a mistake in the file, not a result.
    req = schedule.stages[-1].requirement
    if any(queue in a.queues and acd.satisfies(a.skills, req) for a in agents):
        return
    need = ", ".join(f"{skill}>={level}" for skill, level in req) or "(none)"
    raise ConfigurationError(
        f"{where}.{key}",
        f"no agent serving queue {queue!r} holds the skills {need}, so these calls could "
        "never be answered",
    )


def caller_number(i: int) -> str:
    """The phone number of member ``i`` of the caller population."""
    return f"+1555{i:07d}"


def _fraction(i: int, salt: int) -> float:
    # A fixed pseudo-random fraction per caller (a multiplicative hash), so VIP and blacklist
    # membership is a property of the number, the same in every run and every strategy.
    return ((i * 2654435761 + salt * 40503) % 4294967296) / 4294967296.0


def _blacklisted(i: int, share: float) -> bool:
    return _fraction(i, 1) < share


def is_vip(i: int, share: float) -> bool:
    return _fraction(i, 2) < share


def is_managed(i: int, share: float) -> bool:
    return _fraction(i, 3) < share


def customer_record(scenario: Scenario, caller: str) -> CustomerRecord | None:
    """What the CRM knows of a caller of the scenario's population (both drivers answer the
    switchboard's lookups with this)."""
    pop = scenario.population
    if pop is None or not caller.startswith("+1555"):
        return None
    i = int(caller[5:])
    vip = is_vip(i, pop.vip_share)
    manager = None
    if is_managed(i, pop.managed_share):
        agents = scenario.config.agents
        manager = agents[i % len(agents)].agent_id
    if not vip and manager is None:
        return None
    return CustomerRecord(f"cust-{i}", vip=vip, account_manager=manager)
