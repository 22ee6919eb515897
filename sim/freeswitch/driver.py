"""A scenario's traffic through the simulated FreeSWITCH: callers dial in, agents' phones ring.

The same traffic as ``cti sim`` (``sim.traffic``, same seed: arrivals, call types, talk times,
patience) and the same agents (ring delay, no-answer probability, talk scale), but as
FreeSWITCH would see it: each arrival is an inbound channel parked on the ACD's destination
(``Caller-Destination-Number`` is the call type's ``dialed``, ``variable_cti_queue`` and the
other ``cti_*`` variables carry the scenario's data), each agent is the endpoint
``user/<agent_id>``. A caller hangs up after their patience unless bridged by then; a bridged
call ends after its talk time, either side hanging up. Whatever decides who gets the call is
on the other side of the socket.

    cti sim SCENARIO.toml --pbx esl --listen 127.0.0.1:8021 [--speed K] [--password P]
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from dataclasses import dataclass, field

from cti.loop import run_loop, settle_heap
from sim.freeswitch.channels import Channel
from sim.freeswitch.ivr_keys import IvrKeys
from sim.freeswitch.switch import Action, Decide, Endpoint
from sim.freeswitch.wire import SimFreeSwitch
from sim.ivr_callers import IvrCallers
from sim.scenario import AgentGroup, Scenario, customer_record
from sim.traffic import Arrival, Traffic

__all__ = ["DriverSummary", "EslTrafficDriver", "parse_listen", "run_cli"]


#: The collector once the simulated FreeSWITCH runs (``cti.loop.settle_heap``; the daemon's are
#: ``cti.runtime.GC_THRESHOLDS``): the start-up heap frozen, and the young
#: generation is collected every 50,000 allocations rather than 700: at 500 calls/s the
#: default made about 25 collections a second of some 3 ms each, all finding nothing (events
#: are tuples of strings, freed by reference counting), each holding back every event due
#: meanwhile; measured, 1.5 s of a 20 s run went to them, 0.1 s after.
SIM_GC_THRESHOLDS = (50_000, 20, 10)


@dataclass
class DriverSummary:
    placed: int = 0
    bridged: int = 0
    abandoned: int = 0
    transferred: int = 0
    #: Ended by the other side before any bridge (blocked, sent to voicemail, ...).
    ended_unbridged: int = 0
    agent_legs: int = 0
    agent_legs_failed: Counter[str] = field(default_factory=Counter)

    def format(self) -> str:
        failed = ", ".join(f"{cause} {n}" for cause, n in self.agent_legs_failed.most_common())
        return (f"calls placed {self.placed}, bridged {self.bridged}, abandoned "
                f"{self.abandoned}, transferred {self.transferred}, ended unbridged "
                f"{self.ended_unbridged}\nagent legs originated {self.agent_legs}, failed: "
                f"{failed or 'none'}")


@dataclass
class _Call:
    #: None: a caller of the IVR flow, whose call type the flow decides.
    arrival: Arrival | None
    bridged: bool = False
    gave_up: bool = False
    transferred: bool = False


class EslTrafficDriver:
    def __init__(self, fs: SimFreeSwitch, scenario: Scenario, *, speed: float = 1.0,
                 calls: int | None = None, hours: float | None = None) -> None:
        if not speed > 0:
            raise ValueError("speed must be > 0")
        self.fs = fs
        self.scenario = scenario
        self.speed = speed
        self.calls = calls
        self.hours = hours
        self.summary = DriverSummary()
        self.traffic = Traffic(scenario, random.Random(scenario.seed))
        self._agents_rng = random.Random(scenario.seed * 7919 + 1)
        self._ends_rng = random.Random(scenario.seed * 104_729 + 3)
        self._groups: dict[str, AgentGroup] = {}
        self._live: dict[str, _Call] = {}
        switch = fs.switch
        for group in scenario.groups:
            for agent_id in group.agent_ids:
                self._groups[agent_id] = group
                switch.add_endpoint(Endpoint(f"user/{agent_id}", self._decider(group)))
        switch.on_bridge = self._bridged
        switch.on_hangup = self._hung_up
        switch.on_transfer = self._transferred
        switch.on_create = self._created
        self._callers: IvrCallers | None = None
        if scenario.ivr is not None and scenario.ivr_callers is not None:
            self._callers = IvrCallers(scenario.ivr_callers, scenario.ivr, scenario.call_types,
                                       lambda number: customer_record(scenario, number))
            switch.messages.keys = IvrKeys(self._callers)

    def _decider(self, group: AgentGroup) -> Decide:
        rng = self._agents_rng

        def decide() -> tuple[Action, float]:
            if group.no_answer_p and rng.random() < group.no_answer_p:
                return "no-answer", 0.0  # rings until the originate times out
            return "answer", group.ring_delay.sample(rng)

        return decide

    async def run(self) -> DriverSummary:
        """Place the calls on their arrival times, then wait for the last one to end."""
        loop = asyncio.get_running_loop()
        start_s = self.scenario.start_s
        end_s = start_s + self.hours * 3600 if self.hours is not None else math.inf
        t = start_s
        began = loop.time()
        while self.calls is None or self.summary.placed < self.calls:
            t = self.traffic.next_after(t)
            if t > end_s:
                break
            delay = began + (t - start_s) / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._place()
        while self._live:
            await asyncio.sleep(0.05)
        return self.summary

    def _place(self) -> None:
        if self._callers is not None:
            self._place_in_ivr(self._callers)
            return
        arrival = self.traffic.draw()
        ct = arrival.call_type
        variables = {"cti_queue": ct.queue, "cti_call_type": ct.name, "cti_trunk": ct.trunk}
        if ct.priority is not None:
            variables["cti_priority"] = f"{ct.priority:g}"
        switch = self.fs.switch
        ch = switch.inbound_call(arrival.caller, ct.dialed, variables=variables)
        self.summary.placed += 1
        if ch.hungup:
            return
        call = self._live[ch.uuid] = _Call(arrival)
        if arrival.patience_s is not None:
            switch.later(ch, "patience", arrival.patience_s, lambda: self._give_up(ch, call))

    def _place_in_ivr(self, callers: IvrCallers) -> None:
        """Every caller dials the flow's number; the flow picks the queue (no patience is
        modelled once there: the flow's own maximum wait applies)."""
        plan = self.scenario.ivr_callers
        assert plan is not None
        number, seed = self.traffic.draw_ivr()
        ch = self.fs.switch.inbound_call(number, plan.number, variables={"cti_trunk": plan.trunk})
        self.summary.placed += 1
        if ch.hungup:
            return
        callers.arrive(ch.uuid, seed)
        self._live[ch.uuid] = _Call(None)

    def _give_up(self, ch: Channel, call: _Call) -> None:
        if not call.bridged:
            call.gave_up = True
            self.fs.switch.hangup(ch, "NORMAL_CLEARING")

    # -- what the switch tells -----------------------------------------------------------------

    def _created(self, ch: Channel) -> None:
        if ch.direction == "outbound":
            self.summary.agent_legs += 1

    def _bridged(self, a: Channel, b: Channel) -> None:
        caller, agent = (a, b) if a.direction == "inbound" else (b, a)
        call = self._live.get(caller.uuid)
        if call is None:
            return
        patience = caller.timers.pop("patience", None)
        if patience is not None:
            patience.cancel()
        if call.bridged:
            return  # bridged again (after a transfer back, say): the talk timer runs on
        call.bridged = True
        self.summary.bridged += 1
        group = self._groups.get(agent.variables.get("dialed_user", ""))
        if call.arrival is not None:
            talk = call.arrival.talk_s
        else:  # from the IVR: a call type of the queue the flow chose
            assert self._callers is not None
            drawn = self._callers.handed(caller.uuid, agent.variables.get("cti_queue", ""))
            talk = drawn[1] if drawn is not None else 60.0
        talk *= group.talk_scale if group is not None else 1.0
        agent_ends = self._ends_rng.random() < 0.5
        switch = self.fs.switch

        def end() -> None:
            side = caller.partner if agent_ends and caller.partner is not None else caller
            switch.hangup(side, "NORMAL_CLEARING")

        switch.later(caller, "talk", talk, end)

    def _transferred(self, ch: Channel) -> None:
        call = self._live.get(ch.uuid)
        if call is not None and not call.transferred:
            call.transferred = True
            self.summary.transferred += 1

    def _hung_up(self, ch: Channel) -> None:
        if ch.direction == "outbound":
            if not ch.answered:
                self.summary.agent_legs_failed[ch.hangup_cause or "NORMAL_CLEARING"] += 1
            return
        call = self._live.pop(ch.uuid, None)
        if call is None:
            return
        if self._callers is not None:
            self._callers.forget(ch.uuid)
        if call.gave_up:
            self.summary.abandoned += 1
        elif not call.bridged and not call.transferred:
            self.summary.ended_unbridged += 1


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8021`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text!r}: give HOST:PORT, e.g. 127.0.0.1:8021")
    return host.strip("[]") or "127.0.0.1", int(port)


def run_cli(scenario: Scenario, *, listen: str, password: str, speed: float,
            calls: int | None, hours: float | None) -> int:
    """``cti sim ... --pbx esl``: serve until the calls are done or Ctrl-C, then summarise."""
    host, port = parse_listen(listen)
    summary: list[DriverSummary] = []

    async def main() -> None:
        async with SimFreeSwitch(host=host, port=port, password=password,
                                 speed=speed) as fs:
            driver = EslTrafficDriver(fs, scenario, speed=speed, calls=calls, hours=hours)
            summary.append(driver.summary)
            print(f"{scenario.name}: simulated FreeSWITCH on {host}:{fs.port} at speed "
                  f"{speed:g}; waiting for an Event Socket client to subscribe", flush=True)
            await fs.wait_for_subscriber()
            settle_heap(SIM_GC_THRESHOLDS)
            what = f"{calls} calls" if calls is not None else f"{hours:g} h of traffic"
            print(f"client subscribed; placing {what}", flush=True)
            await driver.run()

    try:
        run_loop(main())
    except KeyboardInterrupt:
        print("\ninterrupted")
    if summary:
        print(summary[0].format())
    return 0
