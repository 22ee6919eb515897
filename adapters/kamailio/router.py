"""The ACD behind Kamailio: evapi events to switchboard events, switchboard commands to evapi
actions, sans-IO.

Theory of operation. Kamailio suspends each INVITE for the ACD's numbers and asks with a
``route`` event naming the suspended transaction (``tindex``/``tlabel``); the call becomes a
``CallArrived`` whose id is the SIP Call-ID. The switchboard's commands come back through
``execute``:

- ``ConnectAgent`` → a ``route`` action (rtjson: the agent's endpoint, ``X-CTI-Call-Id``,
  ``X-CTI-Queue``, ``X-CTI-Data``; branch timers from the queue's ring timeout) and at once
  ``AgentLegRinging``: Kamailio forwards it without delay, and the core's own ring deadline
  then starts with the branch. Kamailio's ``fr_inv_timer`` is set ``ring_margin_s`` shorter,
  so that it, not the core, normally ends an unanswered ring;
- ``ParkWithMusic`` → ``queued`` (182 with the position and expected wait) at ``end_step``,
  unless the same step offered an agent;
- ``HangUp``, ``Record`` → a ``reply`` with the status configured for the cause;
  ``Redirect`` → a ``route`` to the number (the site's Kamailio routes it on);
- ``CancelOffer`` (the core's ring timeout, or its reserve timeout) → ``cancel``: Kamailio
  cancels the agent's branch, whose failure then suspends the transaction again.

Kamailio answers for each branch: ``failed`` (the transaction is suspended again, for the next
decision) → ``AgentLegFailed`` with the cause the status means; ``answered`` (the dialog module
saw the 200) → ``AgentLegAnswered``: the agent is on the call; ``ended`` (BYE, dialog timeout,
or the dialog failed) → ``CallHungUp``: the agent goes to wrap-up. So an agent's busy and free
follow the real dialog, unlike in redirect mode. ``cancelled`` (the caller's CANCEL) →
``CallHungUp``.

A decision can only be sent while Kamailio waits for one. Between a ``cancel`` and the
``failed`` that follows it the branch is still alive, so a decision made then (the core offers
the next agent at once) is kept and sent when the transaction is suspended again.

Follow-up events are handed to ``submit`` from inside ``execute``; the shell must apply them
after the current switchboard step, never re-entrantly, and call ``end_step`` once the commands
of a step have all been executed (as for the redirect server).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from adapters.kamailio.errors import EvapiProtocolError
from adapters.kamailio.messages import (
    BranchFailed,
    CallCancelled,
    DialogAnswered,
    DialogEnded,
    KamailioEvent,
    RouteRequest,
    attached_data,
    cancel_action,
    header_lines,
    parse_event,
    queued_action,
    reply_action,
    route_action,
    uri_host,
    uri_user,
)
from adapters.sip.header_values import uri_scheme
from adapters.sip.redirect_server import DEFAULT_RESPONSES
from adapters.sip.responses import reason_phrase
from cti.core import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    CallArrived,
    CallHungUp,
    CancelOffer,
    ConnectAgent,
    HangUp,
    LegFailure,
    ParkWithMusic,
    PbxCommand,
    Record,
    Redirect,
)
from cti.core import Event as CoreEvent

__all__ = ["EvapiOptions", "EvapiRouter", "EvapiStatistics", "leg_failure"]

log = logging.getLogger("cti.adapters.kamailio")

#: SIP statuses of a failed agent branch by what the switchboard does next; the same meaning
#: FreeSWITCH gives them (RFC 3398's Q.850 causes), so both adapters rest an agent alike.
_FAILURES: dict[int, LegFailure] = {
    **dict.fromkeys((408, 480, 487), LegFailure.NO_ANSWER),
    **dict.fromkeys((486, 600), LegFailure.BUSY),
    **dict.fromkeys((403, 603, 606), LegFailure.REJECTED),
    **dict.fromkeys((404, 484, 485, 488, 500, 502, 503, 504, 604), LegFailure.UNREACHABLE),
}


def leg_failure(code: int, *, replied: bool = True) -> LegFailure:
    """What an agent branch's final status means; a branch the phone never answered at all
    (``replied`` False: Kamailio's timer, or no route to it) is unreachable."""
    if not replied or code == 0:
        return LegFailure.UNREACHABLE
    return _FAILURES.get(code, LegFailure.REJECTED)


@dataclass(frozen=True, slots=True)
class EvapiOptions:
    #: Final status per hang-up cause; causes not listed get ``default_status``.
    responses: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RESPONSES))
    default_status: int = 480
    #: Kamailio's ring timer (fr_inv_timer) is the queue's ring timeout less this.
    ring_margin_s: float = 1.0
    #: How long an agent's phone may take to answer the INVITE at all (fr_timer).
    provisional_timeout_s: float = 5.0
    #: The expected wait in the 182's reason phrase: this many seconds per caller ahead.
    wait_per_position_s: float = 30.0
    #: The trunk every call from this adapter uses.
    trunk: str = "default"


