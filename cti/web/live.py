"""The live feed: statistics snapshots taken by the HTTP server at its own pace.

The routing core is never told that anybody watches: nothing is pushed per call. Every
``[http] sample_s`` seconds, while a stream is open, the feed takes one snapshot of the
switchboard (one walk of its queues, agents and calls in progress, on the loop's thread, so
nothing it reads is half changed), builds the document once, encodes it once, and hands the
bytes to every open stream. A stream that cannot keep up skips to the latest document
instead of queueing old ones. With no stream open, the feed only wakes at interval boundaries
to mark the day's counters; API requests reuse a document younger than ``sample_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from cti.core import CallState
from cti.report.compute import ALL, NO_QUEUE, Site, compute_report
from cti.report.period import Period, day_start
from cti.web.documents import Live, document
from cti.web.ledger import DayLedger, Vector

if TYPE_CHECKING:
    from cti.runtime import Runtime

__all__ = ["LiveFeed"]

log = logging.getLogger("cti.web")

#: Callers counted as waiting (as the router's count is): in queue, not yet ringing an agent.
_WAITING = CallState.QUEUED


class LiveFeed:
    def __init__(self, runtime: Runtime, sample_s: float) -> None:
        self.runtime = runtime
        self.sample_s = sample_s
        wallboard = runtime.settings.wallboard
        self.zone = ZoneInfo(wallboard.timezone) if wallboard.timezone else None
        self.ledger = DayLedger(wallboard.interval_min * 60.0, self.zone)
        self.started_at = runtime.clock()
        #: Snapshots taken so far (each one walk of the switchboard).
        self.snapshots = 0
        self._doc: dict[str, Any] | None = None
        self._encoded = b""
        self._taken = -float("inf")  # monotonic time of the last snapshot
        self._streams: set[asyncio.Queue[bytes | None]] = set()
        #: Set when the first stream opens: the sampler may be asleep until a boundary.
        self._wake = asyncio.Event()

    # -- documents --------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The latest document, taken now if the last is older than ``sample_s``."""
        if self._doc is None or time.monotonic() - self._taken >= self.sample_s:
            self._sample()
        assert self._doc is not None
        return self._doc

    def _sample(self) -> None:
        runtime = self.runtime
        sb = runtime.switchboard
        now = runtime.clock()
        stats = sb.statistics(now)
        self.ledger.update(stats)
        longest: dict[str, float] = {}
        # Calls in progress, not agents or queues: tens to a few thousand, once a sample.
        for call in sb.calls.values():
            queue, since = call.pending_in, call.entered_at
            if queue is not None and since is not None and call.state is _WAITING \
                    and call.callback_number is None:
                waited = now - since
                if waited > longest.get(queue, 0.0):
                    longest[queue] = waited
        settings = runtime.settings
        live = Live(
            agent_queues={a.ident: a.queues for a in sb.agents.values()},
            longest_wait_s=longest,
            names={a.agent_id: a.name for a in settings.switchboard.agents},
        )
        self._doc = document(stats, self.ledger, live, site=runtime.site,
                             wallboard=settings.wallboard)
        self._encoded = json.dumps(self._doc, separators=(",", ":")).encode()
        self._taken = time.monotonic()
        self.snapshots += 1

    # -- streams ----------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A stream's mailbox: it holds the latest document only (None: the server stops)."""
        box: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self.document()
        box.put_nowait(self._encoded)
        self._streams.add(box)
        self._wake.set()
        return box

    def unsubscribe(self, box: asyncio.Queue[bytes | None]) -> None:
        self._streams.discard(box)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def _publish(self, item: bytes | None) -> None:
        for box in self._streams:
            if box.full():  # a slow reader skips to the latest
                box.get_nowait()
            box.put_nowait(item)

    def close(self) -> None:
        self._publish(None)

    async def run(self) -> None:
        """Sample while streams are open; mark interval boundaries in any case."""
        runtime = self.runtime
        while True:
            wait = self.sample_s
            boundary = self.ledger.next_boundary
            if not self._streams and boundary is not None:
                wait = max(wait, (boundary - runtime.clock()) / runtime.speed)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, wait))
            due = boundary is None or runtime.clock() >= boundary
            if self._streams or due:
                self._sample()
                if self._streams:
                    self._publish(self._encoded)

    # -- today before this daemon ----------------------------------------------------------

    async def prefill(self) -> None:
        """Today's figures from before this daemon started, read from the store."""
        store = self.runtime.store
        if store is None:
            return
        day = day_start(self.started_at, self.ledger.zone)
        end = self.started_at
        if end <= day:
            return
        step = self.ledger.interval_s
        n = int((end - day) // step) + 1
        bounds = tuple(sorted({*(min(day + k * step, end) for k in range(n)), end}))
        period = Period(day, end, "live", self.zone or _local_zone(), bounds)
        try:
            site = Site.of(self.runtime.settings.switchboard)
            # Calls of this run are the live part: only those ended before its start.
            by_queue = await compute_report(store.engine, period, by="queue", site=site,
                                            now=end, ended_before=end)
            by_agent = await compute_report(store.engine, period, by="agent", site=site,
                                            now=end, ended_before=end)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("wallboard: today's figures before this start are not available: %s",
                        exc)
            return
        queues: dict[int, dict[str, Vector]] = {}
        for interval in by_queue.intervals:
            for key, row in interval.items():
                if key in {ALL, NO_QUEUE}:
                    continue
                c = row.calls
                k = int((row.start - day) // step)
                queues.setdefault(k, {})[key] = (
                    c.offered, c.answered, c.abandoned, c.blocked, c.rejected + c.diverted,
                    c.answered_in_sl, c.wait_answered_s, c.wait_abandoned_s, c.talk_s,
                    c.wrap_up_s, c.answered)
        agents = {key: (float(row.calls.answered), float(row.calls.answered), 0.0,
                        row.calls.talk_s)
                  for key, row in by_agent.totals.items() if key != ALL}
        self.ledger.set_base(day, _merge(queues), agents)


def _merge(queues: Mapping[int, Mapping[str, Vector]]) -> dict[int, dict[str, Vector]]:
    return {k: {name: tuple(float(x) for x in v) for name, v in per.items()}
            for k, per in queues.items()}


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone
