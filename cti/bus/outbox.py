"""The bounded outbox between the switchboard and the broker.

The runtime appends each notification the moment the switchboard returns it (``put``: no I/O,
no await, no encoding); a publisher task drains it at the broker's pace. Routing therefore never
waits on the broker: when the broker is slow or down, events accumulate here up to ``capacity``.
Beyond that the *oldest* event is dropped (a stale screen pop is worth less than a fresh one,
and retained state topics are re-sent with every change), counted in ``dropped`` and logged at
most every ``log_every_s`` seconds. The sequence number is assigned on ``put``, so a subscriber
sees a gap where events were dropped.

The publisher ``take``s events to send; those not acknowledged when the connection breaks are
given back (``give_back``, to the front, in their order) and sent again after the reconnect, and
subscribers drop any copy by its id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cti.bus.envelope import Envelope, event_type, plain
from cti.bus.topics import topic_for
from cti.core.notifications import Notification

__all__ = ["Outbox", "Pending"]

log = logging.getLogger("cti.bus")


@dataclass(frozen=True, slots=True)
class Pending:
    """One event waiting for the broker."""

    topic: str
    retain: bool
    envelope: Envelope


class Outbox:
    def __init__(
        self,
        site: str,
        capacity: int = 100_000,
        *,
        on_put: Callable[[], None] | None = None,
        log_every_s: float = 10.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("the outbox capacity must be at least 1")
        self.site = site
        self.capacity = capacity
        self._items: deque[Pending] = deque()
        #: Called after each ``put`` (the publisher's ``wake``).
        self.on_put = on_put
        #: Ids are ``{boot}-{seq}``: unique across restarts of the daemon.
        self.boot = uuid.uuid4().hex[:12]
        self.seq = 0
        self.dropped = 0
        self.published = 0
        self._log_every_s = log_every_s
        self._logged_at = -float("inf")
        self._dropped_logged = 0

    def put(self, note: Notification) -> None:
        self.seq += 1
        seq = self.seq
        topic, retain = topic_for(self.site, note)
        at = getattr(note, "at", None)
        if at is None:  # CallEnded carries its time in the record
            at = note.record.ended_at  # type: ignore[attr-defined]
        env = Envelope(f"{self.boot}-{seq}", seq, float(at), self.site, event_type(note),
                       plain(note))
        items = self._items
        if len(items) >= self.capacity:
            items.popleft()
            self.dropped += 1
            self._log_drop()
        items.append(Pending(topic, retain, env))
        if self.on_put is not None:
            self.on_put()

    def take(self) -> Pending | None:
        """The oldest event, out of the outbox (the publisher owns it until acknowledged)."""
        return self._items.popleft() if self._items else None

    def give_back(self, items: list[Pending]) -> None:
        """Events taken but not acknowledged go back to the front, oldest first; what no longer
        fits within the bound is dropped from the oldest, as on ``put``."""
        self._items.extendleft(reversed(items))
        while len(self._items) > self.capacity:
            self._items.popleft()
            self.dropped += 1
            self._log_drop()

    def done(self, item: Pending) -> None:
        """``item`` was acknowledged by the broker."""
        self.published += 1

    def __len__(self) -> int:
        return len(self._items)

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._logged_at >= self._log_every_s:
            log.warning(
                "outbox full (%d events): dropped %d oldest events since the last warning, "
                "%d in all", self.capacity, self.dropped - self._dropped_logged, self.dropped,
            )
            self._logged_at = now
            self._dropped_logged = self.dropped