@dataclass(frozen=True, slots=True)
class EvapiStatistics:
    routed: int  # route requests (new calls)
    offered: int  # route actions to an agent
    queued: int  # 182 sent (first time per call)
    answered: int  # dialogs started with an agent
    ended: int  # dialogs ended after an answer
    branch_failures: int  # agent branches that failed
    cancelled: int  # callers who sent CANCEL before an answer
    refused: int  # final replies for a HangUp/Record
    forwarded: int  # routes to an outside number
    offers_cancelled: int  # agent branches the ACD cancelled (its ring timeout)
    late_answers: int  # an agent answered after the ACD had given up on them
    errors: int  # the switchboard refused the call (500)
    malformed: int  # frames that were not a message of the protocol
    stale: int  # events for calls the ACD no longer holds
    unsupported: int  # commands evapi mode cannot carry out (hang up a connected call)


class _Phase(enum.Enum):
    WAITING = "waiting"  # no agent branch: Kamailio waits for a decision (or it is pending)
    OFFERING = "offering"  # an agent branch is out
    TALKING = "talking"  # the dialog is up


@dataclass(slots=True)
class _Call:
    call_id: str
    cseq: str
    host: str  # the Request-URI's host, for a transfer to a number
    tindex: int
    tlabel: int
    suspended: bool = True  # Kamailio holds the transaction for a decision
    phase: _Phase = _Phase.WAITING
    agent: str | None = None  # offered or talking
    offer_cancelled: bool = False  # the ACD gave up on the current branch
    tracked: bool = True  # the switchboard holds the call
    pending: PbxCommand | None = None  # decided while the branch was still alive


