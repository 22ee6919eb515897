"""An in-memory bus for tests and the simulator: the outbox drained into a list, with the
broker's retained-message and topic-filter semantics, and no network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cti.bus.envelope import Envelope
from cti.bus.outbox import Outbox
from cti.bus.topics import topic_matches

__all__ = ["MemoryBus"]


@dataclass
class MemoryBus:
    outbox: Outbox
    #: Every (topic, envelope) published, in order.
    messages: list[tuple[str, Envelope]] = field(default_factory=list)
    retained: dict[str, Envelope] = field(default_factory=dict)
    _subscribers: list[tuple[str, Callable[[str, Envelope], None]]] = field(
        default_factory=list)

    def subscribe(self, pattern: str, callback: Callable[[str, Envelope], None]) -> None:
        """Call ``callback(topic, envelope)`` for each event on a matching topic, starting with
        the retained ones, as a broker would."""
        self._subscribers.append((pattern, callback))
        for topic, env in self.retained.items():
            if topic_matches(pattern, topic):
                callback(topic, env)

    def pump(self) -> int:
        """Deliver everything in the outbox now; returns how many events went out."""
        n = 0
        while (item := self.outbox.take()) is not None:
            self.messages.append((item.topic, item.envelope))
            if item.retain:
                self.retained[item.topic] = item.envelope
            for pattern, callback in self._subscribers:
                if topic_matches(pattern, item.topic):
                    callback(item.topic, item.envelope)
            self.outbox.done(item)
            n += 1
        return n
