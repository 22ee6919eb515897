"""Inputs to the switchboard: PBX events, agent commands, and results the shell fetched.

All are frozen slotted dataclasses, except the four of every call's life (``CallArrived``,
``AgentLegAnswered``, ``CallHungUp``, ``WrapUpDone``), which are value classes for speed
(``cti.core.records`` says what that means); adapters and the simulator build them, the
switchboard consumes them with ``Switchboard.handle(event, now)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from acd import SkillSchedule
from cti.core._fsm import FastEnum
from cti.core.records import EMPTY, CustomerRecord

__all__ = [
    "AgentLegAnswered",
    "AgentLegFailed",
    "AgentLegRinging",
    "AgentLogin",
    "AgentLogout",
    "AgentNotReady",
    "AgentReady",
    "CallArrived",
    "CallHungUp",
    "CustomerLookupDone",
    "DataLookupDone",
    "DataLookupFailed",
    "DigitsEntered",
    "DigitsTimedOut",
    "Event",
    "ForceQueue",
    "HoldCall",
    "LegFailure",
    "PromptDone",
    "RecordingDone",
    "RecordingStarted",
    "TransferCall",
    "WrapUpDone",
]


class LegFailure(FastEnum):
    """Why an agent's leg did not answer; each has its own retry delay (``RingPolicy``)."""

    NO_ANSWER = "no-answer"
    BUSY = "busy"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"


class Event:
    """Base of everything ``Switchboard.handle`` accepts."""

    __slots__ = ()


# -- PBX events -----------------------------------------------------------------------------


@dataclass(slots=True, init=False, unsafe_hash=True)
class CallArrived(Event):
    """A call reached the ACD. ``queue`` routes it directly; otherwise the dialed number does."""

    call_id: Final[str]
    caller: Final[str]
    dialed: Final[str]
    trunk: Final[str]
    queue: Final[str | None]
    priority: Final[float | None]
    #: Data collected before routing (IVR digits, channel variables); follows the call.
    data: Final[Mapping[str, object]]
    #: The call's own skill requirement (an IVR choice, a call type); None: its queue's.
    skills: Final[SkillSchedule | None]

    def __init__(
        self, call_id: str, caller: str, dialed: str, trunk: str = "default",
        queue: str | None = None, priority: float | None = None,
        data: Mapping[str, object] = EMPTY, skills: SkillSchedule | None = None,
    ) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialed = dialed
        self.trunk = trunk
        self.queue = queue
        self.priority = priority
        self.data = data
        self.skills = skills


@dataclass(frozen=True, slots=True)
class AgentLegRinging(Event):
    """The agent's phone is ringing (the PBX confirmed the offer)."""

    call_id: str
    agent_id: str


@dataclass(slots=True, init=False, unsafe_hash=True)
class AgentLegAnswered(Event):
    call_id: Final[str]
    agent_id: Final[str]

    def __init__(self, call_id: str, agent_id: str) -> None:
        self.call_id = call_id
        self.agent_id = agent_id


@dataclass(frozen=True, slots=True)
class AgentLegFailed(Event):
    call_id: str
    agent_id: str
    cause: LegFailure = LegFailure.NO_ANSWER


@dataclass(slots=True, init=False, unsafe_hash=True)
class CallHungUp(Event):
    """The caller's leg ended (the caller hung up, or the call was torn down after a bridge)."""

    call_id: Final[str]
    cause: Final[str]

    def __init__(self, call_id: str, cause: str = "normal") -> None:
        self.call_id = call_id
        self.cause = cause


@dataclass(frozen=True, slots=True)
class RecordingDone(Event):
    """A voicemail recording finished; ``location`` is where the PBX stored it."""

    call_id: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class RecordingStarted(Event):
    """The PBX records the call's conversation at ``location`` (``[freeswitch] record_calls``);
    the call's record carries it as ``data["recording"]``."""

    call_id: str
    location: str


@dataclass(frozen=True, slots=True)
class PromptDone(Event):
    """IVR: the prompts of a ``PlayPrompt`` or ``CollectDigits`` have finished playing. ``step``
    is the command's; None: whatever the call is playing now."""

    call_id: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class DigitsEntered(Event):
    """IVR: DTMF from the caller during a ``CollectDigits``, one key or several (``0-9*#``)."""

    call_id: str
    digits: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class DigitsTimedOut(Event):
    """IVR: a PBX that collects on its own (``play_and_get_digits``) got no key in time."""

    call_id: str
    step: int | None = None


# -- results the shell fetched ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerLookupDone(Event):
    """The answer to a ``LookupCustomer`` command; ``record`` is None when nobody matched.
    ``data`` joins the call's attached data (the caller's recent calls and open tickets), so it
    is in the screen pop whether or not a record matched."""

    call_id: str
    record: CustomerRecord | None
    data: Mapping[str, object] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class DataLookupDone(Event):
    """The answer to a ``LookupData`` command: the record found (its fields become the flow's
    variables), or None when nothing matched."""

    call_id: str
    request: int
    record: Mapping[str, object] | None


@dataclass(frozen=True, slots=True)
class DataLookupFailed(Event):
    """A ``LookupData`` could not be answered (the source is down or not configured)."""

    call_id: str
    request: int
    reason: str = ""


# -- agent commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentLogin(Event):
    """Log in; skills and queues default to the agent's roster entry."""

    agent_id: str
    skills: Mapping[str, int] | None = None
    queues: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AgentLogout(Event):
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentReady(Event):
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentNotReady(Event):
    agent_id: str
    reason: str = "break"


@dataclass(slots=True, init=False, unsafe_hash=True)
class WrapUpDone(Event):
    """The agent finished the after-call work; ``disposition`` is their code for the call
    (``sale``, ``callback-needed``, ...), which the daemon may turn into a follow-up ticket."""

    agent_id: Final[str]
    disposition: Final[str | None]

    def __init__(self, agent_id: str, disposition: str | None = None) -> None:
        self.agent_id = agent_id
        self.disposition = disposition


@dataclass(frozen=True, slots=True)
class TransferCall(Event):
    """The agent hands its connected call on: to a queue, another agent, or an outside number."""

    agent_id: str
    to_queue: str | None = None
    to_agent: str | None = None
    to_number: str | None = None


@dataclass(frozen=True, slots=True)
class ForceQueue(Event):
    """A supervisor opens or closes a queue whatever its calendar says (``open=None``: back to
    the calendar). Closing turns new callers to ``on_closed``; those waiting stay."""

    queue: str
    open: bool | None


@dataclass(frozen=True, slots=True)
class HoldCall(Event):
    agent_id: str
    hold: bool = True
