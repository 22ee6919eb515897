"""The virtual-time runner: a discrete-event loop driving the production switchboard.

Its queue of pending events (``sim.event_queue``) holds what the outside world will do next: a
caller arriving, an agent's phone being answered, a caller giving up, a conversation ending, a
wrap-up finished, a shift starting, and the switchboard's own next deadline. Each popped event
becomes a core event handed to ``Switchboard.handle`` (or a call to ``on_timer``); the commands
that come back are played the way a PBX would (ring the agent, then answer after the ring delay;
record a voicemail; hang up). There is no asyncio and no copy of routing logic: every decision is
the switchboard's and its strategy's, exactly as in the daemon.

Randomness comes in two streams. Everything about a call (when it arrives, its type, caller,
talk and wrap-up time, patience) is drawn from the call stream at arrival, in a fixed order, so
the same seed gives the same calls whatever the routing does with them, and strategies are
compared on identical traffic. Agents' ring delays and missed answers come from a second stream.

The simulated PBX lives in this module rather than in an object of its own because it is the
inner loop: one dispatch on an integer event code, no per-event objects beyond the core events
themselves, and the PBX's and phones' parts as methods of the run, which the compiled build
(``cti.native``) turns into direct C calls. With an IVR flow every caller dials it, and what
callers do in the flow (prompts' lengths, keys, hanging up, lookups' answers) is
``sim.ivr_callers``'s; the flow itself runs in the switchboard, as in the daemon. A scenario
without a flow runs exactly as before: the IVR costs it one test per arrival and per park.
What the run counts, and the report made of it, are ``sim.run_statistics``'s.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any, Final

from cti.core import (
    EMPTY,
    AgentLegAnswered,
    AgentLegRinging,
    AgentLogin,
    AgentLogout,
    AgentNotReady,
    AgentReady,
    AgentState,
    CallArrived,
    CallHungUp,
    CallState,
    CustomerLookupDone,
    Output,
    RecordingDone,
    Switchboard,
    WrapUpDone,
)
from cti.core.commands import (
    CancelOffer,
    ConnectAgent,
    HangUp,
    LookupCustomer,
    ParkWithMusic,
    Record,
    Redirect,
)
from cti.core.notifications import AgentStateChanged, CallEnded, Notification
from cti.core.records import CallRecord
from cti.loop import heap_set_aside
from sim.distributions import Fixed
from sim.event_queue import EventQueue
from sim.ivr_callers import IvrCallers
from sim.live_call import LiveCall
from sim.run_statistics import RunStatistics
from sim.scenario import AgentGroup, Scenario, customer_record
from sim.stats import Report
from sim.traffic import Traffic

__all__ = ["Simulation", "run"]


# Event codes, in the queue of pending events as (code, a, b).
# (``Final``: compiled, they are C constants.)
_ARRIVE: Final = 0
_RINGING: Final = 1
_ANSWER: Final = 2
_ABANDON: Final = 3
_TALK_END: Final = 4
_WRAP_END: Final = 5
_TIMER: Final = 6
_LOGIN: Final = 7
_LOGOUT: Final = 8
_BREAK: Final = 9
_BREAK_END: Final = 10
_RECORDED: Final = 11
_LOOKUP: Final = 12
_BATCH: Final = 13
#: What a caller in the IVR (or the PBX playing it) does: ``b`` is the core event.
_IVR: Final = 14
#: Where a caller in the flow's menus can be: in the flow, or in line (after its max wait).
_AT_A_MENU = frozenset({CallState.IN_IVR, CallState.QUEUED})

_DAY = 86_400.0
#: How long a caller spends leaving a voicemail.
VOICEMAIL_S = 30.0
#: How often to look again whether an agent whose break fell during a call has started it.
_BREAK_POLL_S = 5.0


#: The collector's thresholds during a run: young collections every 10,000 allocations rather
#: than 700. Each scans every young object, and with a thousand calls in progress most are
#: still live, scanned again and again (at 1,000 agents, under cachegrind with this machine's
#: 2 MiB L2: 8% fewer L2 misses and 1% fewer instructions per call; a run makes little cyclic
#: garbage, and what it makes waits longer).
_GC_THRESHOLDS: Final = (10_000, 50, 100)


class Simulation:
    """One run of a scenario. ``run()`` returns the report; ``records`` holds every call's
    record when ``keep_records`` is set (memory then grows with the number of calls)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        keep_records: bool = False,
        keep_states: bool = False,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.keep_records = keep_records
        self.records: list[CallRecord] = []
        #: Every agent state change, in order, when ``keep_states`` is set (for a day written
        #: to a store; a benchmark does not ask the switchboard for them).
        self.states: list[AgentStateChanged] = []
        self._keep_states = keep_states
        self._progress = progress
        self.t0 = scenario.start_s
        notify: tuple[type[Notification], ...] = (
            (CallEnded, AgentStateChanged) if keep_states else (CallEnded,))
        self.sb = Switchboard(scenario.config, now=self.t0, notify=notify)
        self._groups: dict[str, AgentGroup] = {
            a: g for g in scenario.groups for a in g.agent_ids
        }
        self.callers: IvrCallers | None = None
        flow, plan = scenario.ivr, scenario.ivr_callers
        if flow is not None and plan is not None:
            self.callers = IvrCallers(plan, flow, scenario.call_types,
                                      lambda number: customer_record(scenario, number))
        self.stats = RunStatistics(scenario, ivr=self.callers is not None)
        # The state of the run, shared by the loop in ``run`` and the simulated PBX's methods.
        #: What the outside world will do next, by time: (event code, a, b).
        self._due = EventQueue()
        #: call id -> what the runner keeps of it until its record comes.
        self._live: dict[str, LiveCall] = {}
        self._offers: dict[str, str] = {}  # call id -> agent being rung
        self._wrapping: dict[str, str] = {}  # agent -> call whose wrap-up they are in
        #: The switchboard's next deadline in the queue (inf: none pushed).
        self._timer_at = math.inf
        self._arng = random.Random(scenario.seed * 7919 + 1)  # the agents' stream
        # Agents who answer the moment their phone rings (no ring delay, never miss): their
        # answer is handed to the switchboard within the same step, not through the queue.
        self._at_once = {
            aid for g in scenario.groups
            if g.no_answer_p == 0 and isinstance(g.ring_delay, Fixed) and g.ring_delay.value == 0
            for aid in g.agent_ids
        }

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> Report:
        # What the process held before the run (modules, the scenario, the roster; in a
        # benchmark, a peer simulator's leftovers) is set aside from the cyclic collector for
        # the run's length. The run's own objects are what its collections must scan: at a
        # thousand agents a call lives through a thousand arrivals, so its objects reach the
        # oldest generation and trigger full collections, which would otherwise walk the whole
        # process each time (measured: 7% of the run's speed at 1,000 agents after a SimPy and
        # a Ciw run in the same process, nothing at 10).
        with heap_set_aside(_GC_THRESHOLDS):
            return self._run()

    def _run(self) -> Report:
        sc = self.scenario
        started = time.perf_counter()
        sb = self.sb
        due = self._due
        crng = random.Random(sc.seed)  # the call stream
        t0 = self.t0
        warm_end = t0 + sc.warmup_s
        n_batches = sc.batches
        measure_calls = sc.calls
        horizon = None if sc.hours is None else warm_end + sc.hours * 3600.0
        batch_len = None if horizon is None else (horizon - warm_end) / n_batches
        per_batch = None if measure_calls is None else measure_calls / n_batches

        traffic = Traffic(sc, crng)
        arrivals = sc.arrivals.next_after  # traffic.next_after, without its frame
        draw = traffic.draw
        callers = self.callers
        ivr_on = callers is not None
        ivr_draw = traffic.draw_ivr
        plan = sc.ivr_callers
        ivr_number = plan.number if plan is not None else ""
        ivr_trunk = plan.trunk if plan is not None else "default"
        live = self._live
        offers = self._offers
        wrapping = self._wrapping
        agents = sb.agents
        stats = self.stats
        wrap_up = AgentState.WRAP_UP  # a local: an Enum member is a slow attribute to read

        # Agents: logged in and ready from the start, or by shift.
        for g in sc.groups:
            for aid in g.agent_ids:
                if g.shifts is None:
                    out = sb.handle(AgentLogin(aid), t0)
                    out2 = sb.handle(AgentReady(aid), t0)
                    self._play(out.commands + out2.commands,
                               out.notifications + out2.notifications, t0)
                else:
                    day0 = t0 - t0 % _DAY
                    for start, end in g.shifts:
                        s, e = day0 + start, day0 + end
                        if e <= t0:
                            s, e = s + _DAY, e + _DAY
                        self._push(max(s, t0), _LOGIN, aid, s)
                        self._push(e, _LOGOUT, aid, e)
                for at, secs, reason in g.breaks:
                    day0 = t0 - t0 % _DAY
                    first = day0 + at if day0 + at >= t0 else day0 + at + _DAY
                    self._push(first, _BREAK, aid, (first, secs, reason))
        if warm_end <= t0:
            stats.mark_agents(agents, t0, start=True)
        if batch_len is not None:  # by time: batch k closes at its end, the last at the horizon
            for k in range(1, n_batches + 1):
                self._push(warm_end + k * batch_len, _BATCH, k)
            if warm_end > t0:
                self._push(warm_end, _BATCH, 0)
        self._push(arrivals(t0, crng), _ARRIVE)

        in_progress = stats.in_progress
        tallies = stats.tallies
        n_arrived = 0  # calls arrived after the warm-up
        n_total = 0
        arrivals_open = True
        last_arrival = t0
        batch = -1 if warm_end > t0 else 0
        events = 0
        progress = self._progress
        now = t0
        drain_until = math.inf
        while len(due):
            now, code, a, b = due.pop()
            if now > drain_until:
                break
            events += 1
            if code == _ARRIVE:
                if horizon is not None and now >= horizon:
                    arrivals_open = False
                    drain_until = now + sc.drain_s
                    continue
                n_total += 1
                if now < warm_end:
                    cb = -1
                elif per_batch is not None:  # by calls: the batch changes on an arrival
                    if batch < 0:
                        batch = 0
                        stats.mark_agents(agents, now, start=True)
                    k = int(n_arrived / per_batch)
                    if k != batch:
                        stats.close_batch(batch, agents, now)
                        batch = k
                    cb = batch
                    n_arrived += 1
                else:
                    assert batch_len is not None
                    cb = min(n_batches - 1, int((now - warm_end) / batch_len))
                    n_arrived += 1
                cid = f"c{n_total}"
                if ivr_on:  # the flow decides the rest, from the caller's own stream
                    assert callers is not None
                    caller, seed = ivr_draw()
                    live[cid] = LiveCall(None, 0.0, 0.0, cb)
                    callers.arrive(cid, seed)
                    out = sb.handle(CallArrived(
                        cid, caller, ivr_number, ivr_trunk, None, None, EMPTY, None), now)
                    self._play(out.commands, out.notifications, now)
                else:
                    ct, caller, talk, wrap, patience = draw()  # everything about the call
                    info = live[cid] = LiveCall(ct, talk, wrap, cb)
                    queue = ct.queue
                    if cb >= 0:
                        in_progress[queue] += 1
                        # Poisson arrivals see time averages (PASTA): the router's own count
                        # of waiting calls, seen at arrivals, checks Little's law against the
                        # records.
                        tallies[cb][queue].seen_waiting += sb.router.waiting(queue)
                    out = sb.handle(CallArrived(
                        cid, caller, ct.dialed, ct.trunk, queue, ct.priority, EMPTY, ct.skills,
                    ), now)
                    cmds = out.commands
                    # Queued: no agent was offered the call as it arrived (P(wait) counts
                    # these; the ring time of an immediate offer is not waiting in queue).
                    queued = True
                    for cmd in cmds:
                        if type(cmd) is ConnectAgent:
                            queued = False
                    self._play(cmds, out.notifications, now)
                    if cid in live:  # not blocked or rejected on arrival
                        info.queued = queued
                        if patience is not None:
                            due.push(now + patience, _ABANDON, cid)
                last_arrival = now
                if measure_calls is not None and n_arrived >= measure_calls:
                    arrivals_open = False
                    drain_until = now + sc.drain_s
                    stats.close_batch(batch, agents, now)  # the measured period ends here
                else:
                    due.push(arrivals(now, crng), _ARRIVE)
            elif code == _TALK_END:
                ended_info = live.get(a)
                if ended_info is None or not ended_info.on_line:
                    continue
                info = ended_info
                by = info.agent
                out = sb.handle(CallHungUp(a, "normal"), now)
                cmds, notes = out.commands, out.notifications
                if by is not None and agents[by].state is wrap_up:
                    wrap = info.wrap
                    if wrap <= 0:
                        out2 = sb.handle(WrapUpDone(by, None), now)
                        cmds += out2.commands
                        notes += out2.notifications
                    else:
                        wrapping[by] = a
                        due.push(now + wrap, _WRAP_END, by, a)
                self._play(cmds, notes, now)
            elif code == _ANSWER:
                if offers.get(a) != b:
                    continue  # the offer was withdrawn (caller gone, ring timeout)
                out = self._answer(a, b, now)
                self._play(out.commands, out.notifications, now)
            elif code == _TIMER:
                if now >= self._timer_at:
                    self._timer_at = math.inf
                out = sb.on_timer(now)
                self._play(out.commands, out.notifications, now)
            elif code == _ABANDON:
                waiting_info = live.get(a)
                if (waiting_info is None or waiting_info.agent is not None
                        or not waiting_info.on_line):
                    continue  # answered, ended, or the caller already left (a callback)
                out = sb.handle(CallHungUp(a, "normal"), now)
                offers.pop(a, None)
                self._play(out.commands, out.notifications, now)
            elif code == _WRAP_END:
                if wrapping.get(a) != b:
                    continue
                del wrapping[a]
                if agents[a].state is wrap_up:
                    out = sb.handle(WrapUpDone(a, None), now)
                    self._play(out.commands, out.notifications, now)
            elif code == _RINGING:
                if offers.get(a) == b:
                    out = sb.handle(AgentLegRinging(a, b), now)
                    self._play(out.commands, out.notifications, now)
            else:
                self._rare(code, a, b, now)
            if progress is not None and not events & 0x3FFF:
                if measure_calls is not None:
                    progress(min(1.0, n_arrived / measure_calls))
                elif horizon is not None:
                    progress(min(1.0, max(0.0, (now - warm_end) / (horizon - warm_end))))
            if not arrivals_open and not live:
                break
        end = last_arrival if horizon is None else min(horizon, max(now, warm_end))
        if progress is not None:
            progress(1.0)
        wall = time.perf_counter() - started
        return stats.report(start=t0, end=end, warm_end=warm_end, wall=wall, calls=n_arrived,
                            stale_events=sb.stale_events)

    # -- the simulated PBX and phones -------------------------------------------------------

    def _push(self, when: float, code: int, a: Any = None, b: Any = None) -> None:
        self._due.push(when, code, a, b)

    def _answer(self, cid: str, aid: str, now: float) -> Output:
        """The agent picked up: the switchboard connects them, the talk clock starts."""
        del self._offers[cid]
        out = self.sb.handle(AgentLegAnswered(cid, aid), now)
        info = self._live[cid]
        info.agent = aid
        info.on_line = True  # for a callback, the customer was dialled and picked up
        talk = info.talk * self._groups[aid].talk_scale
        self._due.push(now + talk, _TALK_END, cid)
        return out

    def _handed(self, cid: str, now: float) -> None:
        """An IVR call parked in a queue: the first time, it becomes that queue's call."""
        info = self._live.get(cid)
        callers = self.callers
        assert callers is not None
        call = self.sb.calls.get(cid)
        if info is None or info.call_type is not None or call is None or call.queue is None:
            return
        drawn = callers.handed(cid, call.queue)
        if drawn is None:
            return
        queue = call.queue
        info.call_type, info.talk, info.wrap, patience = drawn
        info.queue = queue
        still = self.sb.router.call(cid) is not None  # no agent was offered it at once
        info.queued = still
        cb = info.batch
        if cb >= 0:
            stats = self.stats
            stats.in_progress[queue] += 1
            stats.tallies[cb][queue].seen_waiting += self.sb.router.waiting(queue) - still
        if patience is not None:
            self._push(now + patience, _ABANDON, cid)

    def _play(self, cmds: list[Any], notes: list[Any], now: float) -> None:
        """Do what the switchboard asked, as a PBX and the agents' phones would."""
        offers = self._offers
        at_once = self._at_once
        ivr_on = self.callers is not None
        while True:
            answer_now: list[tuple[str, str]] | None = None
            for cmd in cmds:
                kind = type(cmd)
                if kind is ParkWithMusic:
                    if ivr_on:
                        self._handed(cmd.call_id, now)
                    continue
                if kind is ConnectAgent:
                    cid, aid = cmd.call_id, cmd.agent_id
                    offers[cid] = aid
                    if aid in at_once:
                        if answer_now is None:
                            answer_now = [(cid, aid)]
                        else:
                            answer_now.append((cid, aid))
                        continue
                    g = self._groups[aid]
                    arng = self._arng
                    if g.no_answer_p and arng.random() < g.no_answer_p:
                        self._push(now, _RINGING, cid, aid)  # rings until the switchboard gives up
                        continue
                    delay = g.ring_delay.sample(arng)
                    if delay > 0:
                        self._push(now, _RINGING, cid, aid)
                    self._push(now + delay, _ANSWER, cid, aid)
                elif kind is CancelOffer:
                    if offers.get(cmd.call_id) == cmd.agent_id:
                        del offers[cmd.call_id]
                elif kind is HangUp or kind is Redirect:
                    info = self._live.get(cmd.call_id)
                    if info is not None:
                        info.on_line = False  # the caller's leg is gone (a callback lives on)
                elif kind is Record:
                    self._push(now + VOICEMAIL_S, _RECORDED, cmd.call_id)
                elif kind is LookupCustomer:
                    self._push(now, _LOOKUP, cmd.call_id, cmd.caller)
                elif ivr_on:
                    callers = self.callers
                    assert callers is not None
                    for delay, event in callers.on_command(cmd):
                        self._push(now + delay, _IVR, cmd.call_id, event)
            for note in notes:
                if type(note) is CallEnded:
                    rec = note.record
                    self._ended(rec, self._live.pop(rec.call_id))
                elif self._keep_states and type(note) is AgentStateChanged:
                    self.states.append(note)
            if answer_now is None:
                break
            if len(answer_now) == 1:
                cid, aid = answer_now[0]
                if offers.get(cid) != aid:
                    break
                cmds, notes = self._answer(cid, aid, now)
                continue
            cmds, notes = [], []
            for cid, aid in answer_now:
                if offers.get(cid) == aid:
                    out = self._answer(cid, aid, now)
                    cmds += out.commands
                    notes += out.notifications
        d = self.sb.next_deadline()
        if d is not None and d < self._timer_at:
            self._timer_at = d
            self._push(d, _TIMER)

    def _ended(self, rec: CallRecord, info: LiveCall) -> None:
        """A call ended: kept if asked, forgotten by the IVR's callers, tallied."""
        if self.keep_records:
            self.records.append(rec)
        if self.callers is not None:
            self.callers.forget(rec.call_id)
        self.stats.ended(rec, info)

    # -- rare events (not worth a place in the inner dispatch) ------------------------------

    def _rare(self, code: int, a: Any, b: Any, now: float) -> None:
        sb = self.sb
        handle = sb.handle
        push = self._push
        play = self._play
        agent = sb.agents.get(a) if isinstance(a, str) else None
        if code == _LOGIN:
            push(b + _DAY, _LOGIN, a, b + _DAY)
            if agent is None or agent.state is AgentState.LOGGED_OUT:
                out = handle(AgentLogin(a), now)
                out2 = handle(AgentReady(a), now)
                play(out.commands + out2.commands, out.notifications + out2.notifications, now)
        elif code == _LOGOUT:
            push(b + _DAY, _LOGOUT, a, b + _DAY)
            if agent is not None and agent.state is not AgentState.LOGGED_OUT:
                out = handle(AgentLogout(a), now)
                play(out.commands, out.notifications, now)
        elif code == _BREAK:
            start, secs, reason = b
            if now == start:  # the daily schedule, not a poll
                push(start + _DAY, _BREAK, a, (start + _DAY, secs, reason))
            if agent is None or agent.state is AgentState.LOGGED_OUT:
                return
            if agent.state is AgentState.NOT_READY and agent.reason == reason:
                push(now + secs, _BREAK_END, a, reason)
            elif agent.state in (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP):
                out = handle(AgentNotReady(a, reason), now)
                play(out.commands, out.notifications, now)
                push(now + secs, _BREAK_END, a, reason)
            else:  # on a call: the switchboard keeps the break for after it; look again later
                if agent.pending is None:
                    out = handle(AgentNotReady(a, reason), now)
                    play(out.commands, out.notifications, now)
                push(now + _BREAK_POLL_S, _BREAK, a, (start, secs, reason))
        elif code == _BREAK_END:
            if agent is not None and agent.state is AgentState.NOT_READY and agent.reason == b:
                out = handle(AgentReady(a), now)
                play(out.commands, out.notifications, now)
        elif code == _RECORDED:
            out = handle(RecordingDone(a, f"sim://voicemail/{a}"), now)
            play(out.commands, out.notifications, now)
        elif code == _LOOKUP:
            out = handle(CustomerLookupDone(a, customer_record(self.scenario, b)), now)
            play(out.commands, out.notifications, now)
        elif code == _IVR:
            call = sb.calls.get(a)
            if call is None:
                return  # the call ended meanwhile: the PBX would not report its prompts
            if type(b) is CallHungUp and call.state not in _AT_A_MENU:
                return  # at an agent's phone, or gone, before the caller gave up on the menu
            out = handle(b, now)
            play(out.commands, out.notifications, now)
        elif code == _BATCH:
            if a == 0:
                self.stats.mark_agents(sb.agents, now, start=True)
            else:
                self.stats.close_batch(a - 1, sb.agents, now)

def run(scenario: Scenario, **kwargs: Any) -> Report:
    """Run ``scenario`` once and return its report."""
    return Simulation(scenario, **kwargs).run()
