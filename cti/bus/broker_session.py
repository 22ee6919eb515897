"""One client's session in the built-in broker: its subscriptions, the messages waiting for it,
those sent at QoS 1 and not yet acknowledged, and the QoS 2 packet ids it is still releasing.

The session outlives its connection when the client asked for that (MQTT 3.1.1 clean session
off, MQTT 5 session expiry above 0): its QoS 1 messages wait for the reconnect, and the
unacknowledged ones are sent again with DUP set (the only redelivery MQTT 5 allows). The queue
is bounded: when a client reads too slowly or stays away, the oldest waiting message is dropped
and counted, so one slow subscriber holds memory for ``queue_limit`` messages, no more, and
never delays the others.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.bus.mqtt_packets import Publish
from cti.bus.mqtt_wire import Properties

if TYPE_CHECKING:
    from cti.bus.broker_connection import Connection

__all__ = ["Message", "Outgoing", "Session", "SubOptions"]


@dataclass(frozen=True, slots=True)
class Message:
    """A message as the broker routes it: the publisher's properties that travel with it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties
    origin: str
    #: Loop time after which it is no longer delivered (MQTT 5 message expiry); None: never.
    expires_at: float | None = None

    def remaining_expiry(self, now: float) -> int | None:
        if self.expires_at is None:
            return None
        return max(0, math.ceil(self.expires_at - now))


@dataclass(frozen=True, slots=True)
class SubOptions:
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    subscription_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message on its way to one session, at the QoS and flags this subscriber gets."""

    message: Message
    qos: int
    retain: bool
    subscription_ids: tuple[int, ...] = ()


class Session:
    def __init__(self, client_id: str, queue_limit: int) -> None:
        self.client_id = client_id
        self.subscriptions: dict[str, SubOptions] = {}
        self.queue: deque[Outgoing] = deque()
        self.queue_limit = queue_limit
        #: packet id -> the PUBLISH sent at QoS 1 and not acknowledged, in sending order.
        self.inflight: OrderedDict[int, Publish] = OrderedDict()
        #: QoS 2 packet ids received and not yet released (PUBREL), so a resent PUBLISH is
        #: not delivered twice.
        self.qos2_in: set[int] = set()
        self._next_id = 0
        self.connection: Connection | None = None
        #: Seconds the session outlives its connection (0: it ends with it).
        self.expiry_s = 0.0
        self.expiry_timer: asyncio.TimerHandle | None = None
        self.will_timer: asyncio.TimerHandle | None = None
        #: A will waiting out its MQTT 5 will delay (not sent if the client comes back).
        self.pending_will: Message | None = None
        self.dropped = 0

    def packet_id(self) -> int:
        """A packet id not in use by a message in flight."""
        for _ in range(0x10000):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self.inflight:
                return self._next_id
        raise RuntimeError("every packet id is in flight")  # the window is far smaller

    def enqueue(self, out: Outgoing) -> bool:
        """Keep ``out`` for sending; True if the oldest waiting message was dropped for it."""
        if self.connection is None and out.qos == 0:
            return False  # a client away gets its QoS 1 messages later, not its QoS 0 ones
        queue = self.queue
        full = len(queue) >= self.queue_limit
        if full:
            queue.popleft()
            self.dropped += 1
        queue.append(out)
        return full

    def cancel_timers(self) -> None:
        for timer in (self.expiry_timer, self.will_timer):
            if timer is not None:
                timer.cancel()
        self.expiry_timer = self.will_timer = None