class EvapiRouter:
    """The session with one Kamailio: frames in, switchboard events out through ``submit``
    (which says whether the switchboard took the event), actions out through ``send``."""

    def __init__(self, options: EvapiOptions, submit: Callable[[CoreEvent], bool],
                 send: Callable[[bytes], bool]) -> None:
        self.options = options
        self._submit = submit
        self._send = send
        self._calls: dict[str, _Call] = {}
        self._queued: dict[str, None] = {}  # calls sent 182 and not yet offered, in order
        self._parked: list[str] = []  # parked in the current switchboard step
        self._counts = dict.fromkeys(EvapiStatistics.__slots__, 0)

    def statistics(self) -> EvapiStatistics:
        return EvapiStatistics(**self._counts)

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    # -- Kamailio in --------------------------------------------------------------------------

    def receive(self, payload: bytes) -> None:
        """One frame from Kamailio. A frame that is no message of the protocol is logged and
        counted; nothing else changes."""
        try:
            event = parse_event(payload)
        except EvapiProtocolError as exc:
            self._counts["malformed"] += 1
            log.warning("evapi: dropped a malformed message (%s): %r", exc.detail,
                        payload[:200])
            return
        self._event(event)

    def _event(self, event: KamailioEvent) -> None:
        if isinstance(event, RouteRequest):
            self._route_request(event)
            return
        call = self._calls.get(event.call_id)
        if call is None:
            self._counts["stale"] += 1
            return
        if isinstance(event, BranchFailed):
            self._branch_failed(call, event)
        elif isinstance(event, DialogAnswered):
            self._answered(call, event)
        elif isinstance(event, DialogEnded):
            self._ended(call, event)
        elif isinstance(event, CallCancelled) and call.phase is not _Phase.TALKING:
            # (A CANCEL that crossed the 200 changes nothing: the dialog is up.)
            self._counts["cancelled"] += 1
            self._forget(call)
            if call.tracked:
                self._submit(CallHungUp(call.call_id, "normal"))

    def _route_request(self, ev: RouteRequest) -> None:
        self._counts["routed"] += 1
        if ev.call_id in self._calls:  # a second INVITE for a call the ACD still holds
            self._send_reply(ev.tindex, ev.tlabel, ev.call_id, 482)
            return
        data: dict[str, object] = dict(attached_data(header_lines(ev.headers)))
        queue = data.pop("queue", None)
        priority: float | None = None
        raw_priority = data.pop("priority", None)
        if isinstance(raw_priority, str):
            try:
                priority = float(raw_priority)
            except ValueError:
                priority = None
        call = _Call(ev.call_id, ev.cseq, uri_host(ev.ruri), ev.tindex, ev.tlabel)
        self._calls[ev.call_id] = call
        arrived = CallArrived(
            call_id=ev.call_id, caller=uri_user(ev.from_uri) or "anonymous",
            dialed=uri_user(ev.ruri), trunk=self.options.trunk,
            queue=queue if isinstance(queue, str) else None, priority=priority, data=data)
        if not self._submit(arrived) and call.tracked and self._calls.get(ev.call_id) is call:
            self._counts["errors"] += 1
            self._forget(call)
            self._send_reply(call.tindex, call.tlabel, call.call_id, 500)

    def _branch_failed(self, call: _Call, ev: BranchFailed) -> None:
        call.tindex, call.tlabel, call.suspended = ev.tindex, ev.tlabel, True
        if call.phase is not _Phase.OFFERING:
            # Kamailio re-asks only after a branch; a duplicate changes nothing but the handle.
            self._counts["stale"] += 1
            return
        self._counts["branch_failures"] += 1
        agent, cancelled = call.agent, call.offer_cancelled
        call.phase, call.agent, call.offer_cancelled = _Phase.WAITING, None, False
        pending, call.pending = call.pending, None
        if agent is not None and not cancelled and call.tracked:
            self._submit(AgentLegFailed(call.call_id, agent,
                                        leg_failure(ev.code, replied=ev.replied)))
        if pending is not None and self._calls.get(call.call_id) is call:
            self.execute(pending)

    def _answered(self, call: _Call, ev: DialogAnswered) -> None:
        if call.phase is not _Phase.OFFERING or call.agent is None:
            self._counts["stale"] += 1
            return
        self._counts["answered"] += 1
        call.phase, call.suspended, call.pending = _Phase.TALKING, False, None
        self._queued.pop(call.call_id, None)
        if call.offer_cancelled:
            # The 200 crossed the ACD's cancel: the caller talks to an agent the switchboard
            # has already let go. The call is over as far as the switchboard can tell.
            self._counts["late_answers"] += 1
            log.warning("call %s: agent %s answered after the ACD gave up on them",
                        call.call_id, call.agent)
            if call.tracked:
                call.tracked = False
                self._submit(CallHungUp(call.call_id, "normal"))
            return
        if call.tracked:
            self._submit(AgentLegAnswered(call.call_id, call.agent))

    def _ended(self, call: _Call, ev: DialogEnded) -> None:
        if call.phase is _Phase.TALKING:
            self._counts["ended"] += 1
        self._forget(call)
        if call.tracked:
            self._submit(CallHungUp(call.call_id, "normal"))

    def link_lost(self) -> None:
        """The link to Kamailio is gone: whatever it reports meanwhile is lost, so nothing the
        ACD holds can be trusted to end. Every call ends in the switchboard (its agents are
        released); Kamailio's own timers end the transactions still waiting."""
        for call in list(self._calls.values()):
            self._forget(call)
            if call.tracked:
                self._submit(CallHungUp(call.call_id, "link-lost"))

    def _forget(self, call: _Call) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
        self._queued.pop(call.call_id, None)

    # -- switchboard commands -----------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        if isinstance(command, ConnectAgent):
            self._connect(command)
        elif isinstance(command, ParkWithMusic):
            if command.call_id in self._calls:
                self._parked.append(command.call_id)
        elif isinstance(command, CancelOffer):
            self._cancel_offer(command)
        elif isinstance(command, HangUp):
            self._final(command, command.call_id, command.cause)
        elif isinstance(command, Record):
            self._final(command, command.call_id, "voicemail", ended_by_us=True)
        elif isinstance(command, Redirect):
            self._forward(command)
        # Play, SetHold: nothing Kamailio's routing can do (no media on this path).

    def _waiting(self, call_id: str, command: PbxCommand) -> _Call | None:
        """The call, if a decision can go to Kamailio now; a decision for a call whose branch
        is still alive is kept for when it is suspended again."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        if call.phase is _Phase.TALKING:
            self._counts["unsupported"] += 1
            log.warning("call %s: %s for a connected call is not possible in evapi mode",
                        call_id, type(command).__name__)
            if isinstance(command, HangUp | Redirect):  # the switchboard is done with it
                call.tracked = False
            return None
        if not call.suspended:
            call.pending = command
            return None
        return call

    def _connect(self, cmd: ConnectAgent) -> None:
        call = self._waiting(cmd.call_id, cmd)
        if call is None:
            return
        if uri_scheme(cmd.endpoint) not in ("sip", "sips"):
            log.warning("agent %s: endpoint %r is not a SIP URI", cmd.agent_id, cmd.endpoint)
            self._submit(AgentLegFailed(cmd.call_id, cmd.agent_id, LegFailure.UNREACHABLE))
            return
        variables = dict(cmd.variables)
        queue = str(variables.pop("cti_queue", ""))
        variables.pop("cti_call_id", None)
        headers = [("X-CTI-Call-Id", cmd.call_id), ("X-CTI-Queue", queue),
                   ("X-CTI-Data", json.dumps(variables, separators=(",", ":"), default=str))]
        ring_ms = max(1000, round((cmd.timeout_s - self.options.ring_margin_s) * 1000))
        first_ms = min(ring_ms, max(1000, round(self.options.provisional_timeout_s * 1000)))
        payload = route_action(call.tindex, call.tlabel, cmd.call_id, cmd.endpoint,
                               agent=cmd.agent_id, headers=headers, fr_timer_ms=first_ms,
                               fr_inv_timer_ms=ring_ms)
        if not self._send(payload):
            # Too big for Kamailio's reader, or no link: without the data it may still go.
            payload = route_action(call.tindex, call.tlabel, cmd.call_id, cmd.endpoint,
                                   agent=cmd.agent_id, headers=headers[:2],
                                   fr_timer_ms=first_ms, fr_inv_timer_ms=ring_ms)
            if not self._send(payload):
                self._submit(AgentLegFailed(cmd.call_id, cmd.agent_id,
                                            LegFailure.UNREACHABLE))
                return
        self._counts["offered"] += 1
        call.suspended, call.phase, call.agent = False, _Phase.OFFERING, cmd.agent_id
        call.offer_cancelled = False
        self._queued.pop(cmd.call_id, None)
        self._submit(AgentLegRinging(cmd.call_id, cmd.agent_id))

    def _cancel_offer(self, cmd: CancelOffer) -> None:
        call = self._calls.get(cmd.call_id)
        if call is None:  # the caller went first (CANCEL): Kamailio cancelled the branch
            return
        pending = call.pending
        if isinstance(pending, ConnectAgent) and pending.agent_id == cmd.agent_id:
            call.pending = None  # never sent: nothing to cancel
            return
        if call.phase is _Phase.OFFERING and call.agent == cmd.agent_id \
                and not call.offer_cancelled:
            call.offer_cancelled = True
            self._counts["offers_cancelled"] += 1
            self._send(cancel_action(call.call_id, call.cseq))

    def end_step(self) -> None:
        """The switchboard's step is over: send 182 Queued to the calls it parked and did not
        offer an agent in the same step."""
        parked, self._parked = self._parked, []
        for call_id in parked:
            call = self._calls.get(call_id)
            # A call offered in the same step has its branch out already: only the 302's
            # equivalent, no 182.
            if call is None or not call.suspended or call.phase is not _Phase.WAITING:
                continue
            if call_id not in self._queued:
                self._counts["queued"] += 1
                self._queued[call_id] = None
            position = list(self._queued).index(call_id) + 1
            wait = round(position * self.options.wait_per_position_s)
            self._send(queued_action(call.tindex, call.tlabel, call_id,
                                     f"Queued position {position} expected wait {wait}s"))

    @property
    def step_pending(self) -> bool:
        return bool(self._parked)

    def _final(self, command: PbxCommand, call_id: str, cause: str, *,
               ended_by_us: bool = False) -> None:
        call = self._calls.get(call_id)
        if call is not None and call.phase is _Phase.OFFERING and not call.suspended:
            # The branch is still out (the core ended the call while it rang): cancel it and
            # answer the caller once Kamailio hands the transaction back.
            call.pending = command
            if not ended_by_us:  # a HangUp: the switchboard is done with the call
                call.tracked = False
            if not call.offer_cancelled:
                call.offer_cancelled = True
                self._counts["offers_cancelled"] += 1
                self._send(cancel_action(call.call_id, call.cseq))
            return
        call = self._waiting(call_id, command)
        if call is None:
            return
        status = self.options.responses.get(cause, self.options.default_status)
        self._counts["refused"] += 1
        self._forget(call)
        self._send_reply(call.tindex, call.tlabel, call_id, status)
        if ended_by_us and call.tracked:  # the switchboard still holds the call (voicemail)
            self._submit(CallHungUp(call_id, "normal"))

    def _forward(self, cmd: Redirect) -> None:
        call = self._waiting(cmd.call_id, cmd)
        if call is None:
            return
        target = cmd.destination
        if uri_scheme(target) is None:
            target = f"sip:{target}@{call.host or 'invalid'}"
        self._counts["forwarded"] += 1
        self._forget(call)
        self._send(route_action(call.tindex, call.tlabel, cmd.call_id, target))

    def _send_reply(self, tindex: int, tlabel: int, call_id: str, status: int) -> None:
        self._send(reply_action(tindex, tlabel, call_id, status, reason_phrase(status)))
