"""Calls in an IVR flow: the switchboard's part in running ``ivr`` sessions.

Theory of operation. A call whose dialed number has a flow (``SwitchboardConfig.flows``) and that
did not arrive routed already (``CallArrived.queue``) is screened as any call is (trunk,
blacklist, customer lookup), then goes SCREENED -> IN_IVR with an ``IvrRun``: its session and
what the switchboard keeps beside it. The session's actions become outputs:

    Play, CollectDigits   PlayPrompt, CollectDigits (PBX), prompts with the catalogue's files
    Lookup                LookupData (the shell answers DataLookupDone or DataLookupFailed)
    Enqueue               the queue, with the flow's priority, skills (stages relaxing) and
                          data; its announcements and its own max wait are the run's timers
    Voicemail             VOICEMAIL and Record; the voicemail ticket as for any voicemail
    Callback              a place in line (kept, or from now), CALLBACK, the existing callback
    Transfer              TRANSFER_OUT and Redirect
    HangUp                FINISH (self-service for cause ``normal``, else ``ivr-failed``) and
                          HangUp carrying the goodbye prompt

and the PBX's answers (``PromptDone``, ``DigitsEntered``, ``DigitsTimedOut``) and the shell's go
back to the session. A caller who hangs up in the flow ends ``ivr-abandoned``.

An ``IvrRun`` is a timed object on the switchboard's timer heap, like the machines: its
``deadline`` is the session's (a prompt's end, a collection's timeout, a lookup's) while the
call is in the flow, and the next announcement or the flow's max wait while it waits in line.
A run outlives the flow only for those two; it is dropped when its call moves on (answered,
ended), at the latest when its next timer finds the call gone, so nothing per call stays behind.

What the flow collected (its variables and the path of node ids, ``Session.attached``) joins the
call's data when it leaves the flow, with ``ivr_exit`` (how it left), so screen pops, tickets
and call records carry it.

While an agent is being rung for a call (OFFERED), the flow does not move: its inputs are stale
and its timers wait for the offer's outcome, so a caller is never in a menu and at an agent's
phone at once.

``ivr`` (and through its flow schema, pydantic) is imported only once a call meets a flow: a site
without flows loads none of it, and neither does ``import cti.core``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import acd
from cti.core.agent import AgentState
from cti.core.call import Call, CallInput, CallState, Disposition
from cti.core.commands import (
    Announce,
    CollectDigits,
    HangUp,
    LookupCustomer,
    LookupData,
    ParkWithMusic,
    PlayPrompt,
    PromptFile,
    Record,
    SayValue,
)
from cti.core.events import (
    DataLookupDone,
    DataLookupFailed,
    DigitsEntered,
    DigitsTimedOut,
    PromptDone,
)

if TYPE_CHECKING:
    import ivr
    from cti.core.switchboard import Switchboard

__all__ = ["IvrCalls", "IvrRun"]

_IN_IVR, _QUEUED, _OFFERED = CallState.IN_IVR, CallState.QUEUED, CallState.OFFERED
#: How long an agent-count estimate for the expected wait is reused.
_SERVING_TTL_S = 30.0

SkillKey = tuple[tuple[float, tuple[tuple[str, int], ...]], ...]


class IvrRun:
    """One call's session and the timers the switchboard keeps for it."""

    __slots__ = ("announce", "announce_at", "call", "deadline", "home", "max_wait_at",
                 "session", "step")

    def __init__(self, call: Call, session: ivr.Session, home: str | None) -> None:
        self.call = call
        self.session = session
        #: The queue the dialed number routes to: an ``Enqueue`` without a queue goes there.
        self.home = home
        #: The run's next timer (the heap reads it like a machine's).
        self.deadline: float | None = None
        #: Media commands sent (``PlayPrompt``, ``CollectDigits``): the ``step`` of the last one.
        self.step = 0
        self.announce: ivr.Announcements | None = None
        self.announce_at: float | None = None
        #: The flow's own max wait (``Enqueue.max_wait_s``), replacing the queue's.
        self.max_wait_at: float | None = None


