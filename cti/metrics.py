"""Prometheus metrics, read from the core's ``statistics()`` snapshots at scrape time.

Nothing is maintained on the hot path: a scrape takes one snapshot of the switchboard (one walk
of its queues, agents and trunks) and of the router and outbox counters, on the event loop's own
thread, so it never reads state that is being changed.

The daemon's HTTP server (``cti.web``, ``[http]``) serves it at ``GET /metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["SwitchboardCollector", "metrics_registry", "render"]

log = logging.getLogger("cti.metrics")

_QUEUE_COUNTERS = (
    ("offered", "Calls that came to the queue, refused ones included"),
    ("answered", "Calls answered from the queue"),
    ("abandoned", "Callers who hung up while waiting"),
    ("blocked", "Calls the queue refused (full, closed, no trunk channel)"),
    ("overflowed", "Calls that left unanswered for another destination"),
    ("answered_in_sl", "Calls answered within the queue's service-level threshold"),
    ("handled", "Calls whose wrap-up ended"),
)
_QUEUE_SECONDS = (
    ("wait_answered_s", "cti_wait_answered_seconds", "Wait of answered calls, summed"),
    ("wait_abandoned_s", "cti_wait_abandoned_seconds", "Wait of abandoned calls, summed"),
    ("talk_s", "cti_talk_seconds", "Talk time, summed"),
    ("wrap_up_s", "cti_wrap_up_seconds", "Wrap-up time, summed"),
)


class SwitchboardCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        stats = runtime.switchboard.statistics(runtime.clock())
        for key, text in _QUEUE_COUNTERS:
            family = CounterMetricFamily(f"cti_calls_{key}", text, labels=["queue"])
            for name, q in stats.queues.items():
                family.add_metric([name], getattr(q, key))
            yield family
        for key, metric, text in _QUEUE_SECONDS:
            family = CounterMetricFamily(metric, text, labels=["queue"])
            for name, q in stats.queues.items():
                family.add_metric([name], getattr(q, key))
            yield family
        waiting = GaugeMetricFamily("cti_queue_waiting", "Callers waiting now", labels=["queue"])
        is_open = GaugeMetricFamily("cti_queue_open", "1 if the queue is open", labels=["queue"])
        longest = GaugeMetricFamily("cti_queue_max_wait_seconds",
                                    "Longest wait of an answered call so far", labels=["queue"])
        level = GaugeMetricFamily("cti_service_level",
                                  "Answered within threshold / offered, so far",
                                  labels=["queue"])
        for name, q in stats.queues.items():
            waiting.add_metric([name], q.waiting)
            is_open.add_metric([name], 1.0 if q.state == "open" else 0.0)
            longest.add_metric([name], q.max_wait_s)
            level.add_metric([name], q.answered_in_sl / q.offered if q.offered else 1.0)
        yield from (waiting, is_open, longest, level)
        agents = GaugeMetricFamily("cti_agents", "Agents per state", labels=["state"])
        counts: dict[str, int] = {}
        for a in stats.agents.values():
            counts[a.state] = counts.get(a.state, 0) + 1
        for state, n in sorted(counts.items()):
            agents.add_metric([state], n)
        yield agents
        trunks = GaugeMetricFamily("cti_trunk_channels_in_use", "Trunk channels in use",
                                   labels=["trunk"])
        for name, t in stats.trunks.items():
            trunks.add_metric([name], t.in_use)
        yield trunks
        router = runtime.switchboard.router.statistics()
        yield CounterMetricFamily("cti_routing_decisions", "Routing decisions taken",
                                  value=router.decisions)
        yield CounterMetricFamily("cti_stale_events",
                                  "Events about calls that had moved on (normal races)",
                                  value=stats.stale_events)
        outbox = runtime.outbox
        yield GaugeMetricFamily("cti_outbox_depth", "Events waiting for the broker",
                                value=len(outbox))
        yield CounterMetricFamily("cti_outbox_dropped", "Events dropped beyond the bound",
                                  value=outbox.dropped)
        yield CounterMetricFamily("cti_events_published", "Events the broker acknowledged",
                                  value=outbox.published)


def metrics_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SwitchboardCollector(runtime))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
