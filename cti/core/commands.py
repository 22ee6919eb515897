"""Outputs to the PBX (and one to the shell): what the switchboard wants done.

Adapters turn these into wire commands; the simulator turns them into scheduled events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cti.core.records import EMPTY

__all__ = [
    "CancelOffer",
    "Command",
    "ConnectAgent",
    "HangUp",
    "LookupCustomer",
    "ParkWithMusic",
    "PbxCommand",
    "Play",
    "Record",
    "Redirect",
    "SetHold",
]


class Command:
    __slots__ = ()


class PbxCommand(Command):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ParkWithMusic(PbxCommand):
    """Hold the caller in queue with music on hold."""

    call_id: str
    music: str = "default"


@dataclass(frozen=True, slots=True)
class ConnectAgent(PbxCommand):
    """Ring the agent's endpoint and bridge the call when they answer.

    For a callback (``callback_number`` set) the caller has hung up: ring the agent first, then
    dial the customer on that number.
    """

    call_id: str
    agent_id: str
    endpoint: str
    timeout_s: float
    #: Channel variables to set on the agent leg (call id, queue, attached data).
    variables: Mapping[str, object] = field(default_factory=lambda: EMPTY)
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOffer(PbxCommand):
    """Stop ringing the agent (the caller hung up, or the offer was withdrawn)."""

    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Play(PbxCommand):
    call_id: str
    prompt: str


@dataclass(frozen=True, slots=True)
class Record(PbxCommand):
    """Record a voicemail; the PBX answers with ``RecordingDone``."""

    call_id: str
    prompt: str = "leave-message"
    max_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Redirect(PbxCommand):
    """Send the call out of the ACD to ``destination`` (an outside number)."""

    call_id: str
    destination: str


@dataclass(frozen=True, slots=True)
class HangUp(PbxCommand):
    call_id: str
    cause: str = "normal"


@dataclass(frozen=True, slots=True)
class SetHold(PbxCommand):
    call_id: str
    hold: bool


@dataclass(frozen=True, slots=True)
class LookupCustomer(Command):
    """For the shell: find the customer for ``caller`` and answer with ``CustomerLookupDone``.

    The switchboard does not wait: the call is routed without a record if the answer comes later
    than the configured lookup timeout.
    """

    call_id: str
    caller: str
