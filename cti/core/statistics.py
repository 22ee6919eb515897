"""Frozen snapshots of the switchboard's figures, for metrics, the wallboard, the bus and tests.

Taking a snapshot walks every queue, agent and trunk once; the hot path only bumps counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.core.agent import AgentState, AgentStatistics
from cti.core.queue import QueueStatistics
from cti.core.trunk import TrunkStatistics

if TYPE_CHECKING:
    from cti.core.switchboard import Switchboard

__all__ = ["SwitchboardStatistics"]


@dataclass(frozen=True, slots=True)
class SwitchboardStatistics:
    at: float
    queues: Mapping[str, QueueStatistics]
    agents: Mapping[str, AgentStatistics]
    trunks: Mapping[str, TrunkStatistics]
    calls_active: int
    arrived: int
    #: Calls ended, per disposition.
    ended: Mapping[str, int]
    #: Events about calls or offers that had already moved on (normal races), ignored.
    stale_events: int

    @classmethod
    def of(cls, sb: Switchboard, now: float) -> SwitchboardStatistics:
        ready: dict[str, int] = dict.fromkeys(sb.queues, 0)
        for agent in sb.agents.values():
            if agent.state is AgentState.READY:
                for name in agent.queues:
                    ready[name] += 1
        return cls(
            at=now,
            queues={
                name: q.statistics(sb.router.waiting(name), ready[name])
                for name, q in sb.queues.items()
            },
            agents={agent_id: a.statistics(now) for agent_id, a in sb.agents.items()},
            trunks={name: t.statistics(now) for name, t in sb.trunks.items()},
            calls_active=len(sb.calls),
            arrived=sb.arrived,
            ended=dict(sb.ended),
            stale_events=sb.stale_events,
        )