class IvrCalls:
    """The calls of one switchboard that are in a flow, or in line with a flow's timers."""

    def __init__(self, switchboard: Switchboard) -> None:
        # A part of the switchboard split out for size: it works on the switchboard's own
        # outputs, timers and queue accounts, as the switchboard's methods do.
        self.sb = switchboard
        self.runs: dict[str, IvrRun] = {}
        #: Calls waiting for their customer lookup before they enter their flow.
        self.pending: dict[str, tuple[ivr.Flow, str | None]] = {}
        self._schedules: dict[SkillKey, acd.SkillSchedule] = {}
        self._prompts: dict[tuple[ivr.Flow, str], PromptFile] = {}
        self._serving: dict[str, tuple[float, int]] = {}

    # -- entering a flow -------------------------------------------------------------------

    def admit(self, call: Call, flow: ivr.Flow, home: str | None, priority: float | None,
              now: float) -> None:
        """A call for ``flow`` passed the trunk and the blacklist: screen it, then start."""
        sb = self.sb
        call.queue = home
        if home is not None:
            call.priority = priority if priority is not None else (
                sb.queues[home].config.priority)
        cfg = sb.config
        if cfg.customer_lookup:
            self.pending[call.ident] = (flow, home)
            sb._cmds.append(LookupCustomer(call.ident, call.caller))
            sb._arm(call, now + cfg.lookup_timeout_s)
            return
        call.fire(CallInput.SCREEN, now)
        self._start(call, flow, home, now)

    def screened(self, call: Call, now: float) -> bool:
        """The call's customer lookup is over (answered or timed out) and the call is SCREENED:
        True if it goes into a flow now."""
        pending = self.pending.pop(call.ident, None)
        if pending is None:
            return False
        self._start(call, pending[0], pending[1], now)
        return True

    def forget(self, call_id: str) -> None:
        """The caller hung up during the customer lookup, before the flow."""
        self.pending.pop(call_id, None)

    def _start(self, call: Call, flow: ivr.Flow, home: str | None, now: float) -> None:
        call.fire(CallInput.START_IVR, now)
        variables: dict[str, object] = dict(call.data)
        variables.update(caller=call.caller, dialed=call.dialed, call_id=call.ident)
        customer = call.customer
        if customer is not None:
            variables["customer"] = {
                **customer.data, "customer_id": customer.customer_id, "name": customer.name,
                "vip": customer.vip, "account_manager": customer.account_manager,
            }
        session, actions = flow.start(call.ident, variables, now, hours=self._hours)
        run = self.runs[call.ident] = IvrRun(call, session, home)
        self._carry_out(run, actions, now)

    def _hours(self, queue: str, now: float) -> Literal["open", "closed", "holiday"]:
        """A flow's ``hours`` node: the queue's state as the switchboard keeps it (calendar and
        supervisor override), and whether a closed day is one of its holidays."""
        q = self.sb.queues.get(queue)
        if q is None or q.is_open:
            return "open"
        calendar = q.config.calendar
        if calendar.holidays:
            day = datetime.fromtimestamp(now, ZoneInfo(calendar.timezone)).date()
            if day in calendar.holidays:
                return "holiday"
        return "closed"

    # -- what the PBX and the shell report -------------------------------------------------

    def _live(self, call_id: str, step: int | None) -> IvrRun | None:
        """The run an input is for, if the flow may take it now; else None (counted stale)."""
        run = self.runs.get(call_id)
        if run is not None and (step is None or step == run.step):
            call = run.call
            state = call.state
            if self.sb.calls.get(call_id) is call and (state is _IN_IVR or state is _QUEUED):
                return run
        self.sb.stale_events += 1
        return None

    def on_prompt_done(self, ev: PromptDone, now: float) -> None:
        run = self._live(ev.call_id, ev.step)
        if run is not None:
            self._carry_out(run, run.session.on_playback_done(now), now)

    def on_digits(self, ev: DigitsEntered, now: float) -> None:
        run = self._live(ev.call_id, ev.step)
        if run is not None:
            self._carry_out(run, run.session.on_digits(ev.digits, now), now)

    def on_digits_timed_out(self, ev: DigitsTimedOut, now: float) -> None:
        run = self._live(ev.call_id, ev.step)
        if run is not None:
            self._carry_out(run, run.session.on_digits("", now), now)

    def on_lookup_done(self, ev: DataLookupDone, now: float) -> None:
        run = self._live(ev.call_id, None)
        if run is not None:
            actions = run.session.on_lookup_result(ev.record, now, request=ev.request)
            self._carry_out(run, actions, now)

    def on_lookup_failed(self, ev: DataLookupFailed, now: float) -> None:
        run = self._live(ev.call_id, None)
        if run is not None:
            self._carry_out(run, run.session.on_lookup_failed(now, request=ev.request), now)

    def hung_up(self, call: Call, now: float) -> None:
        """The caller hung up while IN_IVR: the session ends, the call ends ``ivr-abandoned``
        carrying what the flow had collected so far."""
        run = self.runs.pop(call.ident, None)
        if run is not None:
            run.deadline = None
            session = run.session
            session.on_hangup(now)
            call.data.update(session.attached())
            call.data["ivr_exit"] = "abandoned"
        self.sb._finish(call, CallInput.HANGUP, Disposition.IVR_ABANDONED, now)

    # -- timers ----------------------------------------------------------------------------

    def on_timer(self, run: IvrRun, now: float) -> None:
        """The run's deadline came (the switchboard has cleared it)."""
        sb = self.sb
        call = run.call
        if sb.calls.get(call.ident) is not call:
            self._drop(run)
            return
        state = call.state
        if state is _OFFERED:  # the flow waits for the offer's outcome: look again after it
            assert call.queue is not None
            sb._arm(run, now + sb.queues[call.queue].config.ring_timeout_s)
            return
        session = run.session
        if session.deadline is not None:  # the flow waits (a prompt, digits, a lookup)
            self._carry_out(run, session.on_timeout(now), now)
            return
        if state is not _QUEUED:
            if state is CallState.CONNECTED:
                session.on_answered(now)
            self._drop(run)
            return
        if run.max_wait_at is not None and run.max_wait_at <= now:
            run.max_wait_at = None
            self._carry_out(run, session.on_max_wait(now), now)
            return
        announce = run.announce
        if announce is not None and run.announce_at is not None and run.announce_at <= now:
            self._announce(run, announce, now)
            run.announce_at = now + announce.every_s
        self._rearm(run)

    def _rearm(self, run: IvrRun) -> None:
        call = run.call
        when: float | None = None
        if self.sb.calls.get(call.ident) is call:
            if run.session.deadline is not None:  # a session has one exactly while it waits
                when = run.session.deadline
            elif call.state is _QUEUED or call.state is _OFFERED:
                when = run.max_wait_at
                if run.announce_at is not None and (when is None or run.announce_at < when):
                    when = run.announce_at
        if when is None:
            self._drop(run)
        else:
            self.sb._arm(run, when)

    def _drop(self, run: IvrRun) -> None:
        run.deadline = None
        if self.runs.get(run.call.ident) is run:
            del self.runs[run.call.ident]

    # -- carrying out a session's actions --------------------------------------------------

    def _carry_out(self, run: IvrRun, actions: list[ivr.Action], now: float) -> None:
        import ivr  # noqa: PLC0415 - loaded by the flows already; see the module's docstring

        sb = self.sb
        call = run.call
        flow = run.session.flow
        for action in actions:
            if isinstance(action, ivr.Play):
                run.step += 1
                sb._cmds.append(PlayPrompt(
                    call.ident, run.step, (self._prompt(flow, action.prompt),),
                    tuple(SayValue(s.value, s.kind) for s in action.say)))
            elif isinstance(action, ivr.CollectDigits):
                run.step += 1
                sb._cmds.append(CollectDigits(
                    call.ident, run.step, action.node, action.attempt,
                    tuple(self._prompt(flow, p) for p in action.prompts), action.min_digits,
                    action.max_digits, action.terminator, action.timeout_s, action.interdigit_s))
            elif isinstance(action, ivr.Lookup):
                sb._cmds.append(LookupData(call.ident, action.request, action.source,
                                           action.key, action.timeout_s))
            elif sb.calls.get(call.ident) is call and (
                call.state is _IN_IVR or call.state is _QUEUED
            ):
                self._terminal(run, action, now)
            # else: the call moved on (an agent took it) and the flow's hand-off is moot
        self._rearm(run)

    def _terminal(self, run: IvrRun, action: ivr.Action, now: float) -> None:
        import ivr  # noqa: PLC0415 - as in _carry_out

        sb = self.sb
        call = run.call
        session = run.session
        data = getattr(action, "data", None)
        if isinstance(data, Mapping):
            call.data.update(data)
        call.data["ivr_exit"] = session.outcome or "hangup"
        queued = call.state is _QUEUED
        if isinstance(action, ivr.Enqueue):
            self._enqueue(run, action, now)
        elif isinstance(action, ivr.Callback):
            self._callback(run, action, now)
        elif isinstance(action, ivr.Voicemail):
            if queued:
                self._leave_line(call)
            if action.queue is not None:
                call.queue = action.queue
            call.fire(CallInput.VOICEMAIL, now)
            recording = self._prompt(session.flow, action.prompt)
            sb._cmds.append(Record(call.ident, action.prompt, action.max_s, recording.file))
        elif isinstance(action, ivr.Transfer):
            if queued:
                self._leave_line(call)
            sb._finish(call, CallInput.TRANSFER_OUT, Disposition.TRANSFERRED, now,
                       redirect=action.number)
        else:
            assert isinstance(action, ivr.HangUp)
            if queued:  # it waited the longest, and the flow let it go
                self._leave_line(call)
                inp, why = CallInput.DISCONNECT, Disposition.TIMEOUT
            elif action.cause == "normal":
                inp, why = CallInput.FINISH, Disposition.SELF_SERVICE
            else:
                inp, why = CallInput.FINISH, Disposition.IVR_FAILED
                call.data["ivr_cause"] = action.cause
            sb._finish(call, inp, why, now)
            goodbye = None if action.prompt is None else self._prompt(session.flow, action.prompt)
            sb._cmds.append(HangUp(call.ident, action.cause, goodbye))

    def _target(self, run: IvrRun, queue: str | None) -> str | None:
        if queue is not None:
            return queue
        call = run.call
        return call.queue if call.state is _QUEUED else run.home

    def _route(self, run: IvrRun, name: str, priority: float | None,
               skills: tuple[ivr.SkillStage, ...] | None, now: float) -> None:
        """Into queue ``name`` with what the flow chose, from the flow or from another line."""
        sb = self.sb
        call = run.call
        queue = sb.queues[name]
        call.priority = (priority if priority is not None else queue.config.priority) + (
            sb.config.vip_priority_boost if call.customer is not None and call.customer.vip
            else 0.0)
        call.skills = None if skills is None else self._schedule(skills)
        if call.state is _QUEUED:  # the overflow's phase names the queue it leaves
            self._leave_line(call)
            sb._enter_queue(call, name, CallInput.OVERFLOW, now)
            return
        # Named before the queue decides: if it refuses the call (closed, full), the ticket and
        # the record of what follows name the queue the flow chose.
        call.queue = name
        sb._enter_queue(call, name, CallInput.ENQUEUE, now)

    def _enqueue(self, run: IvrRun, action: ivr.Enqueue, now: float) -> None:
        sb = self.sb
        call = run.call
        name = self._target(run, action.queue)
        if name is None:  # the flow named no queue and the dialed number routes nowhere
            sb._finish(call, CallInput.FINISH, Disposition.REJECTED, now, hangup="no-route")
            return
        if call.state is _QUEUED and name == call.queue:
            # Back in line where it was: its router entry never left, only the music stopped.
            sb._cmds.append(ParkWithMusic(call.ident, action.music or (
                sb.queues[name].config.music)))
        else:
            self._route(run, name, action.priority, action.skills, now)
            if action.music is not None:
                self._set_music(call.ident, action.music)
        if sb.calls.get(call.ident) is not call or call.queue != name or not call.in_queue:
            return  # refused (closed, full) and sent on by the queue's own targets
        if action.max_wait_s is not None:
            # The flow's max wait replaces the queue's own; the heap entry of the latter is
            # left to lapse (a deadline cleared is skipped when it comes up).
            call.max_wait_at = call.deadline = None
            run.max_wait_at = now + action.max_wait_s
        run.announce = action.announcements
        run.announce_at = (None if action.announcements is None
                           else now + action.announcements.every_s)

    def _callback(self, run: IvrRun, action: ivr.Callback, now: float) -> None:
        sb = self.sb
        call = run.call
        name = self._target(run, action.queue)
        if name is None:
            sb._finish(call, CallInput.FINISH, Disposition.REJECTED, now, hangup="no-route")
            return
        if call.state is not _QUEUED or name != call.queue:
            self._route(run, name, action.priority, action.skills, now)
            if sb.calls.get(call.ident) is not call or call.state is not _QUEUED:
                return  # an agent was free at once (the caller is connected), or refused
        call.max_wait_at = None
        call.fire(CallInput.CALLBACK, now)
        prompt = None if action.prompt is None else self._prompt(run.session.flow, action.prompt)
        sb._start_callback(call, now, number=action.number, prompt=prompt)

    def _leave_line(self, call: Call) -> None:
        """A call the flow takes out of its queue after its max wait: unanswered, elsewhere."""
        sb = self.sb
        sb.router.withdraw(call.ident)
        name = call.pending_in
        if name is not None:
            queue = sb.queues[name]
            queue.in_progress -= 1
            queue.overflowed += 1
            call.pending_in = None

    def _set_music(self, call_id: str, music: str) -> None:
        # The queue parked the call with its own music in ``_enter_queue``; the flow's node
        # names another. Replacing the command keeps the hot path free of an argument.
        cmds = self.sb._cmds
        for i in range(len(cmds) - 1, -1, -1):
            cmd = cmds[i]
            if isinstance(cmd, ParkWithMusic) and cmd.call_id == call_id:
                cmds[i] = ParkWithMusic(call_id, music)
                return

    def _schedule(self, stages: tuple[ivr.SkillStage, ...]) -> acd.SkillSchedule:
        key: SkillKey = tuple((s.after_s, tuple(sorted(s.require.items()))) for s in stages)
        schedule = self._schedules.get(key)
        if schedule is None:  # checked with the configuration, so this cannot fail
            schedule = self._schedules[key] = acd.SkillSchedule.parse(
                "ivr.skills", [(after, dict(require)) for after, require in key])
        return schedule

    def _prompt(self, flow: ivr.Flow, name: str) -> PromptFile:
        prompt = self._prompts.get((flow, name))
        if prompt is None:
            entry = None if flow.catalogue is None else flow.catalogue.get(name)
            prompt = PromptFile(name) if entry is None else PromptFile(name, entry.file,
                                                                       entry.text)
            self._prompts[(flow, name)] = prompt
        return prompt

    # -- announcements ---------------------------------------------------------------------

    def _announce(self, run: IvrRun, announce: ivr.Announcements, now: float) -> None:
        call = run.call
        asked = announce.position or announce.expected_wait
        position = self._position(call) if asked else 1
        wait = self._expected_wait(call, position, now) if announce.expected_wait else None
        prompt = (None if announce.prompt is None
                  else self._prompt(run.session.flow, announce.prompt))
        if wait is None and not announce.position and prompt is None:
            return  # an expected wait not known yet (nothing handled), and nothing else to say
        self.sb._cmds.append(Announce(call.ident, position if announce.position else None,
                                      wait, prompt))

    def _position(self, call: Call) -> int:
        """1 + the callers of the same queue ahead of this one (higher priority, or the same
        and waiting longer). A scan of the calls: announcements come a minute apart per
        caller, never on the routing path."""
        ahead = 0
        priority = call.priority
        since = call.enqueued_at if call.enqueued_at is not None else 0.0
        for other in self.sb.calls.values():
            if other is call or other.state is not _QUEUED or other.queue != call.queue:
                continue
            their = other.enqueued_at if other.enqueued_at is not None else 0.0
            if other.priority > priority or (other.priority == priority and their < since):
                ahead += 1
        return ahead + 1

    def _expected_wait(self, call: Call, position: int, now: float) -> float | None:
        """position x handle time / agents serving the queue (logged in), or None before the
        queue has handled a call."""
        assert call.queue is not None
        queue = self.sb.queues[call.queue]
        if not queue.handled:
            return None
        handle = (queue.talk_s + queue.wrap_up_s) / queue.handled
        cached = self._serving.get(call.queue)
        if cached is None or now - cached[0] > _SERVING_TTL_S:
            serving = sum(1 for a in self.sb.agents.values()
                          if call.queue in a.queues and a.state is not AgentState.LOGGED_OUT)
            cached = self._serving[call.queue] = (now, serving)
        return round(position * handle / max(1, cached[1]), 1)
