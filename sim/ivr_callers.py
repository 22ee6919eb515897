"""Callers in an IVR flow, as the simulator plays them (``[ivr_callers]`` of a scenario).

Both drivers (the virtual-time runner and the real-time PBX) hand this model the switchboard's
IVR commands for a call, and it says what the caller and the PBX do next, as events with their
delays: a prompt ends after its playing time, the caller presses a menu key drawn from the
menu's probabilities (or nothing, or hangs up), types the digits of a collection, the shell
answers a lookup from the fixtures. It models nothing the flow decides: menus, retries,
timeouts, lookups' branches and hand-offs are all the production session's.

Each caller has their own random stream, seeded from the call stream at arrival, so what a
caller does in the flow does not depend on what the routing did with the calls before it (and
strategies compared on one scenario see the same callers). When the flow hands a call to a
queue, its talk, wrap-up and patience are drawn from a call type of that queue (by share among
them; from every call type when the queue has none), from the same stream.

A share ``hangup_share`` of callers hang up in the flow: partway through the prompt of the
first menu or collection they meet (the point where a caller decides whether to bother).
"""

from __future__ import annotations

import bisect
import json
import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from cti.core import (
    CallHungUp,
    CollectDigits,
    ConfigurationError,
    CustomerRecord,
    DataLookupDone,
    DigitsEntered,
    Event,
    LookupData,
    PlayPrompt,
    PromptDone,
    PromptFile,
)
from ivr import Flow
from ivr.nodes import CollectNode, MenuNode
from sim.distributions import (
    Distribution,
    DistributionSpec,
    FixedSpec,
    UniformSpec,
    build,
)

if TYPE_CHECKING:
    from sim.scenario import CallType

__all__ = ["CallerPlan", "IvrCallers", "IvrCallersModel", "compile_callers"]

#: The menu outcome that is no key: the caller hangs up.
HANGUP = "hangup"
_KEYS = frozenset("0123456789*#")
#: The source the population's customer records answer when no table gives it.
_CUSTOMER = "customer"


# -- scenario schema ------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectModel(_Model):
    #: What callers type, drawn uniformly (a terminator included if they press it).
    digits: list[str] = Field(min_length=1)
    #: Share who type nothing.
    none_p: float = Field(0.0, ge=0, le=1)


class IvrCallersModel(_Model):
    """``[ivr_callers]`` (docs/scenarios.md documents each key)."""

    number: str | None = None
    trunk: str = "default"
    prompt_s: DistributionSpec = FixedSpec(dist="fixed", value=4.0)
    prompts: dict[str, float] = Field(default_factory=dict)
    say_s: float = Field(1.0, ge=0, allow_inf_nan=False)
    answer_s: DistributionSpec = UniformSpec(dist="uniform", low=1.0, high=3.0)
    digit_s: float = Field(0.4, ge=0, allow_inf_nan=False)
    hangup_share: float = Field(0.0, ge=0, le=1)
    lookup_s: float = Field(0.3, ge=0, allow_inf_nan=False)
    fixtures: str | None = None
    lookups: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    menus: dict[str, dict[str, float]] = Field(default_factory=dict)
    collect: dict[str, CollectModel] = Field(default_factory=dict)


# -- compiled -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerPlan:
    """What the callers of a scenario do in its flow (``[ivr_callers]``, checked)."""

    number: str
    trunk: str
    prompt_s: Distribution
    prompt_times: Mapping[str, float]
    say_s: float
    answer_s: Distribution
    digit_s: float
    hangup_share: float
    lookup_s: float
    #: source -> key -> record (the fixtures file, then the scenario's own tables).
    lookups: Mapping[str, Mapping[str, Mapping[str, object]]]
    #: menu node -> (outcomes, cumulative probabilities); the rest of 1 presses nothing.
    menus: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]]
    #: collect node -> (what is typed, share typing nothing).
    collect: Mapping[str, tuple[tuple[str, ...], float]]


