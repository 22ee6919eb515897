"""Call: arrived, screened, in IVR, queued, offered to an agent, connected, ended.

An IVR call (its dialed number has a flow) goes SCREENED -> IN_IVR and leaves the flow for a
queue, voicemail or an outside number, or ends there: ``self-service`` when the flow hung up
normally, ``ivr-failed`` when it hung up for another cause (no input, invalid input, step limit),
``ivr-abandoned`` when the caller hung up in it (``cti/core/ivr_calls.py``).

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
from typing import ClassVar, Final

from acd import SkillSchedule
from cti.core._fsm import FastEnum, Machine
from cti.core.errors import InvalidTransition
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
    #: The caller hung up in the IVR, before the flow handed the call on.
    IVR_ABANDONED = "ivr-abandoned"
    #: The flow hung up with a cause other than ``normal`` (no input, invalid input, ...).
    IVR_FAILED = "ivr-failed"


_S, _I = CallState, CallInput

TABLE: Final = {
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
    (_S.IN_IVR, _I.DISCONNECT): _S.ENDED,  # the queue the flow chose refused it (closed, full)
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

# Members read on every transition, as module globals: ``CallState.OFFERED`` goes through the
# hook of ``EnumType.__getattr__`` on every read (about 70 ns in Python 3.11), a global 4 ns.
_ARRIVED: Final = _S.ARRIVED
_OVERFLOW: Final = _I.OVERFLOW
#: States whose phase names the agent rather than the queue.
_AT_AGENT: Final = frozenset({_S.OFFERED, _S.CONNECTED})

#: A phase's label -> the key of its state in ``time_in_states`` (an overflow stays queued).
_STATE_KEYS = {s.value: s.name.lower() for s in CallState} | {"overflowed": "queued"}

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
        "transferred_from",
        "trunk",
    )
    KIND: ClassVar[str] = "call"
    TABLE: ClassVar = TABLE

    def __init__(
        self, call_id: str, caller: str, dialed: str, trunk: str,
        data: Mapping[str, object], now: float,
    ) -> None:
        # Machine.__init__'s four fields set here rather than through it: one frame less on
        # every call's arrival.
        self.ident = call_id
        self.state = _ARRIVED
        self.since = now
        self.deadline = None
        self.caller = caller
        self.dialed = dialed
        self.trunk = trunk
        self.data: dict[str, object] = dict(data) if data else {}
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
        self.agent_id: str | None = None
        self.transferred_from: str | None = None
        #: The queue whose "in progress" count holds this call right now, if any.
        self.pending_in: str | None = None
        #: Whether the call holds a trunk channel (a callback released it with the caller's leg).
        self.has_channel = False
        self.callback_number: str | None = None
        self.offers = 0
        self.disposition: Disposition | None = None
        self.phases: list[Phase] = [Phase("arrived", now, "")]

    def fire(self, inp: CallInput, now: float) -> CallState:
        prev = self.state
        nxt = TABLE.get((prev, inp))
        if nxt is None:
            raise InvalidTransition(self.KIND, self.ident, prev, inp)
        if nxt is not prev:
            self.since = now
            self.deadline = None
            self.state = nxt
            where = self.agent_id if nxt in _AT_AGENT else self.queue
            # ``_value_`` is the plain attribute behind ``value``, which in 3.11 is a Python
            # descriptor: this runs on every step of every call.
            self.phases.append(Phase(nxt._value_, now, where or ""))
        elif inp is _OVERFLOW:
            self.phases.append(Phase("overflowed", now, self.queue or ""))
        return prev

    def time_in_states(self, now: float) -> dict[str, float]:
        """Seconds spent in each state so far, read off the phases (each starts one)."""
        spent: dict[str, float] = {}
        phases = self.phases
        for phase, after in zip(phases, [*phases[1:], None], strict=True):
            key = _STATE_KEYS[phase.state]
            end = now if after is None else after.at
            spent[key] = spent.get(key, 0.0) + (end - phase.at)
        return spent

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
            self.ident, self.caller, self.dialed, self.trunk, self.disposition._value_,
            self.arrived_at, now, self.queue, self.agent_id, start, self.answered_at, wait, talk,
            self.priority, self.offers,
            self.customer.customer_id if self.customer is not None else None,
            tuple(self.phases), dict(self.data),
        )

    @property
    def in_queue(self) -> bool:
        return self.state in IN_QUEUE
