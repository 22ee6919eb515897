"""Queue: open or closed by business hours and holidays, with its own counters.

Opening and closing are timer-driven: ``deadline`` is the calendar's next change, and the
switchboard fires ``OPEN`` or ``CLOSE`` when it passes. Waiting callers are the router's
business; the queue holds the configuration and the statistics that the wallboard, metrics and
reports read. Counting follows one identity, checked by the tests after every step:

    offered = answered + abandoned + blocked + overflowed + in_progress

where *offered* counts every call that came to this queue (including those it refused),
*blocked* those it refused (full, closed, or blocked on the trunk), *overflowed* those that left
unanswered for another destination (max wait), and *in progress* those waiting or being offered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from cti.core._fsm import FastEnum, TimedMachine
from cti.core.config import QueueConfig

__all__ = ["Queue", "QueueInput", "QueueState", "QueueStatistics"]


class QueueState(FastEnum):
    OPEN = "open"
    CLOSED = "closed"


class QueueInput(FastEnum):
    OPEN = enum.auto()
    CLOSE = enum.auto()


TABLE = {
    (QueueState.CLOSED, QueueInput.OPEN): QueueState.OPEN,
    (QueueState.OPEN, QueueInput.CLOSE): QueueState.CLOSED,
}


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    name: str
    state: str
    offered: int
    answered: int
    abandoned: int
    blocked: int
    overflowed: int
    in_progress: int
    waiting: int
    agents_ready: int
    answered_in_sl: int
    service_level_s: float
    #: Sums over answered calls (wait to answer, talk, wrap-up) and abandoned calls (wait).
    wait_answered_s: float
    wait_abandoned_s: float
    talk_s: float
    wrap_up_s: float
    #: Calls whose wrap-up ended (the count behind talk_s + wrap_up_s as handle time).
    handled: int
    max_wait_s: float


class Queue(TimedMachine[QueueState, QueueInput]):
    __slots__ = (
        "abandoned", "answered", "answered_in_sl", "blocked", "config", "handled",
        "in_progress", "max_wait_s", "offered", "overflowed", "override", "talk_s",
        "wait_abandoned_s", "wait_answered_s", "wrap_up_s",
    )
    KIND: ClassVar[str] = "queue"
    TABLE: ClassVar = TABLE

    def __init__(self, config: QueueConfig, now: float) -> None:
        state = QueueState.OPEN if config.calendar.is_open(now) else QueueState.CLOSED
        super().__init__(config.name, state, now)
        self.config = config
        self.deadline = config.calendar.next_change(now)
        self.offered = self.answered = self.abandoned = self.blocked = self.overflowed = 0
        self.in_progress = 0
        self.answered_in_sl = 0
        self.handled = 0
        self.wait_answered_s = self.wait_abandoned_s = self.talk_s = self.wrap_up_s = 0.0
        self.max_wait_s = 0.0
        #: A supervisor's decision that wins over the calendar (None: follow the calendar).
        self.override: bool | None = None

    @property
    def is_open(self) -> bool:
        return self.state is QueueState.OPEN

    def on_calendar(self, now: float) -> bool:
        """The calendar's change came due; returns True if the state changed."""
        should_open = (self.config.calendar.is_open(now) if self.override is None
                       else self.override)
        changed = should_open != self.is_open
        if changed:
            self.fire(QueueInput.OPEN if should_open else QueueInput.CLOSE, now)
        self.deadline = self.config.calendar.next_change(now)
        return changed

    def reconfigure(self, config: QueueConfig, now: float) -> bool:
        self.config = config
        return self.on_calendar(now)

    def statistics(self, waiting: int, agents_ready: int) -> QueueStatistics:
        return QueueStatistics(
            name=self.ident,
            state=self.state.value,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            blocked=self.blocked,
            overflowed=self.overflowed,
            in_progress=self.in_progress,
            waiting=waiting,
            agents_ready=agents_ready,
            answered_in_sl=self.answered_in_sl,
            service_level_s=self.config.service_level_s,
            wait_answered_s=self.wait_answered_s,
            wait_abandoned_s=self.wait_abandoned_s,
            talk_s=self.talk_s,
            wrap_up_s=self.wrap_up_s,
            handled=self.handled,
            max_wait_s=self.max_wait_s,
        )
