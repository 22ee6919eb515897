"""Call arrival processes: Poisson at a constant rate, or at a piecewise-constant daily profile.

A profile is a list of rates, one per interval (48 half hours, 24 hours, 96 quarter hours...),
repeated every ``len(rates) * interval_s`` seconds. Arrivals are generated exactly: within an
interval the process is Poisson at that interval's rate, and because the exponential is
memoryless a gap that crosses into the next interval is simply redrawn from the boundary at the
new rate (no thinning, no approximation).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

__all__ = ["ArrivalProcess", "Poisson", "RateProfile"]


class ArrivalProcess:
    def next_after(self, t: float, rng: random.Random) -> float:
        """The first arrival after ``t`` (``math.inf`` if there is none)."""
        raise NotImplementedError

    def mean_rate(self) -> float:
        """Calls per second, averaged over a cycle."""
        raise NotImplementedError


class Poisson(ArrivalProcess):
    __slots__ = ("rate_per_s",)

    def __init__(self, rate_per_s: float) -> None:
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError(f"arrival rate must be > 0 calls per second, not {rate_per_s}")
        self.rate_per_s = rate_per_s

    def next_after(self, t: float, rng: random.Random) -> float:
        return t + rng.expovariate(self.rate_per_s)

    def mean_rate(self) -> float:
        return self.rate_per_s


class RateProfile(ArrivalProcess):
    """Rates in calls per second for consecutive intervals of ``interval_s``, cyclic."""

    __slots__ = ("interval_s", "period_s", "rates")

    def __init__(self, rates_per_s: Sequence[float], interval_s: float) -> None:
        if not rates_per_s:
            raise ValueError("a rate profile needs at least one rate")
        if any(not (math.isfinite(r) and r >= 0) for r in rates_per_s):
            raise ValueError("profile rates must be finite and >= 0")
        if not any(rates_per_s):
            raise ValueError("a profile whose every rate is 0 produces no calls")
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval must be > 0 seconds, not {interval_s}")
        self.rates = tuple(rates_per_s)
        self.interval_s = interval_s
        self.period_s = interval_s * len(self.rates)

    def rate_at(self, t: float) -> float:
        return self.rates[int((t % self.period_s) // self.interval_s) % len(self.rates)]

    def next_after(self, t: float, rng: random.Random) -> float:
        interval = self.interval_s
        while True:
            slot = math.floor(t / interval)
            end = (slot + 1) * interval
            if end <= t:  # t sits on a boundary that rounding put in the slot before
                slot += 1
                end = (slot + 1) * interval
            rate = self.rates[slot % len(self.rates)]
            if rate > 0:
                nxt = t + rng.expovariate(rate)
                if nxt < end:
                    return nxt
            t = end

    def mean_rate(self) -> float:
        return math.fsum(self.rates) / len(self.rates)
