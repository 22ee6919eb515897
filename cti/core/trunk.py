"""Trunk: a group of channels with a capacity.

Each call seizes a channel on arrival and releases it when it ends. A call that finds every
channel busy (or the trunk out of service) is blocked: that is a normal outcome, counted, not an
error. ``seize`` derives the input from the count (``SEIZE`` or ``SEIZE_LAST``) before the table
lookup, so the table alone decides the state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Final

from cti.core._fsm import FastEnum, TimedMachine

__all__ = ["Trunk", "TrunkInput", "TrunkState", "TrunkStatistics"]


class TrunkState(FastEnum):
    AVAILABLE = "available"
    FULL = "full"
    OUT_OF_SERVICE = "out-of-service"


class TrunkInput(FastEnum):
    SEIZE = enum.auto()
    SEIZE_LAST = enum.auto()
    RELEASE = enum.auto()
    BLOCK = enum.auto()
    TAKE_OUT = enum.auto()
    RESTORE = enum.auto()


_S, _I = TrunkState, TrunkInput

TABLE: Final = {
    (_S.AVAILABLE, _I.SEIZE): _S.AVAILABLE,
    (_S.AVAILABLE, _I.SEIZE_LAST): _S.FULL,
    (_S.AVAILABLE, _I.RELEASE): _S.AVAILABLE,
    (_S.FULL, _I.RELEASE): _S.AVAILABLE,
    (_S.FULL, _I.BLOCK): _S.FULL,
    (_S.AVAILABLE, _I.TAKE_OUT): _S.OUT_OF_SERVICE,
    (_S.FULL, _I.TAKE_OUT): _S.OUT_OF_SERVICE,
    (_S.OUT_OF_SERVICE, _I.BLOCK): _S.OUT_OF_SERVICE,
    # Calls up when the trunk was taken out of service still end normally.
    (_S.OUT_OF_SERVICE, _I.RELEASE): _S.OUT_OF_SERVICE,
    (_S.OUT_OF_SERVICE, _I.RESTORE): _S.AVAILABLE,
}


# Read on every seize and release, as module globals (see ``cti.core.call`` for why).
_AVAILABLE: Final = _S.AVAILABLE
_SEIZE_LAST: Final = _I.SEIZE_LAST


@dataclass(frozen=True, slots=True)
class TrunkStatistics:
    name: str
    state: str
    capacity: int | None
    in_use: int
    peak: int
    seized: int
    blocked: int
    #: Integral of channels in use over time: divided by elapsed time, the mean load in Erlang.
    channel_seconds: float


class Trunk(TimedMachine[TrunkState, TrunkInput]):
    __slots__ = ("_load_since", "blocked", "capacity", "channel_seconds", "in_use", "peak",
                 "seized")
    KIND: ClassVar[str] = "trunk"
    TABLE: ClassVar = TABLE

    def __init__(self, name: str, capacity: int | None, now: float) -> None:
        super().__init__(name, TrunkState.AVAILABLE, now)
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self.seized = 0
        self.blocked = 0
        self.channel_seconds = 0.0
        self._load_since = now
        if capacity == 0:
            self.state = TrunkState.FULL

    def seize(self, now: float) -> bool:
        """Take a channel for a new call; False (and counted) if the call is blocked."""
        if self.state is not _AVAILABLE:
            self.fire(TrunkInput.BLOCK, now)
            self.blocked += 1
            return False
        in_use = self.in_use
        if self.capacity is not None and in_use + 1 >= self.capacity:
            self.fire(_SEIZE_LAST, now)
        # else SEIZE, a self-loop of AVAILABLE in the table: nothing moves (a test holds the
        # table to that), and the lookup is skipped, since every call seizes a channel.
        self.channel_seconds += in_use * (now - self._load_since)
        self._load_since = now
        self.in_use = in_use = in_use + 1
        self.seized += 1
        if in_use > self.peak:  # noqa: PLR1730 - a branch is cheaper than max(), per call
            self.peak = in_use
        return True

    def release(self, now: float) -> None:
        if self.state is not _AVAILABLE:  # RELEASE is a self-loop of AVAILABLE
            self.fire(TrunkInput.RELEASE, now)
        self.channel_seconds += self.in_use * (now - self._load_since)
        self._load_since = now
        self.in_use -= 1

    def statistics(self, now: float) -> TrunkStatistics:
        return TrunkStatistics(
            name=self.ident,
            state=self.state.value,
            capacity=self.capacity,
            in_use=self.in_use,
            peak=self.peak,
            seized=self.seized,
            blocked=self.blocked,
            channel_seconds=self.channel_seconds + self.in_use * (now - self._load_since),
        )
