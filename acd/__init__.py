"""acd: who takes which call. A pure routing library (standard library only).

Agents with skills and levels, calls with skill requirements that may relax over wait, a
``Router`` with two O(log n) decisions, and routing strategies registered by name.
"""

from acd import strategies as _builtins  # noqa: F401 - registers the built-in strategies
from acd.entries import AgentEntry, CallEntry
from acd.errors import AcdError, ConfigError, RouterStateError, UnknownStrategyError
from acd.router import Match, Router, RouterStatistics
from acd.skills import (
    SKILL_LEVEL_MAX,
    SKILL_LEVEL_MIN,
    Requirement,
    SkillSchedule,
    Stage,
    proficiency,
    requirement,
    satisfies,
)
from acd.strategy import (
    ENTRY_POINT_GROUP,
    Strategy,
    available_strategies,
    create_strategy,
    register,
    strategy_class,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "SKILL_LEVEL_MAX",
    "SKILL_LEVEL_MIN",
    "AcdError",
    "AgentEntry",
    "CallEntry",
    "ConfigError",
    "Match",
    "Requirement",
    "Router",
    "RouterStateError",
    "RouterStatistics",
    "SkillSchedule",
    "Stage",
    "Strategy",
    "UnknownStrategyError",
    "available_strategies",
    "create_strategy",
    "proficiency",
    "register",
    "requirement",
    "satisfies",
    "strategy_class",
]
