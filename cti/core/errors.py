"""The core's error tree: each class has one meaning.

- ``ConfigurationError``: the configuration handed to the core is invalid; the message names the
  offending entry (``queues.billing.overflow``, ``agents.1001.skills.billing``, ...).
- ``LocalProtocolError``: the caller misused the core's API (an unknown agent, a call id reused).
- ``RemoteProtocolError``: a peer (PBX, broker) misbehaved; adapters raise it (translated from
  the library's own error and chained).
- ``InvalidTransition``: an input that a state machine's table does not allow in its current state.
  The machine's state is unchanged when it is raised.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "CtiError",
    "InvalidTransition",
    "LocalProtocolError",
    "RemoteProtocolError",
]


class CtiError(Exception):
    """Base of every error raised on purpose by cti-server."""


class ConfigurationError(CtiError, ValueError):
    """Invalid configuration; ``entry`` names where (a dotted path), the message says what."""

    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(f"{entry}: {problem}")
        self.entry = entry
        self.problem = problem


class LocalProtocolError(CtiError):
    """The core's API was used wrongly by its caller."""


class RemoteProtocolError(CtiError):
    """A remote peer sent something the protocol does not allow."""


class InvalidTransition(CtiError):  # noqa: N818 - the name DESIGN.md gives it
    """``machine`` in ``state`` has no transition for ``input``; nothing was changed."""

    def __init__(self, machine: str, ident: str, state: object, input: object) -> None:
        name = getattr(state, "name", state)
        inp = getattr(input, "name", input)
        super().__init__(f"{machine} {ident!r}: no transition for {inp} in state {name}")
        self.machine = machine
        self.ident = ident
        self.state = state
        self.input = input
