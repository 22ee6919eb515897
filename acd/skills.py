"""Skills, levels and requirements that relax over wait time.

An agent holds skills with levels (``{"billing": 8, "english": 5}``). A call requires skills with
minimum levels. A ``SkillSchedule`` is a list of stages: the requirement in force is the last stage
whose ``after_s`` has passed since the call entered its queue, so "billing >= 7 for 30 s, then
billing >= 3" is two stages. Requirements are normalised to sorted tuples so that equal
requirements are the same dictionary key: the router keeps one agent index per (queue, requirement).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from acd.errors import ConfigError

__all__ = [
    "SKILL_LEVEL_MAX",
    "SKILL_LEVEL_MIN",
    "Requirement",
    "SkillSchedule",
    "Stage",
    "proficiency",
    "requirement",
    "satisfies",
    "validate_levels",
]

SKILL_LEVEL_MIN = 1
SKILL_LEVEL_MAX = 10

#: A normalised requirement: ``((skill, minimum level), ...)`` sorted by skill name.
Requirement = tuple[tuple[str, int], ...]


def _check_level(entry: str, skill: object, level: object) -> int:
    if not isinstance(skill, str) or not skill:
        raise ConfigError(entry, f"skill names must be non-empty strings, not {skill!r}")
    if isinstance(level, bool) or not isinstance(level, int):
        raise ConfigError(f"{entry}.{skill}", f"level must be an integer, not {level!r}")
    if not SKILL_LEVEL_MIN <= level <= SKILL_LEVEL_MAX:
        raise ConfigError(
            f"{entry}.{skill}",
            f"level {level} is outside {SKILL_LEVEL_MIN}..{SKILL_LEVEL_MAX}",
        )
    return level


def validate_levels(entry: str, skills: Mapping[str, object]) -> dict[str, int]:
    """Return a plain copy of ``skills`` after checking every name and level (typed as
    ``object``: they come from configuration and commands, and are what is being checked)."""
    return {name: _check_level(entry, name, level) for name, level in skills.items()}


def requirement(entry: str, skills: Mapping[str, object]) -> Requirement:
    """Normalise and validate ``{skill: minimum level}``."""
    return tuple(sorted(validate_levels(entry, skills).items()))


def satisfies(levels: Mapping[str, int], req: Requirement) -> bool:
    """True if an agent with ``levels`` meets every minimum of ``req``."""
    get = levels.get
    for skill, minimum in req:  # noqa: SIM110 - a plain loop beats all() over a generator here
        if get(skill, 0) < minimum:
            return False
    return True


def proficiency(levels: Mapping[str, int], req: Requirement) -> int:
    """How proficient an agent is for ``req``: the sum of its levels in the required skills."""
    get = levels.get
    return sum(get(skill, 0) for skill, _ in req)


@dataclass(frozen=True, slots=True)
class Stage:
    after_s: float
    requirement: Requirement


@dataclass(frozen=True, slots=True)
class SkillSchedule:
    """Requirements in force by time waited in the queue; ``stages[0].after_s`` is always 0."""

    stages: tuple[Stage, ...]
    #: One stage only: the requirement never changes (the router's fast path).
    single: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "single", len(self.stages) == 1)

    @classmethod
    def fixed(cls, req: Requirement = ()) -> SkillSchedule:
        return cls((Stage(0.0, req),))

    @classmethod
    def parse(
        cls, entry: str, stages: Iterable[tuple[object, Mapping[str, object]]]
    ) -> SkillSchedule:
        """Build from ``[(after_s, {skill: level}), ...]``, checking the stages' order."""
        built: list[Stage] = []
        for i, (after_s, skills) in enumerate(stages):
            where = f"{entry}[{i}]"
            if isinstance(after_s, bool) or not isinstance(after_s, int | float):
                raise ConfigError(f"{where}.after", f"must be a number of seconds, not {after_s!r}")
            if not math.isfinite(after_s) or after_s < 0:
                raise ConfigError(f"{where}.after", f"must be a finite number >= 0, not {after_s}")
            if not built and after_s != 0:
                raise ConfigError(f"{where}.after", "the first stage must start at 0 s")
            if built and after_s <= built[-1].after_s:
                raise ConfigError(
                    f"{where}.after",
                    f"stages must start at increasing times; {after_s} s follows "
                    f"{built[-1].after_s} s",
                )
            built.append(Stage(float(after_s), requirement(f"{where}.require", skills)))
        if not built:
            return cls.fixed()
        return cls(tuple(built))

    def current(self, entered_at: float, now: float) -> tuple[Requirement, float | None]:
        """The requirement in force at ``now`` for a call that entered at ``entered_at``, and the
        absolute time it next changes. Stage boundaries are compared as ``entered_at + after_s``,
        the very sum used as the deadline, so a timer firing at the deadline always finds the
        next stage (comparing ``now - entered_at`` with ``after_s`` can round the other way)."""
        stages = self.stages
        current = stages[0].requirement
        for stage in stages[1:]:
            starts = entered_at + stage.after_s
            if starts > now:
                return current, starts
            current = stage.requirement
        return current, None

    def at(self, waited_s: float) -> tuple[Requirement, float | None]:
        """The requirement in force after ``waited_s``, and when (in waited seconds) it changes."""
        stages = self.stages
        current = stages[0].requirement
        for stage in stages[1:]:
            if stage.after_s > waited_s:
                return current, stage.after_s
            current = stage.requirement
        return current, None

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return tuple(stage.requirement for stage in self.stages)