def compile_callers(
    model: IvrCallersModel | None, flow: Flow, source: str, trunks: set[str]
) -> CallerPlan:
    """``ConfigurationError`` naming the key for anything that does not fit the flow."""
    model = model or IvrCallersModel()
    where = "ivr_callers"
    number = model.number or (flow.numbers[0] if flow.numbers else None)
    if number is None:
        raise ConfigurationError(f"{where}.number", f"the flow {flow.name} lists no numbers "
                                 "(flow.numbers): give the number callers dial")
    if model.trunk not in trunks:
        raise ConfigurationError(f"{where}.trunk", f"unknown trunk {model.trunk!r}")
    for name, secs in model.prompts.items():
        if not secs >= 0:
            raise ConfigurationError(f"{where}.prompts.{name}", "must be >= 0 seconds")
    menus: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {}
    for node, table in model.menus.items():
        entry = f"{where}.menus.{node}"
        if not isinstance(flow.nodes.get(node), MenuNode):
            raise ConfigurationError(entry, f"the flow has no menu node {node!r}")
        outcomes, cum, acc = [], [], 0.0
        for key, p in table.items():
            if key != HANGUP and not (key and set(key) <= _KEYS):
                raise ConfigurationError(f"{entry}.{key}", "a key is keypad digits (0-9, *, #) "
                                         "or 'hangup'")
            if not 0 <= p <= 1:
                raise ConfigurationError(f"{entry}.{key}", "a probability is 0 to 1")
            acc += p
            outcomes.append(key)
            cum.append(acc)
        if acc > 1 + 1e-9:
            raise ConfigurationError(entry, f"the probabilities add up to {acc:g}, more than 1 "
                                     "(what is left of 1 presses nothing)")
        menus[node] = (tuple(outcomes), tuple(cum))
    collect: dict[str, tuple[tuple[str, ...], float]] = {}
    for node, spec in model.collect.items():
        entry = f"{where}.collect.{node}"
        if not isinstance(flow.nodes.get(node), CollectNode):
            raise ConfigurationError(entry, f"the flow has no collect node {node!r}")
        for i, typed in enumerate(spec.digits):
            if not (typed and set(typed) <= _KEYS):
                raise ConfigurationError(f"{entry}.digits[{i}]", "keypad digits (0-9, *, #)")
        collect[node] = (tuple(spec.digits), spec.none_p)
    lookups: dict[str, dict[str, Mapping[str, object]]] = {}
    if model.fixtures is not None:
        lookups.update(_fixtures(Path(source).parent / model.fixtures, f"{where}.fixtures"))
    for name, records in model.lookups.items():
        lookups.setdefault(name, {}).update(records)
    try:
        prompt_s, answer_s = build(model.prompt_s), build(model.answer_s)
    except ValueError as exc:
        raise ConfigurationError(where, str(exc)) from exc
    return CallerPlan(number, model.trunk, prompt_s, dict(model.prompts), model.say_s,
                      answer_s, model.digit_s, model.hangup_share, model.lookup_s, lookups,
                      menus, collect)


