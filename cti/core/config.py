"""The switchboard's configuration as plain frozen dataclasses, with the semantic checks that
need the whole picture (targets that name unknown queues, overflow cycles, roster references).

``cti.config`` turns a TOML file into these (pydantic checks types and ranges at that edge);
the simulator and tests build them directly. Every problem raises ``ConfigurationError`` naming
the entry, e.g. ``queues.billing.on_max_wait``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import acd
from cti.core.calendar import BusinessCalendar
from cti.core.errors import ConfigurationError
from cti.core.events import LegFailure
from cti.core.records import EMPTY

if TYPE_CHECKING:
    from ivr import Flow

__all__ = [
    "AgentConfig",
    "QueueConfig",
    "RingPolicy",
    "SwitchboardConfig",
    "Target",
    "TargetKind",
    "TrunkConfig",
]


class TargetKind(enum.Enum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    NUMBER = "number"
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a call goes when its queue is closed, full, or it waited too long."""

    kind: TargetKind = TargetKind.HANGUP
    #: The queue name or outside number for ``QUEUE`` and ``NUMBER``.
    value: str = ""

    @classmethod
    def parse(cls, entry: str, text: str) -> Target:
        """Parse ``hangup``, ``voicemail``, ``callback``, ``queue:NAME`` or ``number:DIGITS``."""
        kind, _, value = text.partition(":")
        try:
            target = TargetKind(kind)
        except ValueError:
            raise ConfigurationError(
                entry,
                f"unknown target {text!r}; use hangup, voicemail, callback, queue:NAME "
                "or number:DIGITS",
            ) from None
        needs_value = target in (TargetKind.QUEUE, TargetKind.NUMBER)
        if needs_value != bool(value):
            raise ConfigurationError(
                entry,
                f"target {text!r}: {kind} " + ("needs ':' and a name" if needs_value
                                              else "takes no ':' value"),
            )
        return cls(target, value)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}" if self.value else self.kind.value


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: str = "least-idle"
    options: Mapping[str, object] = field(default_factory=lambda: EMPTY)
    skills: acd.SkillSchedule = field(default_factory=acd.SkillSchedule.fixed)
    #: Priority of calls entering this queue (VIP callers get ``vip_priority_boost`` more).
    priority: float = 0.0
    #: Most callers waiting at once; a caller beyond it goes to ``on_full``. None: no limit.
    max_size: int | None = None
    #: Longest wait in this queue before ``on_max_wait``. None: no limit.
    max_wait_s: float | None = None
    on_max_wait: Target = Target()
    on_full: Target = Target()
    on_closed: Target = Target()
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar.always_open)
    #: Service level threshold: a call answered within it counts as answered in service level.
    service_level_s: float = 20.0
    wrap_up_s: float = 10.0
    ring_timeout_s: float = 20.0
    music: str = "default"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent's roster entry: what a login without arguments uses, and where to ring."""

    agent_id: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: tuple[str, ...] = ()
    #: The PBX endpoint to ring, e.g. ``user/1001`` or ``sip:1001@10.0.0.5``.
    endpoint: str = ""


@dataclass(frozen=True, slots=True)
class TrunkConfig:
    name: str
    #: Simultaneous calls; a call that finds every channel busy is blocked. None: no limit.
    capacity: int | None = None


def _default_retry() -> Mapping[LegFailure, float]:
    return {
        LegFailure.NO_ANSWER: 5.0,
        LegFailure.BUSY: 30.0,
        LegFailure.REJECTED: 10.0,
        LegFailure.UNREACHABLE: 60.0,
    }


