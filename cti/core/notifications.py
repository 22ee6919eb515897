"""Notifications: what subscribers learn (screen pops, tickets, states, call records).

The switchboard builds only the kinds somebody subscribed to (``Switchboard(notify=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from cti.core.records import EMPTY, CallRecord, CustomerRecord

__all__ = [
    "AgentStateChanged",
    "CallEnded",
    "Notification",
    "QueueStats",
    "ScreenPop",
    "TicketCreated",
    "TicketUpdated",
]


class Notification:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ScreenPop(Notification):
    """Published when a call is offered to an agent (while ringing), so the record is on screen
    as the agent answers."""

    agent_id: str
    call_id: str
    caller: str
    dialed: str
    queue: str
    waited_s: float
    data: Mapping[str, object]
    customer: CustomerRecord | None
    at: float
    #: Set when this pop follows a transfer: the agent who handed the call on.
    transferred_from: str | None = None


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Notification):
    agent_id: str
    state: str
    previous: str
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class QueueStats(Notification):
    """The queue's live figures after a change: open or not, callers waiting."""

    queue: str
    open: bool
    waiting: int
    at: float


@dataclass(frozen=True, slots=True)
class TicketCreated(Notification):
    """A ticket the ticketing system should open: a voicemail or a callback request."""

    ticket_id: str
    kind: str
    call_id: str
    caller: str
    queue: str | None
    at: float
    data: Mapping[str, object] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class TicketUpdated(Notification):
    """A ticket that was open got more: the same caller asked again (merged, not a new one)."""

    ticket_id: str
    kind: str
    call_id: str
    caller: str
    queue: str | None
    at: float
    #: How many requests the ticket now holds (2 after the first merge).
    requests: int
    data: Mapping[str, object] = field(default_factory=lambda: EMPTY)


@dataclass(slots=True, init=False, unsafe_hash=True)
class CallEnded(Notification):
    record: Final[CallRecord]

    def __init__(self, record: CallRecord) -> None:
        self.record = record
