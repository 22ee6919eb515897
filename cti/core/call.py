"""Call: arrived, screened, in IVR, queued, offered to an agent, connected, ended.

Side paths: blocked (no trunk channel, or the queue refused it), rejected (blacklisted, or no
route), abandoned (the caller hung up before an agent answered), overflowed (max wait sent it to
another queue: QUEUED -> QUEUED, keeping its original enqueue time), voicemail (VOICEMAIL until
the recording is done, then a ticket), callback (the caller hangs up but keeps their place: the
call waits in CALLBACK and, when an agent frees up, is offered to the agent who dials the caller
back), transferred (to a queue or an agent from CONNECTED, or out to a number).

A call ends exactly once, with a disposition, and its record (phases with timestamps) is
published then.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import ClassVar

from acd import SkillSchedule
from cti.core._fsm import FastEnum, Machine
from cti.core.records import CallRecord, CustomerRecord, Phase

__all__ = ["Call", "CallInput", "CallState", "Disposition"]


class CallState(FastEnum):
    ARRIVED = "arrived"
    SCREENED = "screened"
    IN_IVR = "in-ivr"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    ENDED = "ended"


class CallInput(FastEnum):
    SCREEN = enum.auto()
    REJECT = enum.auto()
    BLOCK = enum.auto()
    START_IVR = enum.auto()
    ENQUEUE = enum.auto()
    OFFER = enum.auto()
    OFFER_FAILED = enum.auto()
    ANSWER = enum.auto()
    HANGUP = enum.auto()
    OVERFLOW = enum.auto()
    VOICEMAIL = enum.auto()
    RECORDED = enum.auto()
    CALLBACK = enum.auto()
    TRANSFER_QUEUE = enum.auto()
    TRANSFER_AGENT = enum.auto()
    TRANSFER_OUT = enum.auto()
    DISCONNECT = enum.auto()
    FINISH = enum.auto()


class Disposition(FastEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    BLOCKED = "blocked"
    REJECTED = "rejected"
    VOICEMAIL = "voicemail"
    TRANSFERRED = "transferred"
    TIMEOUT = "timeout"
    CLOSED = "closed"
    SELF_SERVICE = "self-service"
    CALLBACK_CANCELLED = "callback-cancelled"


_S, _I = CallState, CallInput

TABLE = {
    (_S.ARRIVED, _I.SCREEN): _S.SCREENED,
    (_S.ARRIVED, _I.REJECT): _S.ENDED,
    (_S.ARRIVED, _I.BLOCK): _S.ENDED,
    (_S.ARRIVED, _I.HANGUP): _S.ENDED,
    (_S.SCREENED, _I.START_IVR): _S.IN_IVR,
    (_S.SCREENED, _I.ENQUEUE): _S.QUEUED,
    (_S.SCREENED, _I.BLOCK): _S.ENDED,
    (_S.SCREENED, _I.REJECT): _S.ENDED,
    (_S.SCREENED, _I.VOICEMAIL): _S.VOICEMAIL,
    (_S.SCREENED, _I.TRANSFER_OUT): _S.ENDED,
    (_S.SCREENED, _I.DISCONNECT): _S.ENDED,
    (_S.SCREENED, _I.HANGUP): _S.ENDED,
    (_S.IN_IVR, _I.ENQUEUE): _S.QUEUED,
    (_S.IN_IVR, _I.VOICEMAIL): _S.VOICEMAIL,
    (_S.IN_IVR, _I.TRANSFER_OUT): _S.ENDED,
    (_S.IN_IVR, _I.FINISH): _S.ENDED,
    (_S.IN_IVR, _I.BLOCK): _S.ENDED,
    (_S.IN_IVR, _I.HANGUP): _S.ENDED,
    (_S.QUEUED, _I.OFFER): _S.OFFERED,
    (_S.QUEUED, _I.OVERFLOW): _S.QUEUED,
    (_S.QUEUED, _I.VOICEMAIL): _S.VOICEMAIL,
    (_S.QUEUED, _I.CALLBACK): _S.CALLBACK,
    (_S.QUEUED, _I.TRANSFER_OUT): _S.ENDED,
    (_S.QUEUED, _I.DISCONNECT): _S.ENDED,
    (_S.QUEUED, _I.HANGUP): _S.ENDED,
    (_S.OFFERED, _I.ANSWER): _S.CONNECTED,
    (_S.OFFERED, _I.OFFER_FAILED): _S.QUEUED,
    (_S.OFFERED, _I.CALLBACK): _S.CALLBACK,  # a callback's offer failed: it keeps its place
    (_S.OFFERED, _I.HANGUP): _S.ENDED,
    (_S.CONNECTED, _I.TRANSFER_QUEUE): _S.QUEUED,
    (_S.CONNECTED, _I.TRANSFER_AGENT): _S.OFFERED,
    (_S.CONNECTED, _I.TRANSFER_OUT): _S.ENDED,
    (_S.CONNECTED, _I.HANGUP): _S.ENDED,
    (_S.VOICEMAIL, _I.RECORDED): _S.ENDED,
    (_S.VOICEMAIL, _I.HANGUP): _S.ENDED,
    (_S.CALLBACK, _I.OFFER): _S.OFFERED,
    (_S.CALLBACK, _I.HANGUP): _S.CALLBACK,  # the caller's leg we released; the callback lives on
    (_S.CALLBACK, _I.DISCONNECT): _S.ENDED,
}

#: States in which the call belongs to a queue's "in progress" count.
IN_QUEUE = frozenset({_S.QUEUED, _S.OFFERED, _S.CALLBACK})


class Call(Machine[CallState, CallInput]):
    __slots__ = (
        "agent_id",
        "answered_at",
        "arrived_at",
        "callback_number",
        "caller",
        "customer",
        "data",
        "dialed",
        "disposition",
        "enqueued_at",
        "entered_at",
        "has_channel",
        "max_wait_at",
        "offers",
        "pending_in",
        "phases",
        "preferred_agent",
        "priority",
        "queue",
        "skills",
        "talk_from",
        "transferred_from",
        "trunk",
    )
    KIND: ClassVar[str] = "call"
    TABLE: ClassVar = TABLE

    def __init__(
        self, call_id: str, caller: str, dialed: str, trunk: str,
        data: Mapping[str, object], now: float,
    ) -> None:
        super().__init__(call_id, CallState.ARRIVED, now)
        self.caller = caller
        self.dialed = dialed
        self.trunk = trunk
        self.data: dict[str, object] = dict(data)
        self.arrived_at = now
        self.queue: str | None = None
        self.priority = 0.0
        #: Skill schedule attached before routing (None: the queue's own).
        self.skills: SkillSchedule | None = None
        self.customer: CustomerRecord | None = None
        self.preferred_agent: str | None = None
        #: First time the caller started waiting in any queue (kept across overflow, requeue).
        self.enqueued_at: float | None = None
        #: When the call entered its current queue (max wait and skill stages count from it).
        self.entered_at: float | None = None
        self.max_wait_at: float | None = None
        self.answered_at: float | None = None
        self.talk_from = 0.0
        self.agent_id: str | None = None
        self.transferred_from: str | None = None
        #: The queue whose "in progress" count holds this call right now, if any.
        self.pending_in: str | None = None
        #: Whether the call holds a trunk channel (a callback released it with the caller's leg).
        self.has_channel = False
        self.callback_number: str | None = None
        self.offers = 0
        self.disposition: Disposition | None = None
        self.phases: list[Phase] = [Phase(CallState.ARRIVED.value, now)]

    def fire(self, inp: CallInput, now: float) -> CallState:
        prev = Machine.fire(self, inp, now)  # not super(): this is the hot path
        state = self.state
        if state is not prev or inp is CallInput.OVERFLOW:
            if state is CallState.OFFERED or state is CallState.CONNECTED:
                where = self.agent_id or ""
            else:
                where = self.queue or ""
            # ``_value_`` is the plain attribute behind ``value``, which in 3.11 is a Python
            # descriptor: this runs on every step of every call.
            label = "overflowed" if inp is CallInput.OVERFLOW else state._value_
            self.phases.append(Phase(label, now, where))
        return prev

    def record(self, now: float) -> CallRecord:
        """The call's complete record (the CDR), once it has ended with a disposition."""
        assert self.disposition is not None
        start = self.enqueued_at
        wait = 0.0
        if start is not None:
            wait = (self.answered_at if self.answered_at is not None else now) - start
        talk = 0.0
        if self.answered_at is not None:
            talk = max(0.0, now - self.answered_at)
        return CallRecord(
            call_id=self.ident, caller=self.caller, dialed=self.dialed, trunk=self.trunk,
            disposition=self.disposition._value_, arrived_at=self.arrived_at, ended_at=now,
            queue=self.queue, agent_id=self.agent_id, enqueued_at=self.enqueued_at,
            answered_at=self.answered_at, wait_s=wait, talk_s=talk, priority=self.priority,
            offers=self.offers,
            customer_id=self.customer.customer_id if self.customer is not None else None,
            phases=tuple(self.phases), data=dict(self.data),
        )

    @property
    def in_queue(self) -> bool:
        return self.state in IN_QUEUE