@dataclass(frozen=True, slots=True)
class RingPolicy:
    """What happens when an offered agent does not answer."""

    #: Consecutive misses after which the agent goes not ready with reason ``no-answer``.
    max_misses: int = 3
    #: Per cause, seconds the agent is kept out of routing before taking calls again.
    retry_s: Mapping[LegFailure, float] = field(default_factory=_default_retry)
    #: Longest an agent may stay reserved before the PBX confirms it is ringing them.
    reserve_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class SwitchboardConfig:
    site: str = "default"
    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    trunks: tuple[TrunkConfig, ...] = ()
    #: Dialed number -> queue name.
    numbers: Mapping[str, str] = field(default_factory=dict)
    #: Queue for calls whose dialed number is not in ``numbers``; None rejects them.
    default_queue: str | None = None
    blacklist: frozenset[str] = frozenset()
    vip_priority_boost: float = 5.0
    #: Ask the shell for the caller's customer record, and wait at most this long for it.
    customer_lookup: bool = False
    lookup_timeout_s: float = 1.0
    ring: RingPolicy = RingPolicy()
    seed: int = 0
    #: Dialed number -> the IVR flow callers of that number meet first (``ivr.load_flows``).
    #: Empty: no call pays for the IVR.
    flows: Mapping[str, Flow] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``ConfigurationError`` for the first problem found, naming its entry."""
        queues = {}
        for q in self.queues:
            if q.name in queues:
                raise ConfigurationError(f"queues.{q.name}", "defined twice")
            queues[q.name] = q
            self._check_queue(q)
        for q in self.queues:
            for key in ("on_max_wait", "on_full", "on_closed"):
                target: Target = getattr(q, key)
                if target.kind is TargetKind.QUEUE and target.value not in queues:
                    raise ConfigurationError(
                        f"queues.{q.name}.{key}", f"unknown queue {target.value!r}"
                    )
                if target.kind is TargetKind.QUEUE and target.value == q.name:
                    raise ConfigurationError(f"queues.{q.name}.{key}", "overflows into itself")
            for key in ("on_full", "on_closed"):
                if getattr(q, key).kind is TargetKind.CALLBACK:
                    raise ConfigurationError(
                        f"queues.{q.name}.{key}",
                        "a callback keeps the caller's place in the queue, so it cannot be the "
                        "answer to a queue that is full or closed; use voicemail instead",
                    )
        self._check_overflow_cycles(queues)
        names = set()
        for a in self.agents:
            if a.agent_id in names:
                raise ConfigurationError(f"agents.{a.agent_id}", "defined twice")
            names.add(a.agent_id)
            acd.skills.validate_levels(f"agents.{a.agent_id}.skills", a.skills)
            for name in a.queues:
                if name not in queues:
                    raise ConfigurationError(
                        f"agents.{a.agent_id}.queues", f"unknown queue {name!r}"
                    )
        trunks = set()
        for t in self.trunks:
            if t.name in trunks:
                raise ConfigurationError(f"trunks.{t.name}", "defined twice")
            trunks.add(t.name)
            if t.capacity is not None and t.capacity < 0:
                raise ConfigurationError(f"trunks.{t.name}.capacity", "must be >= 0")
        for number, name in self.numbers.items():
            if name not in queues:
                raise ConfigurationError(f"numbers.{number}", f"unknown queue {name!r}")
        if self.default_queue is not None and self.default_queue not in queues:
            raise ConfigurationError("default_queue", f"unknown queue {self.default_queue!r}")
        if self.ring.max_misses < 1:
            raise ConfigurationError("ring.max_misses", "must be at least 1")
        for cause, secs in self.ring.retry_s.items():
            if not (math.isfinite(secs) and secs >= 0):
                raise ConfigurationError(f"ring.retry.{cause.value}", "must be >= 0 seconds")
        if not self.lookup_timeout_s > 0:
            raise ConfigurationError("lookup_timeout_s", "must be > 0")
        self._check_flows(queues)

    def _check_flows(self, queues: Mapping[str, QueueConfig]) -> None:
        # What the flow files cannot know: that their queues exist here, and that their skill
        # stages make a schedule the router takes (first at 0 s, increasing), so that no call
        # finds out in the middle of its walk.
        for number, flow in self.flows.items():
            where = f"ivr.flows.{number}"
            for ident, node in flow.nodes.items():
                for key, name in node.queues():
                    if name not in queues:
                        raise ConfigurationError(
                            where, f"{flow.source}: {ident}: {key}: unknown queue {name!r}")
                skills = getattr(node, "skills", None)
                if skills is None:
                    continue
                stages = ([(0.0, dict(skills))] if isinstance(skills, Mapping)
                          else [(s.after, dict(s.require)) for s in skills])
                try:
                    acd.SkillSchedule.parse(f"{ident}.skills", stages)
                except acd.ConfigError as exc:
                    raise ConfigurationError(
                        where, f"{flow.source}: {exc.entry}: {exc.problem}") from exc

    @staticmethod
    def _check_queue(q: QueueConfig) -> None:
        where = f"queues.{q.name}"
        try:
            acd.create_strategy(q.strategy, queue=q.name, options=q.options)
        except acd.ConfigError as exc:
            raise ConfigurationError(exc.entry, exc.problem) from exc
        for key in ("service_level_s", "ring_timeout_s", "wrap_up_s"):
            value = getattr(q, key)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{where}.{key}", f"must be >= 0 seconds, not {value}")
        if q.ring_timeout_s <= 0:
            raise ConfigurationError(f"{where}.ring_timeout_s", "must be > 0 seconds")
        if q.max_size is not None and q.max_size < 0:
            raise ConfigurationError(f"{where}.max_size", "must be >= 0")
        if q.max_wait_s is not None and not q.max_wait_s > 0:
            raise ConfigurationError(f"{where}.max_wait_s", "must be > 0 seconds")

    @staticmethod
    def _check_overflow_cycles(queues: Mapping[str, QueueConfig]) -> None:
        # A chain of max-wait overflows that comes back to where it started would pass a caller
        # round for ever: reject it, naming the whole chain.
        for start in queues:
            chain = [start]
            current = queues[start].on_max_wait
            while current.kind is TargetKind.QUEUE:
                if current.value == start:
                    raise ConfigurationError(
                        f"queues.{start}.on_max_wait",
                        "overflow cycle: " + " -> ".join([*chain, start]),
                    )
                if current.value in chain:
                    break  # a cycle not through ``start``; reported when its own start is checked
                chain.append(current.value)
                current = queues[current.value].on_max_wait

    def queue(self, name: str) -> QueueConfig:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)