def _fixtures(path: Path, entry: str) -> dict[str, dict[str, Mapping[str, object]]]:
    """``cti ivr try --fixtures``'s format: ``{source: {key: record}}``, TOML or JSON."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(entry, f"{path}: {exc}") from exc
    if not isinstance(raw, dict) or not all(
        isinstance(t, dict) and all(isinstance(r, dict) for r in t.values())
        for t in raw.values()
    ):
        raise ConfigurationError(entry, f"{path}: expected tables of records: "
                                 "[SOURCE.KEY] field = value")
    return {str(s): {str(k): dict(r) for k, r in t.items()} for s, t in raw.items()}


# -- playing the callers --------------------------------------------------------------------


class _Caller:
    __slots__ = ("handed", "leaver", "met_input", "rng")

    def __init__(self, rng: random.Random, leaver: bool) -> None:
        self.rng = rng
        self.leaver = leaver
        self.met_input = False
        self.handed = False


#: A queue's call types and their cumulative shares.
_Types = tuple[tuple["CallType", ...], tuple[float, ...]]


class IvrCallers:
    """The callers of one run in the flow; ``forget`` each call when it ends."""

    def __init__(self, plan: CallerPlan, flow: Flow, call_types: Sequence[CallType],
                 customers: Callable[[str], CustomerRecord | None] | None = None) -> None:
        """``call_types``: the scenario's (``sim.scenario.CallType``); ``customers(number)``
        answers the ``customer`` source when no table does."""
        self.plan = plan
        self.flow = flow
        self._customers = customers
        self._calls: dict[str, _Caller] = {}
        by_queue: dict[str, list[CallType]] = {}
        for ct in call_types:
            by_queue.setdefault(ct.queue, []).append(ct)
        self._types = {q: _cumulative(types) for q, types in by_queue.items()}
        self._all = _cumulative(list(call_types))

    def arrive(self, call_id: str, seed: int) -> None:
        rng = random.Random(seed)
        share = self.plan.hangup_share
        self._calls[call_id] = _Caller(rng, share > 0 and rng.random() < share)

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def handed(
        self, call_id: str, queue: str
    ) -> tuple[CallType, float, float, float | None] | None:
        """The flow put the call in ``queue`` (for the first time: None after that): its call
        type there, talk, wrap-up and patience."""
        caller = self._calls.get(call_id)
        if caller is None or caller.handed:
            return None
        caller.handed = True
        rng = caller.rng
        types, cum = self._types.get(queue) or self._all
        ct = types[min(len(types) - 1, bisect.bisect_right(cum, rng.random() * cum[-1]))]
        talk = ct.talk.sample(rng)
        wrap = ct.wrap_up.sample(rng)
        patience = ct.patience.sample(rng) if ct.patience is not None else None
        return ct, talk, wrap, patience

    def on_command(self, cmd: object) -> list[tuple[float, Event]]:
        """What follows a switchboard command for a caller in the flow: (delay_s, event)."""
        if isinstance(cmd, PlayPrompt):
            caller = self._calls.get(cmd.call_id)
            if caller is None:
                return []
            plays = self._playing(caller, cmd.prompts) + self.plan.say_s * len(cmd.say)
            return [(plays, PromptDone(cmd.call_id, cmd.step))]
        if isinstance(cmd, CollectDigits):
            caller = self._calls.get(cmd.call_id)
            if caller is None:
                return []
            return self._collect(caller, cmd)
        if isinstance(cmd, LookupData):
            return self._look_up(cmd)
        return []

    def _playing(self, caller: _Caller, prompts: Sequence[PromptFile]) -> float:
        times = self.plan.prompt_times
        total = 0.0
        for prompt in prompts:
            fixed = times.get(prompt.name)
            total += fixed if fixed is not None else self.plan.prompt_s.sample(caller.rng)
        return total

    def _collect(self, caller: _Caller, cmd: CollectDigits) -> list[tuple[float, Event]]:
        rng = caller.rng
        plays = self._playing(caller, cmd.prompts)
        cid, step = cmd.call_id, cmd.step
        if caller.leaver and not caller.met_input:
            caller.met_input = True
            return [(rng.random() * plays, CallHungUp(cid, "caller-gave-up"))]
        caller.met_input = True
        done: list[tuple[float, Event]] = [(plays, PromptDone(cid, step))]
        node = self.flow.nodes.get(cmd.node)
        answer = plays + self.plan.answer_s.sample(rng)
        if isinstance(node, MenuNode):
            choice = self._choose(rng, node, cmd.node)
            if choice is None:
                return done
            if choice == HANGUP:
                return [(answer, CallHungUp(cid, "caller-gave-up"))]
            return [*done, (answer, DigitsEntered(cid, choice, step))]
        typed = self._typed(rng, cmd)
        if typed is None:
            return done
        return [*done, (answer + self.plan.digit_s * len(typed), DigitsEntered(cid, typed, step))]

    def _choose(self, rng: random.Random, node: MenuNode, ident: str) -> str | None:
        plan = self.plan.menus.get(ident)
        if plan is None:  # a menu the scenario says nothing about: every choice alike
            keys = list(node.choices)
            return keys[int(rng.random() * len(keys))]
        outcomes, cum = plan
        i = bisect.bisect_right(cum, rng.random())
        return outcomes[i] if i < len(outcomes) else None

    def _typed(self, rng: random.Random, cmd: CollectDigits) -> str | None:
        plan = self.plan.collect.get(cmd.node)
        if plan is None:  # as many random digits as the collection takes
            return "".join(str(int(rng.random() * 10)) for _ in range(cmd.max_digits))
        choices, none_p = plan
        if none_p and rng.random() < none_p:
            return None
        return choices[int(rng.random() * len(choices))]

    def _look_up(self, cmd: LookupData) -> list[tuple[float, Event]]:
        table = self.plan.lookups.get(cmd.source)
        if table is not None:
            record = table.get(cmd.key)
        elif cmd.source == _CUSTOMER and self._customers is not None:
            found = self._customers(cmd.key)
            record = None if found is None else {
                "customer_id": found.customer_id, "name": found.name, "vip": found.vip,
                "account_manager": found.account_manager,
            }
        else:
            return []  # a source nothing answers: the flow's lookup times out
        return [(self.plan.lookup_s, DataLookupDone(cmd.call_id, cmd.request, record))]


def _cumulative(types: Sequence[CallType]) -> _Types:
    cum, acc = [], 0.0
    for ct in types:
        acc += ct.share
        cum.append(acc)
    return tuple(types), tuple(cum)
