"""A simulated PBX and its agents in real time: a ``PbxLink`` that lets the daemon run, and be
tested, without a PBX.

It plays a scenario's traffic on the asyncio clock, ``speed`` times faster than life: calls
arrive (``runtime.submit(CallArrived)``), callers give up after their patience, agents answer
offers after their ring delay (or let them ring out), conversations end after their talk time,
wrap-ups after theirs. It receives the switchboard's commands exactly as a real adapter does
(``execute``), so the daemon's runtime, bus and timers run as they would beside FreeSWITCH.

With an IVR flow every caller dials it, and ``sim.ivr_callers`` plays the callers and the PBX's
side of it (prompts' lengths, keys, hang-ups, lookups' answers), as in virtual time.

Scenario features that need a calendar (shifts and breaks) are virtual-time only: here every
agent logs in at the start and stays. The traffic is the same calls as ``cti sim`` with the same
seed (``sim.traffic``); routing in real time is not repeatable to the microsecond, so results
are close, not identical.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cti.core import (
    AgentLegAnswered,
    AgentLegRinging,
    AgentLogin,
    AgentReady,
    AgentState,
    CallArrived,
    CallHungUp,
    CallState,
    CancelOffer,
    ConnectAgent,
    CtiError,
    CustomerLookupDone,
    Event,
    HangUp,
    LookupCustomer,
    LookupData,
    ParkWithMusic,
    PbxCommand,
    Record,
    RecordingDone,
    Redirect,
    WrapUpDone,
)
from sim.ivr_callers import IvrCallers
from sim.runner import VOICEMAIL_S
from sim.scenario import Scenario, customer_record
from sim.traffic import Traffic

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["RealtimePbx", "run_realtime"]

log = logging.getLogger("cti.sim.realtime")


class RealtimePbx:
    #: It answers the switchboard's lookups itself: customers from the scenario's population,
    #: an IVR flow's from the scenario's fixtures.
    answers_lookups = True

    def __init__(self, scenario: Scenario, *, speed: float = 1.0,
                 calls: int | None = None, settle_s: float = 0.0,
                 dispositions: Mapping[str, float] | None = None,
                 call_prefix: str = "rt") -> None:
        """``settle_s``: wall-clock seconds between the agents' logins and the first call (the
        burst of their state events reaches the broker first). ``dispositions``: the share of
        wrap-ups the agents end with each disposition (``{"callback-needed": 0.05}``: one in
        twenty asks for a follow-up ticket); the others end without one. ``call_prefix``
        starts every call id, so runs that share a store do not reuse ids."""
        if not speed > 0:
            raise ValueError("speed must be > 0")
        shares = dict(dispositions or {})
        if any(not 0 <= v <= 1 for v in shares.values()) or sum(shares.values()) > 1:
            raise ValueError("disposition shares must be in [0, 1] and sum to at most 1")
        self._dispositions = shares
        self.call_prefix = call_prefix
        self.scenario = scenario
        self.settle_s = settle_s
        self.speed = speed
        self.calls = calls if calls is not None else scenario.calls
        self.traffic = Traffic(scenario, random.Random(scenario.seed))
        self._agents_rng = random.Random(scenario.seed * 7919 + 1)
        self._groups = {a: g for g in scenario.groups for a in g.agent_ids}
        self._runtime: Runtime | None = None
        #: call -> (talk, wrap) and the timers pending for it.
        self._calls: dict[str, tuple[float, float]] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        #: call -> (agent who answered, their wrap-up time)
        self._answered: dict[str, tuple[str, float]] = {}
        self._callers: IvrCallers | None = None
        if scenario.ivr is not None and scenario.ivr_callers is not None:
            self._callers = IvrCallers(scenario.ivr_callers, scenario.ivr, scenario.call_types,
                                       lambda number: customer_record(scenario, number))
        self.arrived = 0
        self.finished = asyncio.Event()

    # -- the adapter interface --------------------------------------------------------------

    def execute(self, command: PbxCommand) -> None:
        """Called from inside ``runtime.submit``: never submit back synchronously."""
        if isinstance(command, ConnectAgent):
            self._ring(command.call_id, command.agent_id)
        elif isinstance(command, CancelOffer):
            self._cancel(command.call_id, "answer")
        elif isinstance(command, HangUp | Redirect):
            cid = command.call_id
            self._cancel(cid, "abandon")
            self._cancel(cid, "talk")
            if not (isinstance(command, HangUp) and command.cause == "callback-scheduled"):
                self._calls.pop(cid, None)  # the call is over (a callback lives on)
            self._stop_ivr(cid)
        elif isinstance(command, Record):
            self._stop_ivr(command.call_id)
            self._later(VOICEMAIL_S, (command.call_id, "recorded"),
                        RecordingDone(command.call_id, f"sim://voicemail/{command.call_id}"))
        elif self._callers is not None:
            if isinstance(command, ParkWithMusic):
                self._handed(command.call_id)
            else:
                self._ivr_events(command)

    def lookup(self, command: LookupCustomer | LookupData) -> None:
        """The runtime hands over every lookup the switchboard asks for."""
        if isinstance(command, LookupCustomer):
            self._soon(CustomerLookupDone(command.call_id,
                                          customer_record(self.scenario, command.caller)))
        elif self._callers is not None:
            self._ivr_events(command)

    async def run(self, runtime: Runtime) -> None:
        self._runtime = runtime
        if any(g.shifts or g.breaks for g in self.scenario.groups):
            log.info("shifts and breaks are simulated in virtual time only; in real time "
                     "every agent stays logged in")
        for g in self.scenario.groups:
            for agent_id in g.agent_ids:
                self._submit(AgentLogin(agent_id))
                self._submit(AgentReady(agent_id))
        if self.settle_s > 0:
            await asyncio.sleep(self.settle_s)
        t = runtime.clock()
        while self.calls is None or self.arrived < self.calls:
            t = self.traffic.next_after(t)
            delay = (t - runtime.clock()) / self.speed
            if delay > 0:
                await asyncio.sleep(delay)
            self._arrive()
        while self._calls:  # let the calls in progress end
            await asyncio.sleep(0.05)
        self.finished.set()

    # -- what the PBX and the agents do -----------------------------------------------------

    def _arrive(self) -> None:
        if self._callers is not None:
            self._arrive_in_ivr(self._callers)
            return
        ct, caller, talk, wrap, patience = self.traffic.draw()
        self.arrived += 1
        cid = f"{self.call_prefix}{self.arrived}"
        self._calls[cid] = (talk, wrap)
        self._submit(CallArrived(cid, caller, ct.dialed, ct.trunk, ct.queue, ct.priority,
                                 skills=ct.skills))
        if patience is not None and cid in self._calls:
            self._later(patience, (cid, "abandon"), CallHungUp(cid, "caller-gave-up"),
                        then=lambda: self._calls.pop(cid, None))

    # -- callers in the IVR flow -------------------------------------------------------------

    def _arrive_in_ivr(self, callers: IvrCallers) -> None:
        plan = self.scenario.ivr_callers
        assert plan is not None
        caller, seed = self.traffic.draw_ivr()
        self.arrived += 1
        cid = f"{self.call_prefix}{self.arrived}"
        self._calls[cid] = (0.0, 0.0)  # the flow says where it goes, and so how long it talks
        callers.arrive(cid, seed)
        self._submit(CallArrived(cid, caller, plan.number, plan.trunk))

    def _handed(self, cid: str) -> None:
        """Parked in a queue: the first time, the caller's talk, wrap-up and patience there."""
        runtime = self._runtime
        assert runtime is not None
        assert self._callers is not None
        call = runtime.switchboard.calls.get(cid)
        if call is None or call.queue is None or cid not in self._calls:
            return
        drawn = self._callers.handed(cid, call.queue)
        if drawn is None:
            return
        _, talk, wrap, patience = drawn
        self._calls[cid] = (talk, wrap)
        if patience is not None:
            self._later(patience, (cid, "abandon"), CallHungUp(cid, "caller-gave-up"),
                        then=lambda: self._gone(cid))

    def _ivr_events(self, command: PbxCommand | LookupData) -> None:
        assert self._callers is not None
        cid = getattr(command, "call_id", "")
        for delay, event in self._callers.on_command(command):
            if isinstance(event, CallHungUp):
                self._later(delay, (cid, "ivr-hangup"), None,
                            then=lambda: self._give_up_in_ivr(cid))
            else:
                self._later(delay, (cid, f"ivr-{type(event).__name__}"), event)

    def _give_up_in_ivr(self, cid: str) -> None:
        runtime = self._runtime
        assert runtime is not None
        call = runtime.switchboard.calls.get(cid)
        if call is not None and call.state in (CallState.IN_IVR, CallState.QUEUED):
            self._submit(CallHungUp(cid, "caller-gave-up"))
            self._cancel(cid, "abandon")
            self._calls.pop(cid, None)
            self._stop_ivr(cid)

    def _gone(self, cid: str) -> None:
        self._calls.pop(cid, None)
        self._stop_ivr(cid)

    def _stop_ivr(self, cid: str) -> None:
        if self._callers is None:
            return
        for what in ("ivr-hangup", "ivr-PromptDone", "ivr-DigitsEntered", "ivr-DataLookupDone"):
            self._cancel(cid, what)
        if cid not in self._calls:
            self._callers.forget(cid)

    def _ring(self, cid: str, agent_id: str) -> None:
        g = self._groups.get(agent_id)
        self._soon(AgentLegRinging(cid, agent_id))
        if g is None or (g.no_answer_p and self._agents_rng.random() < g.no_answer_p):
            return  # rings until the switchboard gives up
        delay = g.ring_delay.sample(self._agents_rng)
        self._later(delay, (cid, "answer"), AgentLegAnswered(cid, agent_id),
                    then=lambda: self._answer(cid, agent_id))

    def _answer(self, cid: str, agent_id: str) -> None:
        self._cancel(cid, "abandon")
        talk, wrap = self._calls.get(cid, (0.0, 0.0))
        g = self._groups.get(agent_id)
        self._answered[cid] = (agent_id, wrap)
        self._later(talk * (g.talk_scale if g else 1.0), (cid, "talk"), CallHungUp(cid),
                    then=lambda: self._hung_up(cid))

    def _hung_up(self, cid: str) -> None:
        answered = self._answered.pop(cid, None)
        self._calls.pop(cid, None)
        self._stop_ivr(cid)
        if answered is not None:
            agent_id, wrap = answered
            self._later(wrap, (agent_id, "wrap"), None,
                        then=lambda: self._wrap_done(agent_id))

    def _wrap_done(self, agent_id: str) -> None:
        runtime = self._runtime
        assert runtime is not None
        agent = runtime.switchboard.agents.get(agent_id)
        if agent is not None and agent.state is AgentState.WRAP_UP:
            self._submit(WrapUpDone(agent_id, self._disposition()))

    def _disposition(self) -> str | None:
        if not self._dispositions:
            return None  # no draw: the agents' random stream stays as it was without them
        x = self._agents_rng.random()
        for name, share in self._dispositions.items():
            x -= share
            if x < 0:
                return name
        return None

    # -- plumbing ---------------------------------------------------------------------------

    def _submit(self, event: Event) -> None:
        runtime = self._runtime
        assert runtime is not None
        try:
            runtime.submit(event)
        except CtiError as exc:  # a race the real PBX would also lose: log, carry on
            log.debug("%s refused: %s", type(event).__name__, exc)

    def _soon(self, event: Event) -> None:
        asyncio.get_running_loop().call_soon(self._submit, event)

    def _later(self, delay_s: float, key: tuple[str, str], event: Event | None,
               then: Callable[[], Any] | None = None) -> None:
        def fire() -> None:
            self._timers.pop(key, None)
            if event is not None:
                self._submit(event)
            if then is not None:
                then()

        self._cancel(*key)
        self._timers[key] = asyncio.get_running_loop().call_later(
            max(0.0, delay_s / self.speed), fire)

    def _cancel(self, cid: str, what: str) -> None:
        timer = self._timers.pop((cid, what), None)
        if timer is not None:
            timer.cancel()


async def run_realtime(runtime: Runtime, pbx: RealtimePbx, *, signals: bool = True,
                       stop: asyncio.Event | None = None) -> None:
    """Run the daemon's runtime driven by ``pbx`` until the PBX's calls are all done, the
    runtime is stopped (SIGINT or SIGTERM when ``signals``, or ``runtime.stop()``) or ``stop``
    is set; then stop the runtime cleanly (final agent states, outbox flushed)."""
    task = asyncio.create_task(runtime.run(signals=signals))
    waits = {task, asyncio.create_task(pbx.finished.wait())}
    if stop is not None:
        waits.add(asyncio.create_task(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waits - {task}:
            waiter.cancel()
    # A stop asked for before the runtime had started running would be lost: ask until it
    # has taken it.
    while not task.done():
        runtime.stop()
        await asyncio.wait({task}, timeout=0.1)
    await task
