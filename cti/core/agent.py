"""Agent: logged out, ready, not ready (with a reason), reserved, ringing, on call, wrap-up.

Life of an offer: the router picks a READY agent (RESERVE), the switchboard asks the PBX to ring
them (OFFER: RINGING), and they answer (ANSWER: ON_CALL) or not. A failed offer (no answer, busy,
rejected, unreachable, or the ring timeout) puts the agent in NOT_READY with reason
``retry-<cause>`` and a deadline after which they are READY again; after ``max_misses``
consecutive misses the reason is ``no-answer`` and there is no deadline: a person must come back.
The call goes back to the front of its queue either way.

Every transient state has a deadline: RESERVED (the PBX must confirm ringing), RINGING (ring
timeout), WRAP_UP (wrap-up time), NOT_READY for a retry delay. When the deadline of RESERVED or
RINGING passes the switchboard fires RING_FAILED (the agent did not answer in time); for
WRAP_UP and NOT_READY it fires TIMEOUT. A caller hanging up while the agent is reserved or
ringing is CALLER_GONE: the agent is READY again and routing runs.

Requests that cannot apply now are remembered, not refused: NOT_READY or LOGOUT while the agent
is busy with a call take effect when the call's wrap-up ends (the table has self-loops for them).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final

from cti.core._fsm import FastEnum, TimedMachine
from cti.core.errors import InvalidTransition

__all__ = ["Agent", "AgentInput", "AgentState", "AgentStatistics"]


class AgentState(FastEnum):
    LOGGED_OUT = "logged-out"
    NOT_READY = "not-ready"
    READY = "ready"
    RESERVED = "reserved"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"


class AgentInput(FastEnum):
    LOGIN = enum.auto()
    LOGOUT = enum.auto()
    READY = enum.auto()
    NOT_READY = enum.auto()
    RESERVE = enum.auto()
    OFFER = enum.auto()
    ANSWER = enum.auto()
    RING_FAILED = enum.auto()
    CALLER_GONE = enum.auto()
    HANGUP = enum.auto()
    TRANSFER = enum.auto()
    HOLD = enum.auto()
    WRAP_UP_DONE = enum.auto()
    TIMEOUT = enum.auto()


_S, _I = AgentState, AgentInput

TABLE: Final = {
    (_S.LOGGED_OUT, _I.LOGIN): _S.NOT_READY,
    (_S.NOT_READY, _I.READY): _S.READY,
    (_S.NOT_READY, _I.NOT_READY): _S.NOT_READY,  # a new reason
    (_S.NOT_READY, _I.TIMEOUT): _S.READY,  # a retry delay ran out
    (_S.NOT_READY, _I.LOGOUT): _S.LOGGED_OUT,
    (_S.READY, _I.NOT_READY): _S.NOT_READY,
    (_S.READY, _I.READY): _S.READY,
    (_S.READY, _I.LOGOUT): _S.LOGGED_OUT,
    (_S.READY, _I.RESERVE): _S.RESERVED,
    (_S.RESERVED, _I.OFFER): _S.RINGING,
    (_S.RESERVED, _I.ANSWER): _S.ON_CALL,  # a PBX that reports no ringing before the answer
    (_S.RESERVED, _I.CALLER_GONE): _S.READY,
    (_S.RESERVED, _I.RING_FAILED): _S.NOT_READY,  # also the reserve timeout: never confirmed
    (_S.RESERVED, _I.NOT_READY): _S.RESERVED,  # remembered for after the call
    (_S.RESERVED, _I.LOGOUT): _S.RESERVED,
    (_S.RINGING, _I.ANSWER): _S.ON_CALL,
    (_S.RINGING, _I.RING_FAILED): _S.NOT_READY,  # also the ring timeout: ring-no-answer
    (_S.RINGING, _I.CALLER_GONE): _S.READY,
    (_S.RINGING, _I.NOT_READY): _S.RINGING,
    (_S.RINGING, _I.LOGOUT): _S.RINGING,
    (_S.ON_CALL, _I.HANGUP): _S.WRAP_UP,
    (_S.ON_CALL, _I.TRANSFER): _S.WRAP_UP,
    (_S.ON_CALL, _I.HOLD): _S.ON_CALL,
    (_S.ON_CALL, _I.NOT_READY): _S.ON_CALL,
    (_S.ON_CALL, _I.LOGOUT): _S.ON_CALL,
    (_S.WRAP_UP, _I.WRAP_UP_DONE): _S.READY,
    (_S.WRAP_UP, _I.READY): _S.READY,
    (_S.WRAP_UP, _I.TIMEOUT): _S.READY,
    (_S.WRAP_UP, _I.NOT_READY): _S.NOT_READY,
    (_S.WRAP_UP, _I.LOGOUT): _S.LOGGED_OUT,
}

# Read on every transition, as module globals (see ``cti.core.call`` for why).
_NOT_READY: Final = _S.NOT_READY
_WRAP_UP: Final = _S.WRAP_UP
_NOT_READY_INPUT: Final = _I.NOT_READY

#: States in which the agent holds a call (reserved for it, ringing, talking, wrapping up).
BUSY = frozenset({_S.RESERVED, _S.RINGING, _S.ON_CALL, _S.WRAP_UP})


@dataclass(frozen=True, slots=True)
class AgentStatistics:
    agent_id: str
    state: str
    reason: str | None
    since: float
    call_id: str | None
    offered: int
    answered: int
    missed: int
    talk_s: float
    wrap_up_s: float
    #: Seconds in each state since the switchboard started (state names as keys).
    time_in_state: Mapping[str, float]
    #: Seconds not ready, per reason.
    not_ready_s: Mapping[str, float]


class Agent(TimedMachine[AgentState, AgentInput]):
    __slots__ = (
        "answered",
        "call_id",
        "endpoint",
        "last_queue",
        "missed",
        "misses",
        "not_ready_s",
        "offered",
        "offered_at",
        "on_hold",
        "pending",
        "queues",
        "reason",
        "skills",
        "talk_s",
        "talk_since",
        "wrap_booked",
        "wrap_up_s",
    )
    KIND: ClassVar[str] = "agent"
    TABLE: ClassVar = TABLE

    def __init__(self, agent_id: str, endpoint: str, now: float) -> None:
        super().__init__(agent_id, AgentState.LOGGED_OUT, now)
        self.endpoint = endpoint
        self.reason: str | None = None
        self.skills: Mapping[str, int] = {}
        self.queues: tuple[str, ...] = ()
        self.call_id: str | None = None
        self.last_queue: str | None = None
        #: A request to apply when the current call's wrap-up ends: ("not-ready", reason) or
        #: ("logout", None).
        self.pending: tuple[str, str | None] | None = None
        self.misses = 0
        self.on_hold = False
        self.talk_since = 0.0
        self.offered_at = 0.0
        self.offered = self.answered = self.missed = 0
        self.talk_s = self.wrap_up_s = 0.0
        #: The part of ``wrap_up_s`` already credited to queues' handle time.
        self.wrap_booked = 0.0
        self.not_ready_s: dict[str, float] = {}

    def fire(self, inp: AgentInput, now: float) -> AgentState:
        # TimedMachine.fire inlined, with the per-reason and wrap-up accounts beside it: this
        # runs several times in every call's life.
        prev = self.state
        nxt = TABLE.get((prev, inp))
        if nxt is None:
            raise InvalidTransition(self.KIND, self.ident, prev, inp)
        not_ready = _NOT_READY
        if nxt is not prev:
            since = self.since
            time_in = self.time_in
            time_in[prev] = time_in.get(prev, 0.0) + (now - since)
            self.since = now
            self.deadline = None
            self.state = nxt
            if prev is not_ready:
                key = self.reason or "unknown"
                self.not_ready_s[key] = self.not_ready_s.get(key, 0.0) + (now - since)
            elif prev is _WRAP_UP:
                self.wrap_up_s += now - since
            if nxt is not not_ready:
                self.reason = None
        elif inp is _NOT_READY_INPUT and prev is not_ready:
            # A new reason: close the period under the old one and restart the clock.
            since = self.since
            key = self.reason or "unknown"
            self.not_ready_s[key] = self.not_ready_s.get(key, 0.0) + (now - since)
            self.time_in[not_ready] = self.time_in.get(not_ready, 0.0) + (now - since)
            self.since = now
        elif prev is not not_ready:
            self.reason = None
        return prev

    @property
    def busy(self) -> bool:
        return self.state in BUSY

    def statistics(self, now: float) -> AgentStatistics:
        not_ready = dict(self.not_ready_s)
        if self.state is AgentState.NOT_READY:
            key = self.reason or "unknown"
            not_ready[key] = not_ready.get(key, 0.0) + (now - self.since)
        talk = self.talk_s + (now - self.talk_since if self.state is AgentState.ON_CALL else 0.0)
        wrap = self.wrap_up_s + (now - self.since if self.state is AgentState.WRAP_UP else 0.0)
        return AgentStatistics(
            agent_id=self.ident,
            state=self.state.value,
            reason=self.reason,
            since=self.since,
            call_id=self.call_id,
            offered=self.offered,
            answered=self.answered,
            missed=self.missed,
            talk_s=talk,
            wrap_up_s=wrap,
            time_in_state=self.time_in_states(now),
            not_ready_s=not_ready,
        )
