"""The switchboard: PBX events and agent commands in, PBX commands and notifications out.

One object owns every Trunk, Call, Agent and Queue machine and the ``acd.Router``. It is
synchronous and never reads a clock: ``handle(event, now)`` and ``on_timer(now)`` return an
``Output`` (commands for the PBX and the shell, notifications for subscribers), and
``next_deadline()`` says when ``on_timer`` is next due. The daemon drives it from asyncio, the
simulator from a virtual-time heap, tests and benchmarks directly: the same code in all three.

Events about calls the switchboard no longer knows (a hang-up that crossed our own hang-up, a
late answer to a withdrawn offer) are normal races: they are counted as ``stale_events`` and
otherwise ignored. Agent commands that their agent's state does not allow raise
``InvalidTransition``; commands naming unknown agents, queues or calls raise
``LocalProtocolError``. Either way nothing has changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from heapq import heappop, heappush
from typing import Any, Final, NamedTuple

import acd
from cti.core import _audit
from cti.core._fsm import Timed
from cti.core.agent import Agent, AgentInput, AgentState
from cti.core.call import Call, CallInput, CallState, Disposition
from cti.core.commands import (
    CancelOffer,
    Command,
    ConnectAgent,
    HangUp,
    LookupCustomer,
    ParkWithMusic,
    PromptFile,
    Record,
    Redirect,
    SetHold,
)
from cti.core.config import SwitchboardConfig, Target, TargetKind
from cti.core.errors import ConfigurationError, LocalProtocolError
from cti.core.events import (
    AgentLegAnswered,
    AgentLegFailed,
    AgentLegRinging,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    CallArrived,
    CallHungUp,
    CustomerLookupDone,
    DataLookupDone,
    DataLookupFailed,
    DigitsEntered,
    DigitsTimedOut,
    Event,
    ForceQueue,
    HoldCall,
    LegFailure,
    PromptDone,
    RecordingDone,
    RecordingStarted,
    TransferCall,
    WrapUpDone,
)
from cti.core.ivr_calls import IvrCalls, IvrRun
from cti.core.notifications import (
    AgentStateChanged,
    CallEnded,
    Notification,
    QueueStats,
    ScreenPop,
    TicketCreated,
)
from cti.core.queue import Queue, QueueState
from cti.core.statistics import SwitchboardStatistics
from cti.core.trunk import Trunk

__all__ = ["Output", "Switchboard"]

# Enum members the path of every call reads, as module globals: ``CallState.QUEUED`` goes
# through the hook of ``EnumType.__getattr__`` on every read (about 70 ns in Python 3.11), a
# global 4 ns, and one call's life reads a few dozen.
# ``Final``: compiled, they are C statics rather than lookups in the module's dict.
_OFFERED: Final = CallState.OFFERED
_CONNECTED: Final = CallState.CONNECTED
_CALLBACK: Final = CallState.CALLBACK
_IN_IVR: Final = CallState.IN_IVR
_SCREEN: Final = CallInput.SCREEN
_ENQUEUE: Final = CallInput.ENQUEUE
_OFFER: Final = CallInput.OFFER
_ANSWER: Final = CallInput.ANSWER
_HANGUP: Final = CallInput.HANGUP
_RESERVE: Final = AgentInput.RESERVE
_AGENT_ANSWER: Final = AgentInput.ANSWER
_AGENT_HANGUP: Final = AgentInput.HANGUP
_WRAP_UP_DONE: Final = AgentInput.WRAP_UP_DONE
_NOT_READY: Final = AgentState.NOT_READY
_ANSWERED: Final = Disposition.ANSWERED
_ABANDONED: Final = Disposition.ABANDONED
_CALLBACK_CANCELLED: Final = Disposition.CALLBACK_CANCELLED
_OPEN: Final = QueueState.OPEN

#: How many queue-to-queue hops (closed -> full -> ...) one call may take in one step.
_MAX_HOPS: Final = 8


class Output(NamedTuple):
    commands: list[Command]
    notifications: list[Notification]


#: ``Output(...)`` runs a generated Python ``__new__``; this builds the same tuple in C, once per
#: event handled.
_new_output: Final = tuple.__new__


class Switchboard:
    def __init__(
        self,
        config: SwitchboardConfig,
        *,
        now: float = 0.0,
        notify: Iterable[type[Notification]] | None = None,
        ticket_prefix: str = "T",
    ) -> None:
        """``ticket_prefix`` starts every ticket id; the daemon makes it unique per start, so
        ids never repeat across restarts."""
        config.validate()
        self.config = config
        self.router = acd.Router(seed=config.seed)
        wanted = set(notify) if notify is not None else None
        self._want_pop = wanted is None or ScreenPop in wanted
        self._want_state = wanted is None or AgentStateChanged in wanted
        self._want_stats = wanted is None or QueueStats in wanted
        self._want_ticket = wanted is None or TicketCreated in wanted
        self._want_cdr = wanted is None or CallEnded in wanted
        self._cmds: list[Command] = []
        self._notes: list[Notification] = []
        #: Machines, and IVR runs, by deadline.
        self._timers: list[tuple[float, int, Timed]] = []
        #: Machines armed since ``_timers`` was last brought up to date. Most deadlines are
        #: cleared within the step that set them (a reserve timeout by the answer, a wrap-up
        #: by the agent's wrap-up done), so they are pushed on the heap only if still set when
        #: the driver next asks for the deadline.
        self._armed: list[Timed] = []
        self._timer_seq = itertools.count()
        self._tickets = itertools.count(1)
        self._ticket_prefix = ticket_prefix
        self.queues: dict[str, Queue] = {}
        self.agents: dict[str, Agent] = {}
        self.calls: dict[str, Call] = {}
        self.trunks: dict[str, Trunk] = {}
        self.arrived = 0
        self.ended: dict[str, int] = {d.value: 0 for d in Disposition}
        self.stale_events = 0
        self._ivr = IvrCalls(self)
        self._apply_config(config, now)
        self._handlers: dict[type[Event], Callable[[Any, float], None]] = {
            CallArrived: self._on_arrived,
            CustomerLookupDone: self._on_lookup_done,
            AgentLegRinging: self._on_leg_ringing,
            AgentLegAnswered: self._on_leg_answered,
            AgentLegFailed: self._on_leg_failed,
            CallHungUp: self._on_hung_up,
            RecordingDone: self._on_recording_done,
            RecordingStarted: self._on_recording_started,
            AgentLogin: self._on_login,
            AgentLogout: self._on_logout,
            AgentReady: self._on_ready,
            AgentNotReady: self._on_not_ready,
            WrapUpDone: self._on_wrap_up_done,
            TransferCall: self._on_transfer,
            HoldCall: self._on_hold,
            ForceQueue: self._on_force_queue,
            PromptDone: self._ivr.on_prompt_done,
            DigitsEntered: self._ivr.on_digits,
            DigitsTimedOut: self._ivr.on_digits_timed_out,
            DataLookupDone: self._ivr.on_lookup_done,
            DataLookupFailed: self._ivr.on_lookup_failed,
        }

    # -- the driver's interface ------------------------------------------------------------

    def handle(self, event: Event, now: float) -> Output:
        """Apply one event; return what must be done and told as a result."""
        kind = type(event)
        # The four events of every call's life go straight to their handlers: compiled, that
        # is a C call, where the table costs a lookup and a call through Python's protocol.
        if kind is CallArrived:
            self._on_arrived(event, now)  # type: ignore[arg-type]
        elif kind is AgentLegAnswered:
            self._on_leg_answered(event, now)  # type: ignore[arg-type]
        elif kind is CallHungUp:
            self._on_hung_up(event, now)  # type: ignore[arg-type]
        elif kind is WrapUpDone:
            self._on_wrap_up_done(event, now)  # type: ignore[arg-type]
        else:
            handler = self._handlers.get(kind)
            if handler is None:
                raise LocalProtocolError(f"the switchboard does not handle {kind.__name__}")
            handler(event, now)
        out = _new_output(Output, (self._cmds, self._notes))
        self._cmds = []
        self._notes = []
        return out

    def next_deadline(self) -> float | None:
        armed = self._armed
        if armed:
            for machine in armed:
                if machine.deadline is not None:
                    self._push_armed()
                    break
            else:  # the usual case: every deadline armed in the step was cleared within it
                armed.clear()
        timers = self._timers
        while timers:
            when, _, machine = timers[0]
            if machine.deadline == when:
                break
            heappop(timers)
        mine = timers[0][0] if timers else None
        router = self.router.next_deadline()
        if mine is None:
            return router
        return mine if router is None or mine <= router else router

    def on_timer(self, now: float) -> Output:
        """Fire everything due by ``now``: deadlines of machines and skill stages relaxing."""
        timers = self._timers
        while True:
            if self._armed:  # a handler below may arm a deadline that is due already
                self._push_armed()
            if not timers or timers[0][0] > now:
                break
            when, _, machine = heappop(timers)
            if machine.deadline != when:
                continue
            machine.deadline = None
            if isinstance(machine, Agent):
                self._agent_deadline(machine, now)
            elif isinstance(machine, Call):
                self._call_deadline(machine, now)
            elif isinstance(machine, Queue):
                self._queue_deadline(machine, now)
            else:
                assert isinstance(machine, IvrRun)
                self._ivr.on_timer(machine, now)
        for match in self.router.on_timer(now):
            self._offer(match, now)
        return self._flush()

    def reconfigure(self, config: SwitchboardConfig, now: float) -> Output:
        """Adopt a new configuration (SIGHUP): queues get their new strategy, skills, limits
        and calendar in place, new queues and trunks appear, the roster and the IVR flows are
        replaced (for new calls: a call in a flow finishes its own). Calls in progress and
        logged-in agents stay as they are. A queue missing from the new
        configuration keeps running until its calls are done. Raises ``ConfigurationError``
        (nothing changed) if the configuration is invalid."""
        config.validate()
        self._apply_config(config, now)
        self.config = config
        return self._flush()

    def statistics(self, now: float) -> SwitchboardStatistics:
        return SwitchboardStatistics.of(self, now)

    def audit(self, now: float) -> list[str]:
        """Cross-check machines, router and counters (O(everything); tests and diagnostics)."""
        return _audit.audit(self, now)

    def _flush(self) -> Output:
        out = _new_output(Output, (self._cmds, self._notes))
        self._cmds = []
        self._notes = []
        return out

    # -- configuration ---------------------------------------------------------------------

    def _apply_config(self, config: SwitchboardConfig, now: float) -> None:
        for qc in config.queues:
            try:
                self.router.configure_queue(
                    qc.name, strategy=qc.strategy, options=qc.options, skills=qc.skills, now=now
                )
            except acd.ConfigError as exc:
                raise ConfigurationError(exc.entry, exc.problem) from exc
            queue = self.queues.get(qc.name)
            if queue is None:
                queue = self.queues[qc.name] = Queue(qc, now)
            else:
                queue.reconfigure(qc, now)
            self._arm(queue, queue.deadline)
        for tc in config.trunks:
            if tc.name not in self.trunks:
                self.trunks[tc.name] = Trunk(tc.name, tc.capacity, now)
            else:
                self.trunks[tc.name].capacity = tc.capacity
        self.trunks.setdefault("default", Trunk("default", None, now))
        self._roster = {a.agent_id: a for a in config.agents}
        #: Dialed number -> IVR flow; read once per arrival, and only when not empty.
        self._flows = config.flows

    # -- calls -----------------------------------------------------------------------------

    def _on_arrived(self, ev: CallArrived, now: float) -> None:
        if ev.call_id in self.calls:
            raise LocalProtocolError(f"call {ev.call_id!r} is already in progress")
        call = Call(ev.call_id, ev.caller, ev.dialed, ev.trunk, ev.data, now)
        call.skills = ev.skills
        self.calls[ev.call_id] = call
        self.arrived += 1
        cfg = self.config
        name = ev.queue or cfg.numbers.get(ev.dialed) or cfg.default_queue
        if name is not None and name not in self.queues:
            name = None
        trunk = self.trunks.get(ev.trunk) or self.trunks["default"]
        call.trunk = trunk.ident
        if not trunk.seize(now):
            if name is not None:  # the caller meant this queue: count it as blocked there
                queue = self.queues[name]
                queue.offered += 1
                queue.blocked += 1
                call.queue = name
            self._finish(call, CallInput.BLOCK, Disposition.BLOCKED, now, hangup="blocked")
            return
        call.has_channel = True
        if ev.caller in cfg.blacklist:
            self._finish(call, CallInput.REJECT, Disposition.REJECTED, now, hangup="rejected")
            return
        if self._flows and ev.queue is None:  # only a site with IVR flows pays for this
            flow = self._flows.get(ev.dialed)
            if flow is not None:
                self._ivr.admit(call, flow, name, ev.priority, now)
                return
        if name is None:
            self._finish(call, CallInput.REJECT, Disposition.REJECTED, now, hangup="no-route")
            return
        call.queue = name
        call.priority = (
            ev.priority if ev.priority is not None else self.queues[name].config.priority
        )
        if cfg.customer_lookup:
            self._cmds.append(LookupCustomer(call.ident, call.caller))
            self._arm(call, now + cfg.lookup_timeout_s)
            return
        call.fire(_SCREEN, now)  # _screened, inlined: every call takes this path
        self._enter_queue(call, name, _ENQUEUE, now)

    def _on_lookup_done(self, ev: CustomerLookupDone, now: float) -> None:
        call = self.calls.get(ev.call_id)
        if call is None or call.state is not CallState.ARRIVED:
            self.stale_events += 1  # the answer came after the lookup timeout
            return
        record = ev.record
        call.data.update(ev.data)
        if record is not None:
            call.customer = record
            call.data["customer_id"] = record.customer_id
            if record.vip:
                call.priority += self.config.vip_priority_boost
            call.preferred_agent = record.account_manager
        self._screened(call, now)

    def _screened(self, call: Call, now: float) -> None:
        call.fire(CallInput.SCREEN, now)
        if self._ivr.pending and self._ivr.screened(call, now):
            return
        assert call.queue is not None
        self._enter_queue(call, call.queue, CallInput.ENQUEUE, now)

    def _enter_queue(
        self, call: Call, name: str, via: CallInput, now: float, hops: int = 0
    ) -> None:
        """Offer ``call`` to queue ``name``; it waits there, or goes where the queue sends it."""
        queue = self.queues[name]
        cfg = queue.config
        queue.offered += 1
        if queue.state is not _OPEN:
            queue.blocked += 1
            self._divert(call, cfg.on_closed, Disposition.CLOSED, now, hops)
            return
        if cfg.max_size is not None and self.router.waiting(name) >= cfg.max_size:
            queue.blocked += 1
            self._divert(call, cfg.on_full, Disposition.BLOCKED, now, hops)
            return
        call.fire(via, now)
        call.queue = name
        call.agent_id = None
        enqueued_at = call.enqueued_at
        if enqueued_at is None:
            enqueued_at = call.enqueued_at = now
        call.entered_at = now
        call.pending_in = name
        queue.in_progress += 1
        if cfg.max_wait_s is None:
            call.max_wait_at = call.deadline = None  # an overflow does not clear it by itself
        else:
            call.max_wait_at = now + cfg.max_wait_s
            self._arm(call, call.max_wait_at)
        self._cmds.append(ParkWithMusic(call.ident, cfg.music))
        match = self.router.submit(
            call.ident, queue=name, now=now, priority=call.priority,
            enqueued_at=enqueued_at, skills=call.skills,
            preferred_agent=call.preferred_agent,
        )
        if match is not None:
            self._offer(match, now)
        elif self._want_stats:
            self._queue_stats(queue, now)

    def _divert(
        self, call: Call, target: Target, why: Disposition, now: float, hops: int
    ) -> None:
        """Send a call its queue will not keep to ``target`` (another queue, voicemail, ...)."""
        kind = target.kind
        if kind is TargetKind.QUEUE and hops < _MAX_HOPS:
            via = CallInput.OVERFLOW if call.state is CallState.QUEUED else CallInput.ENQUEUE
            self._enter_queue(call, target.value, via, now, hops + 1)
        elif kind is TargetKind.VOICEMAIL:
            call.fire(CallInput.VOICEMAIL, now)
            self._cmds.append(Record(call.ident))
        elif kind is TargetKind.CALLBACK:  # only on max wait: the call keeps its router entry
            call.fire(CallInput.CALLBACK, now)
            self._start_callback(call, now)
        elif kind is TargetKind.NUMBER:
            self._finish(call, CallInput.TRANSFER_OUT, Disposition.TRANSFERRED, now,
                         redirect=target.value)
        else:
            cause = why.value if why is not Disposition.BLOCKED else "queue-full"
            self._finish(call, CallInput.DISCONNECT, why, now, hangup=cause)

    def _start_callback(self, call: Call, now: float, number: str | None = None,
                        prompt: PromptFile | None = None) -> None:
        """The caller keeps their place and hangs up (after ``prompt``: an IVR's confirmation);
        the call is dialled out to ``number`` (default: the caller) at the head of the line."""
        call.callback_number = number or call.caller
        self._cmds.append(HangUp(call.ident, "callback-scheduled", prompt))
        self._release_channel(call, now)
        if self._want_ticket:
            self._notes.append(TicketCreated(
                f"{self._ticket_prefix}{next(self._tickets)}", "callback", call.ident,
                call.caller, call.queue, now, dict(call.data),
            ))

    def _offer(self, match: acd.Match, now: float) -> None:
        """The router chose: reserve the agent, ring them, and pop the call on their screen."""
        call = self.calls[match.call_id]
        agent = self.agents[match.agent_id]
        if self._want_state:
            self._agent_fire(agent, _RESERVE, now)
        else:  # the hot path: nobody listens for agent states
            agent.fire(_RESERVE, now)
        self._offer_to(call, agent, _OFFER, now)

    def _offer_to(self, call: Call, agent: Agent, via: CallInput, now: float) -> None:
        call_id, agent_id, name = call.ident, agent.ident, call.queue
        assert name is not None
        call.agent_id = agent_id  # before firing, so the phase names the agent
        call.fire(via, now)
        call.offers += 1
        agent.call_id = call_id
        agent.offered += 1
        agent.offered_at = now
        agent.last_queue = name
        agent.deadline = now + self.config.ring.reserve_timeout_s  # _arm, inlined
        self._armed.append(agent)
        queue = self.queues[name]
        data = call.data
        variables: dict[str, object] = {"cti_call_id": call_id, "cti_queue": name}
        if data:
            variables.update(data)
        self._cmds.append(ConnectAgent(
            call_id, agent_id, agent.endpoint, queue.config.ring_timeout_s, variables,
            call.callback_number,
        ))
        if self._want_pop:
            self._notes.append(ScreenPop(
                agent_id, call_id, call.caller, call.dialed, name,
                now - (call.enqueued_at if call.enqueued_at is not None else now),
                dict(data), call.customer, now, call.transferred_from,
            ))
        if self._want_stats:
            self._queue_stats(queue, now)

    def _held_call(self, call_id: str, agent_id: str) -> tuple[Call, Agent] | None:
        """The call and agent of an offer still in progress, or None for a stale event."""
        call = self.calls.get(call_id)
        agent = self.agents.get(agent_id)
        if (
            call is None or agent is None or agent.call_id != call_id
            or call.agent_id != agent_id or call.state is not CallState.OFFERED
        ):
            self.stale_events += 1
            return None
        return call, agent

    def _on_leg_ringing(self, ev: AgentLegRinging, now: float) -> None:
        held = self._held_call(ev.call_id, ev.agent_id)
        if held is None:
            return
        call, agent = held
        if agent.state is not AgentState.RESERVED:
            self.stale_events += 1
            return
        self._agent_fire(agent, AgentInput.OFFER, now)
        assert call.queue is not None
        self._arm(agent, agent.offered_at + self.queues[call.queue].config.ring_timeout_s)

    def _on_leg_answered(self, ev: AgentLegAnswered, now: float) -> None:
        call_id, agent_id = ev.call_id, ev.agent_id
        call = self.calls.get(call_id)  # _held_call, inlined: every call is answered
        agent = self.agents.get(agent_id)
        if (
            call is None or agent is None or agent.call_id != call_id
            or call.agent_id != agent_id or call.state is not _OFFERED
        ):
            self.stale_events += 1
            return
        if self._want_state:
            self._agent_fire(agent, _AGENT_ANSWER, now)
        else:  # the hot path: nobody listens for agent states
            agent.fire(_AGENT_ANSWER, now)
        agent.misses = 0
        agent.answered += 1
        agent.talk_since = now
        self.router.record_answer(agent_id)
        call.fire(_ANSWER, now)
        # The customer is on the line again: from here on it is an ordinary call, and a
        # transfer must not dial them a second time.
        call.callback_number = None
        if call.answered_at is None:
            call.answered_at = now
        name = call.pending_in
        if name is not None:
            queue = self.queues[name]
            call.pending_in = None
            queue.in_progress -= 1
            queue.answered += 1
            assert call.entered_at is not None
            waited = now - call.entered_at
            queue.wait_answered_s += waited
            queue.max_wait_s = max(queue.max_wait_s, waited)
            if waited <= queue.config.service_level_s:
                queue.answered_in_sl += 1
        call.max_wait_at = None

    def _on_leg_failed(self, ev: AgentLegFailed, now: float) -> None:
        held = self._held_call(ev.call_id, ev.agent_id)
        if held is None:
            return
        self._ring_failed(*held, ev.cause, now)

    def _ring_failed(self, call: Call, agent: Agent, cause: LegFailure, now: float) -> None:
        """The agent did not take the offer: rest them (or stop them), requeue the call."""
        ring = self.config.ring
        agent.misses += 1
        agent.missed += 1
        agent.call_id = None
        limit = agent.misses >= ring.max_misses
        self._agent_fire(agent, AgentInput.RING_FAILED, now,
                         reason="no-answer" if limit else f"retry-{cause.value}")
        if not limit:
            self._arm(agent, now + ring.retry_s.get(cause, 0.0))
        self._apply_pending(agent, now)
        self._requeue(call, now)

    def _requeue(self, call: Call, now: float) -> None:
        """An offer failed: the call goes back to waiting with its original enqueue time."""
        call.agent_id = None
        if call.callback_number is not None:
            call.fire(CallInput.CALLBACK, now)
        else:
            call.fire(CallInput.OFFER_FAILED, now)
            self._arm(call, call.max_wait_at)
        assert call.queue is not None
        if call.pending_in is None:  # a transfer to an agent fell through: back to its queue
            queue = self.queues[call.queue]
            queue.offered += 1
            queue.in_progress += 1
            call.pending_in = call.queue
            call.entered_at = now
        match = self.router.submit(
            call.ident, queue=call.queue, now=now, priority=call.priority,
            enqueued_at=call.enqueued_at, skills=call.skills,
            preferred_agent=call.preferred_agent,
        )
        if match is not None:
            self._offer(match, now)

    def _on_hung_up(self, ev: CallHungUp, now: float) -> None:
        call = self.calls.get(ev.call_id)
        if call is None:
            self.stale_events += 1
            return
        state = call.state
        if state is _CALLBACK or (
            state is _OFFERED and call.callback_number is not None
        ):
            # The caller's leg we released ourselves to schedule the callback; while the
            # callback is offered the customer has not been dialled yet, so no other leg exists.
            return
        if state is _CONNECTED:
            agent = self.agents[call.agent_id] if call.agent_id else None
            if agent is not None:
                self._end_talk(agent, call, _AGENT_HANGUP, now)
            self._finish(call, _HANGUP, _ANSWERED, now)
            return
        if state is CallState.VOICEMAIL:
            self._voicemail_ticket(call, "", now)
            self._finish(call, _HANGUP, Disposition.VOICEMAIL, now)
            return
        if state is CallState.QUEUED:
            self.router.withdraw(call.ident)
        elif state is _OFFERED and call.agent_id is not None:
            agent = self.agents[call.agent_id]
            self._cmds.append(CancelOffer(call.ident, agent.ident))
            agent.call_id = None
            self._agent_fire(agent, AgentInput.CALLER_GONE, now)
            self._released(agent, now)
        elif state is _IN_IVR:
            self._ivr.hung_up(call, now)
            return
        elif self._ivr.pending:  # gone during the customer lookup, before its flow
            self._ivr.forget(call.ident)
        answered = call.answered_at is not None
        self._finish(call, _HANGUP,
                     _ANSWERED if answered else Disposition.ABANDONED, now)

    def _on_recording_done(self, ev: RecordingDone, now: float) -> None:
        call = self.calls.get(ev.call_id)
        if call is None or call.state is not CallState.VOICEMAIL:
            self.stale_events += 1
            return
        self._voicemail_ticket(call, ev.location, now)
        self._finish(call, CallInput.RECORDED, Disposition.VOICEMAIL, now, hangup="normal")

    def _on_recording_started(self, ev: RecordingStarted, now: float) -> None:
        call = self.calls.get(ev.call_id)
        if call is None:
            self.stale_events += 1
            return
        # In the data, so the call record (and the store's row) says where the conversation
        # is; a transfer that starts a second recording keeps the first one's place.
        call.data.setdefault("recording", ev.location)

    def _voicemail_ticket(self, call: Call, location: str, now: float) -> None:
        if self._want_ticket:
            data = dict(call.data)
            data["recording"] = location
            self._notes.append(TicketCreated(
                f"{self._ticket_prefix}{next(self._tickets)}", "voicemail", call.ident,
                call.caller, call.queue, now, data,
            ))

    def _finish(
        self, call: Call, inp: CallInput, disposition: Disposition, now: float,
        hangup: str | None = None, redirect: str | None = None,
    ) -> None:
        """End a call: close its queue accounts, release its channel, publish its record."""
        call.fire(inp, now)
        name = call.pending_in
        if name is not None:
            queue = self.queues[name]
            call.pending_in = None
            queue.in_progress -= 1
            assert call.entered_at is not None
            # A caller hanging up while waiting abandoned this queue, even if an earlier agent
            # answered before transferring the call here.
            if inp is _HANGUP or disposition in (
                _ABANDONED, _CALLBACK_CANCELLED
            ):
                queue.abandoned += 1
                queue.wait_abandoned_s += now - call.entered_at
            else:  # left unanswered for elsewhere: voicemail, an outside number, hang-up
                queue.overflowed += 1
        call.disposition = disposition
        if hangup is not None:
            self._cmds.append(HangUp(call.ident, hangup))
        if redirect is not None:
            self._cmds.append(Redirect(call.ident, redirect))
        if call.has_channel:
            call.has_channel = False
            self.trunks[call.trunk].release(now)
        del self.calls[call.ident]
        self.ended[disposition._value_] += 1  # not ``.value``: see Call.fire
        if self._want_cdr:
            self._notes.append(CallEnded(call.record(now)))

    def _release_channel(self, call: Call, now: float) -> None:
        if call.has_channel:
            call.has_channel = False
            self.trunks[call.trunk].release(now)

    def _call_deadline(self, call: Call, now: float) -> None:
        if call.state is CallState.ARRIVED:  # the customer lookup did not answer in time
            self._screened(call, now)
        elif call.state is CallState.QUEUED and call.max_wait_at is not None:
            assert call.queue is not None
            queue = self.queues[call.queue]
            target = queue.config.on_max_wait
            call.max_wait_at = None
            if target.kind is TargetKind.CALLBACK:
                self._divert(call, target, Disposition.TIMEOUT, now, 0)
                return
            self.router.withdraw(call.ident)
            queue.in_progress -= 1
            queue.overflowed += 1
            call.pending_in = None
            self._divert(call, target, Disposition.TIMEOUT, now, 0)

    # -- agents ----------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise LocalProtocolError(f"unknown agent {agent_id!r}")
        return agent

    def _agent_fire(
        self, agent: Agent, inp: AgentInput, now: float, reason: str | None = None
    ) -> None:
        if not self._want_state:
            agent.fire(inp, now)
            if reason and agent.state is _NOT_READY:
                agent.reason = reason
            return
        prev_state, prev_reason = agent.state, agent.reason
        agent.fire(inp, now)
        if agent.state is _NOT_READY:
            agent.reason = reason or agent.reason
        if agent.state is not prev_state or agent.reason != prev_reason:
            self._notes.append(AgentStateChanged(
                agent.ident, agent.state.value, prev_state.value, agent.reason, now,
            ))

    def _agent_free(self, agent: Agent, now: float) -> None:
        """The agent has just become READY: let the router give them a call."""
        match = self.router.make_available(agent.ident, now=now)
        if match is not None:
            self._offer(match, now)

    def _released(self, agent: Agent, now: float) -> None:
        """An offer ended without a call (the caller left): the agent is READY again, unless
        they asked for a break or to leave while it rang."""
        pending = agent.pending
        agent.pending = None
        if pending is None:
            self._agent_free(agent, now)
        elif pending[0] == "logout":
            self._agent_fire(agent, AgentInput.LOGOUT, now)
            for match in self.router.logout(agent.ident, now=now):
                self._offer(match, now)
        else:
            self._agent_fire(agent, AgentInput.NOT_READY, now, reason=pending[1])

    def _on_login(self, ev: AgentLogin, now: float) -> None:
        roster = self._roster.get(ev.agent_id)
        skills = ev.skills if ev.skills is not None else (roster.skills if roster else None)
        queues = ev.queues if ev.queues is not None else (roster.queues if roster else None)
        if skills is None or queues is None:
            raise LocalProtocolError(
                f"agent {ev.agent_id!r} is not in the roster: log in with skills and queues"
            )
        agent = self.agents.get(ev.agent_id)
        if agent is None:
            agent = Agent(ev.agent_id, roster.endpoint if roster else "", now)
        elif not agent.can(AgentInput.LOGIN):
            agent.fire(AgentInput.LOGIN, now)  # raises InvalidTransition, nothing changed
        for name in queues:
            if name not in self.queues:
                raise LocalProtocolError(
                    f"agent {ev.agent_id!r} logs in to unknown queue {name!r}"
                )
        try:
            self.router.login(ev.agent_id, skills=skills, queues=queues, now=now)
        except acd.ConfigError as exc:  # a login command's bad skills: the caller's mistake
            raise LocalProtocolError(f"{exc.entry}: {exc.problem}") from exc
        self.agents[ev.agent_id] = agent
        agent.skills = dict(skills)
        agent.queues = tuple(queues)
        agent.pending = None
        agent.misses = 0
        self._agent_fire(agent, AgentInput.LOGIN, now, reason="login")

    def _on_logout(self, ev: AgentLogout, now: float) -> None:
        agent = self._agent(ev.agent_id)
        if agent.busy and agent.state is not AgentState.WRAP_UP:
            agent.fire(AgentInput.LOGOUT, now)  # a self-loop: remembered for after the call
            agent.pending = ("logout", None)
            return
        self._logout(agent, now)

    def _logout(self, agent: Agent, now: float) -> None:
        prev = agent.state
        self._agent_fire(agent, AgentInput.LOGOUT, now)
        if prev is AgentState.READY:
            self.router.make_unavailable(agent.ident)
        elif prev is AgentState.WRAP_UP:  # after the fire, which closed the wrap-up seconds
            self._wrap_up_ended(agent)
        agent.pending = None
        for match in self.router.logout(agent.ident, now=now):
            self._offer(match, now)

    def _on_ready(self, ev: AgentReady, now: float) -> None:
        agent = self._agent(ev.agent_id)
        if agent.state is AgentState.READY:
            return  # already ready: nothing to do, and not an error
        prev = agent.state
        self._agent_fire(agent, AgentInput.READY, now)
        agent.pending = None
        if prev is AgentState.WRAP_UP:
            self._wrap_up_ended(agent)
        self._agent_free(agent, now)

    def _on_not_ready(self, ev: AgentNotReady, now: float) -> None:
        agent = self._agent(ev.agent_id)
        if agent.state in (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL):
            agent.fire(AgentInput.NOT_READY, now)  # a self-loop: remembered for after the call
            agent.pending = ("not-ready", ev.reason)
            return
        prev = agent.state
        self._agent_fire(agent, AgentInput.NOT_READY, now, reason=ev.reason)
        agent.deadline = None  # an explicit not-ready cancels any automatic return
        if prev is AgentState.READY:
            self.router.make_unavailable(agent.ident)
        elif prev is AgentState.WRAP_UP:
            self._wrap_up_ended(agent)

    def _on_wrap_up_done(self, ev: WrapUpDone, now: float) -> None:
        agent = self._agent(ev.agent_id)
        if agent.state is not AgentState.WRAP_UP:
            agent.fire(AgentInput.WRAP_UP_DONE, now)  # raises InvalidTransition
        self._end_wrap_up(agent, now)

    def _end_wrap_up(self, agent: Agent, now: float) -> None:
        pending = agent.pending
        if pending is not None and pending[0] == "logout":
            self._logout(agent, now)
        elif pending is not None:
            self._agent_fire(agent, AgentInput.NOT_READY, now, reason=pending[1])
            agent.pending = None
            self._wrap_up_ended(agent)
        else:
            if self._want_state:
                self._agent_fire(agent, _WRAP_UP_DONE, now)
            else:  # the hot path: nobody listens for agent states
                agent.fire(_WRAP_UP_DONE, now)
            self._wrap_up_ended(agent)
            match = self.router.make_available(agent.ident, now=now)  # _agent_free, inlined
            if match is not None:
                self._offer(match, now)

    def _wrap_up_ended(self, agent: Agent) -> None:
        """Close the handle-time account of the call the agent has just finished with."""
        name = agent.last_queue
        if name is not None:
            queue = self.queues.get(name)
            if queue is not None:
                queue.handled += 1
                queue.wrap_up_s += agent.wrap_up_s - agent.wrap_booked
        agent.wrap_booked = agent.wrap_up_s
        agent.last_queue = None

    def _apply_pending(self, agent: Agent, now: float) -> None:
        """After a failed offer the agent is NOT_READY: a remembered request applies now."""
        pending = agent.pending
        agent.pending = None
        if pending is None:
            return
        if pending[0] == "logout":
            self._logout(agent, now)
        else:
            self._agent_fire(agent, AgentInput.NOT_READY, now, reason=pending[1])
            agent.deadline = None

    def _end_talk(self, agent: Agent, call: Call, inp: AgentInput, now: float) -> None:
        """The agent's conversation ended (hang-up or transfer): talk time, then wrap-up."""
        talk = now - agent.talk_since
        agent.talk_s += talk
        self.router.record_talk(agent.ident, talk)
        name = agent.last_queue or call.queue
        assert name is not None
        queue = self.queues[name]
        queue.talk_s += talk
        agent.call_id = None
        agent.on_hold = False
        if self._want_state:
            self._agent_fire(agent, inp, now)
        else:  # the hot path: nobody listens for agent states
            agent.fire(inp, now)
        agent.deadline = now + queue.config.wrap_up_s  # _arm, inlined
        self._armed.append(agent)

    def _on_transfer(self, ev: TransferCall, now: float) -> None:
        agent = self._agent(ev.agent_id)
        targets = [t for t in (ev.to_queue, ev.to_agent, ev.to_number) if t]
        if len(targets) != 1:
            raise LocalProtocolError(
                "a transfer names exactly one of to_queue, to_agent, to_number"
            )
        if not agent.can(AgentInput.TRANSFER) or agent.call_id is None:
            agent.fire(AgentInput.TRANSFER, now)  # raises InvalidTransition
        assert agent.call_id is not None
        call = self.calls[agent.call_id]
        if ev.to_queue is not None:
            queue = self.queues.get(ev.to_queue)
            if queue is None:
                raise LocalProtocolError(f"unknown queue {ev.to_queue!r}")
            if not queue.is_open:
                raise LocalProtocolError(f"queue {ev.to_queue!r} is closed")
            full = queue.config.max_size
            if full is not None and self.router.waiting(ev.to_queue) >= full:
                raise LocalProtocolError(f"queue {ev.to_queue!r} is full")
        target_agent = None
        if ev.to_agent is not None:
            target_agent = self._agent(ev.to_agent)
            if target_agent.state is not AgentState.READY:
                raise LocalProtocolError(f"agent {ev.to_agent!r} is not ready")
        call.transferred_from = agent.ident
        self._end_talk(agent, call, AgentInput.TRANSFER, now)
        if ev.to_queue is not None:
            self._enter_queue(call, ev.to_queue, CallInput.TRANSFER_QUEUE, now)
        elif target_agent is not None:
            self.router.make_unavailable(target_agent.ident)
            self._agent_fire(target_agent, AgentInput.RESERVE, now)
            self._offer_to(call, target_agent, CallInput.TRANSFER_AGENT, now)
        else:
            assert ev.to_number is not None
            self._finish(call, CallInput.TRANSFER_OUT, Disposition.TRANSFERRED, now,
                         redirect=ev.to_number)

    def _on_force_queue(self, ev: ForceQueue, now: float) -> None:
        queue = self.queues.get(ev.queue)
        if queue is None:
            raise LocalProtocolError(f"unknown queue {ev.queue!r}")
        queue.override = ev.open
        queue.on_calendar(now)
        self._arm(queue, queue.deadline)
        if self._want_stats:
            self._queue_stats(queue, now)

    def _on_hold(self, ev: HoldCall, now: float) -> None:
        agent = self._agent(ev.agent_id)
        agent.fire(AgentInput.HOLD, now)
        agent.on_hold = ev.hold
        assert agent.call_id is not None
        self._cmds.append(SetHold(agent.call_id, ev.hold))

    def _agent_deadline(self, agent: Agent, now: float) -> None:
        state = agent.state
        if state is AgentState.RESERVED or state is AgentState.RINGING:
            call = self.calls[agent.call_id] if agent.call_id else None
            if call is not None:
                self._cmds.append(CancelOffer(call.ident, agent.ident))
                cause = LegFailure.NO_ANSWER if state is AgentState.RINGING else (
                    LegFailure.UNREACHABLE)
                self._ring_failed(call, agent, cause, now)
        elif state is AgentState.WRAP_UP:
            self._end_wrap_up(agent, now)
        elif state is AgentState.NOT_READY:
            self._agent_fire(agent, AgentInput.TIMEOUT, now)
            self._agent_free(agent, now)

    # -- queues and timers -----------------------------------------------------------------

    def _queue_deadline(self, queue: Queue, now: float) -> None:
        if queue.on_calendar(now) and self._want_stats:
            self._queue_stats(queue, now)
        self._arm(queue, queue.deadline)

    def _queue_stats(self, queue: Queue, now: float) -> None:
        self._notes.append(QueueStats(
            queue.ident, queue.is_open, self.router.waiting(queue.ident), now,
        ))

    def _arm(self, machine: Timed, when: float | None) -> None:
        machine.deadline = when
        if when is not None:
            self._armed.append(machine)

    def _push_armed(self) -> None:
        """Put the deadlines still set of the machines armed lately on the timer heap."""
        armed = [m for m in self._armed if m.deadline is not None]
        self._armed.clear()
        if len(armed) > 1:  # keep each machine's last arming, so ties fire in arming order
            seen: set[Timed] = set()
            last = []
            for machine in reversed(armed):
                if machine not in seen:
                    seen.add(machine)
                    last.append(machine)
            last.reverse()
            armed = last
        timers = self._timers
        seq = self._timer_seq
        for machine in armed:
            when = machine.deadline
            assert when is not None
            heappush(timers, (when, next(seq), machine))
