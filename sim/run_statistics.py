"""The statistics of one simulated run, streamed: per batch and queue, the tallies of the calls
that ended and the agents' busy and staffed time, and at the end the report made of them.

``sim.runner`` feeds it: every ended call's record with the runner's list about the call, the
agents at every batch boundary, the count of waiting calls each arrival found. The conventions
(which queue and batch a call counts in, what every figure divides by) are ``sim.stats``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from cti.core.agent import BUSY, Agent, AgentState
from cti.core.records import CallRecord
from sim.live_call import LiveCall
from sim.scenario import Scenario
from sim.stats import (
    IVR_FIGURES,
    IvrTally,
    QueueReport,
    Report,
    Tally,
    half_width,
    half_widths,
)

__all__ = ["NO_QUEUE", "RunStatistics"]

#: The tally key of calls that ended in the IVR flow without any queue chosen.
NO_QUEUE = "(no queue)"
#: The states an agent is busy in (for occupancy), in a fixed order so that the sums are
#: repeatable (``BUSY`` is a set); staffed is busy plus READY.
_BUSY: Final = tuple(s for s in AgentState if s in BUSY)
_READY: Final = AgentState.READY


class RunStatistics:
    def __init__(self, scenario: Scenario, *, ivr: bool) -> None:
        self.scenario = scenario
        n_batches = scenario.batches
        self.queue_names = [q.name for q in scenario.config.queues]
        #: tallies[batch][queue]
        self.tallies = [{q: Tally() for q in self.queue_names} for _ in range(n_batches)]
        #: Calls of each queue, arrived after the warm-up, not ended yet.
        self.in_progress = dict.fromkeys(self.queue_names, 0)
        self._sl = {q.name: q.service_level_s for q in scenario.config.queues}
        self._wrap_cap = {q.name: q.wrap_up_s for q in scenario.config.queues}
        self._agent_queues = {a.agent_id: a.queues for a in scenario.config.agents}
        #: Busy and staffed seconds per agent at the start of the current batch.
        self._agent_marks: dict[str, tuple[float, float]] = {}
        self._agent_start: dict[str, tuple[float, float]] = {}
        self._agent_final: dict[str, tuple[float, float]] = {}
        #: [busy, staffed] seconds of all agents, each counted once, per batch.
        self.batch_occupancy = [[0.0, 0.0] for _ in range(n_batches)]
        #: agent -> its occupancy in each closed batch (for the per-agent half-widths).
        self.agent_batches: dict[str, list[float]] = {}
        self.ivr = ivr
        #: ivr_tallies[batch][queue], queues and ``NO_QUEUE``; empty without a flow.
        self.ivr_tallies: list[dict[str, IvrTally]] = []
        if ivr:
            self.ivr_tallies = [{q: IvrTally() for q in [*self.queue_names, NO_QUEUE]}
                                for _ in range(n_batches)]
            # Calls refused before the flow (trunk full, blacklisted) count overall only.
            for batch in self.tallies:
                batch[NO_QUEUE] = Tally()

    def ended(self, rec: CallRecord, info: LiveCall) -> None:
        """The tally of an ended call into its batch and queue (it runs once per call)."""
        if self.ivr:
            self._ivr_ended(rec, info)
            return
        batch = info.batch
        if batch < 0:
            return
        call_type = info.call_type
        assert call_type is not None  # a call without an IVR flow has its type from arrival
        queue = call_type.queue
        self.in_progress[queue] -= 1
        _count(self.tallies[batch][queue], rec, info, self._sl[queue], self._wrap_cap[queue])

    def _ivr_ended(self, rec: CallRecord, info: LiveCall) -> None:
        """``ended`` for a scenario with an IVR flow: the IVR figures of every call that
        entered the flow, and the queue figures of the calls it handed to a queue, in the
        first such queue (``info.queue``)."""
        batch = info.batch
        if batch < 0:
            return
        queue = info.queue
        service_level = self._sl
        disp = rec.disposition
        phases = rec.phases
        spent, entered = 0.0, False
        for i, phase in enumerate(phases):
            if phase.state == "in-ivr":  # the last phase is "ended", so a next one exists
                entered = True
                spent += phases[i + 1].at - phase.at
        if entered:
            chosen = rec.queue if rec.queue in service_level else NO_QUEUE
            it = self.ivr_tallies[batch][queue or chosen]
            it.entered += 1
            it.time_s += spent
            if disp == "self-service":
                it.self_service += 1
            elif disp == "ivr-failed":
                it.failed += 1
            elif disp == "ivr-abandoned":
                it.abandoned += 1
            if queue is None:
                return  # it ended in the flow: no queue's figures
        if queue is not None:
            self.in_progress[queue] -= 1
        key = queue or ""
        _count(self.tallies[batch][queue or NO_QUEUE], rec, info, service_level.get(key, 0.0),
               self._wrap_cap.get(key, 0.0))

    def _agent_totals(
        self, agents: Mapping[str, Agent], now: float
    ) -> dict[str, tuple[float, float]]:
        """Each agent's busy and staffed seconds so far (this runs for every agent at every
        batch boundary, so state by state rather than through ``time_in_states``)."""
        totals = {}
        for aid, agent in agents.items():
            busy = 0.0
            for state in _BUSY:
                busy += agent.seconds_in(state, now)
            totals[aid] = (busy, busy + agent.seconds_in(_READY, now))
        return totals

    def mark_agents(self, agents: Mapping[str, Agent], now: float, *, start: bool = False) -> None:
        """Note where the agents' accounts stand as a batch (or the measured period) begins."""
        self._agent_marks = self._agent_totals(agents, now)
        if start:
            self._agent_start = dict(self._agent_marks)

    def close_batch(self, batch: int, agents: Mapping[str, Agent], now: float) -> None:
        """Book the agents' busy and staffed time since the batch began into its tallies."""
        totals = self._agent_totals(agents, now)
        marks = self._agent_marks
        tallies = self.tallies[batch]
        occupancy = self.batch_occupancy[batch]
        for aid, (busy, staffed) in totals.items():
            b0, s0 = marks.get(aid, (0.0, 0.0))
            occupancy[0] += busy - b0
            occupancy[1] += staffed - s0
            if staffed > s0:
                self.agent_batches.setdefault(aid, []).append((busy - b0) / (staffed - s0))
            for q in self._agent_queues.get(aid, ()):
                t = tallies[q]
                t.busy_s += busy - b0
                t.staffed_s += staffed - s0
        self._agent_marks = totals
        self._agent_final = totals

    def report(self, *, start: float, end: float, warm_end: float, wall: float, calls: int,
               stale_events: int) -> Report:
        """The run's report: per queue and overall, point estimates and batch-means
        half-widths; ``start`` is when the run began, ``end`` when its measured period ended."""
        sc = self.scenario
        strategies = sc.strategies
        queues = {}
        agent_busy = {}
        for aid, (busy, staffed) in self._agent_final.items():
            b0, s0 = self._agent_start.get(aid, (0.0, 0.0))
            agent_busy[aid] = (busy - b0) / (staffed - s0) if staffed > s0 else math.nan
        overall_batches = []
        for batch, (busy, staffed) in zip(self.tallies, self.batch_occupancy, strict=True):
            total = Tally()
            for t in batch.values():
                total.add(t)
            # Overall occupancy counts each agent once, not once per queue they serve.
            total.busy_s, total.staffed_s = busy, staffed
            overall_batches.append(total)
        ivr = self.ivr_tallies
        for name in self.queue_names:
            per = [b[name] for b in self.tallies]
            total = Tally()
            for t in per:
                total.add(t)
            queues[name] = self._queue_report(name, strategies[name], total, per,
                                              self.in_progress[name],
                                              [b[name] for b in ivr] if ivr else None)
        grand = Tally()
        for t in overall_batches:
            grand.add(t)
        ivr_overall = None
        if ivr:
            ivr_overall = []
            for batch_ivr in ivr:
                all_ivr = IvrTally()
                for it in batch_ivr.values():
                    all_ivr.add(it)
                ivr_overall.append(all_ivr)
        names = sorted(set(strategies.values()))
        overall = self._queue_report("(all)", ",".join(names), grand, overall_batches,
                                     sum(self.in_progress.values()), ivr_overall)
        agent_ci = {aid: half_width(values) for aid, values in self.agent_batches.items()}
        return Report(
            scenario=sc.name, strategy=",".join(names), seed=sc.seed, calls=calls,
            simulated_s=end - start, measured_s=max(0.0, end - warm_end), wall_s=wall,
            batches=sc.batches, overall=overall,
            queues=queues, agents=agent_busy, agents_ci95=agent_ci,
            stale_events=stale_events,
        )

    @staticmethod
    def _queue_report(
        name: str, strategy: str, total: Tally, per: list[Tally], in_progress: int,
        ivr_per: list[IvrTally] | None = None,
    ) -> QueueReport:
        figures, ci95 = total.figures(), half_widths(per)
        counts = None
        if ivr_per is not None:
            ivr_total = IvrTally()
            for it in ivr_per:
                ivr_total.add(it)
            figures.update(ivr_total.figures())
            ci95.update(half_widths(ivr_per, IVR_FIGURES))
            counts = ivr_total.counts()
        return QueueReport(
            name=name, strategy=strategy, offered=total.offered + in_progress,
            answered=total.answered, abandoned=total.abandoned, blocked=total.blocked,
            rejected=total.rejected, diverted=total.diverted, in_progress=in_progress,
            figures=figures, ci95=ci95, ivr=counts,
        )


def _count(t: Tally, rec: CallRecord, info: LiveCall, service_level_s: float,
           wrap_cap_s: float) -> None:
    """One ended call in its queue's tally (``info``: what the runner kept of it)."""
    t.offered += 1
    disp = rec.disposition
    wait = rec.wait_s
    if info.queued:
        t.waited += 1
    if disp == "answered" and rec.answered_at is not None:
        t.answered += 1
        t.wait_answered_s += wait
        if wait <= service_level_s:
            t.answered_in_sl += 1
        t.handle_s += rec.talk_s + min(info.wrap, wrap_cap_s)
    elif disp == "abandoned":
        t.abandoned += 1
        t.wait_abandoned_s += wait
    elif disp == "blocked":
        t.blocked += 1
    elif disp == "rejected":
        t.rejected += 1
    else:
        t.diverted += 1
