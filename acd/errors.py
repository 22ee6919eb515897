"""Errors raised by the routing library. One meaning per class."""

from __future__ import annotations

__all__ = ["AcdError", "ConfigError", "RouterStateError", "UnknownStrategyError"]


class AcdError(Exception):
    """Base of the routing library's errors."""


class ConfigError(AcdError, ValueError):
    """Invalid routing configuration; ``entry`` is a dotted path to the offending entry."""

    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(f"{entry}: {problem}")
        self.entry = entry
        self.problem = problem


class UnknownStrategyError(ConfigError, LookupError):
    """A queue names a strategy that is neither built in nor registered by an entry point."""


class RouterStateError(AcdError):
    """The router was asked something inconsistent with what it was told before
    (an unknown agent or queue, an agent made available twice, a call submitted twice)."""
