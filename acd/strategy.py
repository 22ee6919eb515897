"""The strategy plug-in interface and its registry.

A strategy is chosen per queue and answers two questions for the router, both as *fixed sort keys*
so the router's heaps never need re-sorting:

- ``agent_key``: among available agents qualified for a call, who goes first (lowest key). The
  key is computed when the agent becomes available and must depend only on values that do not
  change while the agent stays available.
- ``aging_per_s``: how fast a waiting call's effective priority grows. Effective priority is
  ``priority + aging_per_s * (now - enqueued_at)``; ordering by it at any ``now`` is the same as
  ordering by the fixed key ``aging_per_s * enqueued_at - priority``.

Optionally, ``preferred_agent`` reserves a call for one agent for a while (``preferred-agent``).

Strategies are registered by name: the built-ins, plus third-party classes published under the
entry-point group ``cti.acd.strategies`` (``name = "package.module:Class"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from acd._hints import mypyc_attr
from acd.entries import AgentEntry, CallEntry
from acd.errors import ConfigError, UnknownStrategyError
from acd.skills import Requirement

__all__ = [
    "ENTRY_POINT_GROUP",
    "AgentKey",
    "BucketStrategy",
    "Strategy",
    "available_strategies",
    "create_strategy",
    "register",
    "strategy_class",
]

ENTRY_POINT_GROUP = "cti.acd.strategies"

#: Anything totally ordered: a float, or a tuple of floats. Lower is chosen first.
AgentKey = Any

_S = TypeVar("_S", bound="type[Strategy]")



# Plug-ins, which are not compiled, subclass the compiled strategies.
@mypyc_attr(allow_interpreted_subclasses=True)
class Strategy(ABC):
    """Base of routing strategies. Subclasses set ``name`` and implement ``agent_key``."""

    name: ClassVar[str]
    #: Option names this strategy accepts; anything else in the queue's options is an error.
    options: ClassVar[frozenset[str]] = frozenset()
    aging_per_s: float = 0.0

    def __init__(self, *, queue: str, options: Mapping[str, object], seed: int) -> None:
        unknown = sorted(set(options) - self.options)
        if unknown:
            allowed = ", ".join(sorted(self.options)) or "none"
            raise ConfigError(
                f"queues.{queue}.options.{unknown[0]}",
                f"strategy {self.name!r} has no option {unknown[0]!r} (options: {allowed})",
            )
        self.queue = queue

    @abstractmethod
    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        """Sort key of an available agent for calls needing ``requirement``; lower goes first."""

    def preferred_agent(self, *, call: CallEntry, now: float) -> tuple[str, float] | None:
        """An agent to hold ``call`` for, and until when; ``None`` to route normally."""
        return None

    @property
    def ordering(self) -> Strategy:
        """The strategy whose agent order the pools use (a wrapper returns what it wraps)."""
        return self


@mypyc_attr(allow_interpreted_subclasses=True)
class BucketStrategy(Strategy):
    """A strategy whose agent order is "a small integer bucket, then longest idle".

    Such strategies get an index with O(1) eager updates (see ``acd._index``), so prefer this
    base when the order fits it. ``agent_bucket`` must not change while the agent is available;
    set ``skills_only`` when it depends on nothing but the agent's skills and the requirement,
    and the router computes it once per login instead of at every availability.
    """

    skills_only: ClassVar[bool] = False

    @abstractmethod
    def agent_bucket(self, *, agent: AgentEntry, requirement: Requirement) -> int:
        """The agent's bucket for calls needing ``requirement``; lower goes first."""

    def agent_key(self, *, agent: AgentEntry, requirement: Requirement, now: float) -> AgentKey:
        return (self.agent_bucket(agent=agent, requirement=requirement), agent.idle_since)


_REGISTRY: dict[str, type[Strategy]] = {}
_entry_points_loaded = False


def register(cls: _S) -> _S:
    """Class decorator: make a strategy available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_entry_points() -> None:
    global _entry_points_loaded  # noqa: PLW0603 - a load-once cache of installed plug-ins
    if _entry_points_loaded:
        return
    # Imported here: importlib.metadata pulls in email and socket, which a routing core that
    # only uses built-in strategies has no reason to load.
    from importlib.metadata import entry_points  # noqa: PLC0415

    broken: ConfigError | None = None
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue  # built-ins win; a plug-in cannot silently replace them
        where = f"entry-points.{ENTRY_POINT_GROUP}.{ep.name}"
        try:
            loaded = ep.load()
        except Exception as exc:  # whatever a broken plug-in raises on import
            broken = broken or ConfigError(where, f"cannot load {ep.value}: {exc!r}")
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Strategy)):
            broken = broken or ConfigError(where, f"{ep.value} is not a subclass of acd.Strategy")
            continue
        _REGISTRY[ep.name] = loaded
    if broken is not None:
        raise broken  # the good plug-ins are registered; ask again and this is raised again
    _entry_points_loaded = True


def available_strategies() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def strategy_class(name: str, *, entry: str = "strategy") -> type[Strategy]:
    if name not in _REGISTRY:
        _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(available_strategies())
        raise UnknownStrategyError(
            entry, f"unknown strategy {name!r} (known: {known})"
        ) from None


def create_strategy(
    name: str, *, queue: str, options: Mapping[str, object] | None = None, seed: int = 0
) -> Strategy:
    """Instantiate the strategy ``name`` for ``queue``; errors name ``queues.<queue>...``."""
    cls = strategy_class(name, entry=f"queues.{queue}.strategy")
    return cls(queue=queue, options=dict(options or {}), seed=seed)


def option(
    queue: str, options: Mapping[str, object], key: str, default: float,
    check: Callable[[float], bool], expect: str,
) -> float:
    """Read one numeric option, naming the entry when it is wrong."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not check(float(value)):
        raise ConfigError(f"queues.{queue}.options.{key}", f"must be {expect}, not {value!r}")
    return float(value)
