"""The period a report covers and its intervals, in the site's local time.

A date names a local day (``--to`` includes it); a date and time (``2026-03-02T08:00``) names
an instant (``--to`` then excludes it). Intervals start at local midnight and step by their
length within each day, so a day on which the clocks change has one interval fewer or more,
and ``1d`` intervals are local days (23 or 25 hours on those days).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

__all__ = ["INTERVALS", "Period", "PeriodError", "day_start", "parse_period"]

#: ``--interval`` names and their lengths in seconds.
INTERVALS = {"15m": 900, "30m": 1800, "1h": 3600, "1d": 86_400}


class PeriodError(ValueError):
    """A date or interval the user gave cannot be read."""


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def day_start(at: float, zone: tzinfo | None = None) -> float:
    """The POSIX time of the local midnight that began the day holding ``at``."""
    zone = zone or _local_zone()
    local = datetime.fromtimestamp(at, zone)
    return datetime.combine(local.date(), time(0), zone).timestamp()


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float
    interval: str
    zone: tzinfo
    #: Interval starts, then ``end``: interval k is [bounds[k], bounds[k + 1]).
    bounds: tuple[float, ...]

    def index(self, at: float) -> int | None:
        """The interval holding ``at``, None outside the period."""
        if not self.start <= at < self.end:
            return None
        return bisect.bisect_right(self.bounds, at) - 1

    def spans(self, a: float, b: float) -> list[tuple[int, float]]:
        """[a, b) cut by the intervals: (interval, seconds in it) for each it overlaps."""
        a, b = max(a, self.start), min(b, self.end)
        out: list[tuple[int, float]] = []
        if b <= a:
            return out
        k = bisect.bisect_right(self.bounds, a) - 1
        while a < b:
            edge = min(b, self.bounds[k + 1])
            out.append((k, edge - a))
            a = edge
            k += 1
        return out

    def label(self, at: float) -> str:
        local = datetime.fromtimestamp(at, self.zone)
        if self.interval == "1d":
            return local.strftime("%Y-%m-%d")
        return local.strftime("%Y-%m-%d %H:%M")


def _parse(text: str, zone: tzinfo) -> tuple[datetime, bool]:
    """(local datetime, whether it named a whole day)."""
    try:
        if "T" in text or " " in text:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            return moment, False
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise PeriodError(f"{text!r} is not a date (YYYY-MM-DD) or a date and time "
                          "(YYYY-MM-DDTHH:MM)") from exc
    return datetime.combine(day, time(0), zone), True


def parse_period(first: str | None, last: str | None, interval: str, zone: tzinfo | None,
                 *, now: float) -> Period:
    """``--from`` / ``--to`` (None: today) and ``--interval`` to a Period."""
    if interval not in INTERVALS:
        raise PeriodError(f"--interval {interval!r}: one of {', '.join(INTERVALS)}")
    zone = zone or _local_zone()
    today = datetime.fromtimestamp(now, zone).date().isoformat()
    begin, _ = _parse(first or today, zone)
    finish, whole_day = _parse(last or first or today, zone)
    if whole_day:
        finish = datetime.combine(finish.date() + timedelta(days=1), time(0), zone)
    start, end = begin.timestamp(), finish.timestamp()
    if end <= start:
        raise PeriodError(f"--to {last} is not after --from {first}")
    step = INTERVALS[interval]
    bounds: list[float] = []
    midnight = datetime.combine(begin.date(), time(0), zone)
    while midnight.timestamp() < end:
        day0 = midnight.timestamp()
        midnight = datetime.combine(midnight.date() + timedelta(days=1), time(0), zone)
        day1 = midnight.timestamp()
        k = day0
        while k < day1:
            if k + (day1 - day0 if step >= 86_400 else step) > start and k < end:
                bounds.append(max(k, start))
            k += day1 - day0 if step >= 86_400 else step
    bounds.append(end)
    return Period(start, end, interval, zone, tuple(bounds))
