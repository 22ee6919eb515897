"""Business hours and holiday calendars: when a queue is open.

Theory of operation. A calendar is a weekly pattern of local wall-clock ranges (minutes of the
day, Monday=0) plus whole-day holidays, in one IANA timezone. The core never reads a clock, so
both questions take ``now`` as a POSIX timestamp.

Every boundary of the pattern is a wall time on a local date, and a wall time is resolved to one
POSIX instant: a time inside a spring-forward gap happens at the first valid instant after it (the
transition itself), and a time in the repeated hour of a fall-back happens at its first occurrence
(``fold=0``). That resolution is monotonic, so each local date yields an ordered list of
half-open UTC *periods*, and the periods of consecutive dates follow each other in order. The
state only flips at a period boundary, so ``next_change`` walks periods date by date instead of
stepping through minutes, merging periods that touch (Monday 00:00-24:00 then Tuesday
00:00-10:00, or a range ending in a gap and the next one starting after it) so no flip is
reported where the queue stays open. The walk stops after ``_HORIZON_DAYS``.

``is_open`` reads the local wall time, which agrees with the periods everywhere except in the
second pass of a repeated hour: no boundary resolves into it, so the state there is the one the
periods give (the state at the end of the first pass) and the queue does not open or close twice.
Boundaries are whole minutes and offsets whole seconds, so both functions work on
``floor(now)``; every instant returned is a whole second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cti.core.errors import ConfigurationError

__all__ = ["BusinessCalendar"]

Ranges = tuple[tuple[int, int], ...]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MINUTES = 1440
_FULL_WEEK: tuple[Ranges, ...] = (((0, _DAY_MINUTES),),) * 7
_HORIZON_DAYS = 400
_SECOND = timedelta(seconds=1)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_HELP = "use mon tue wed thu fri sat sun, a range like mon-fri, or daily"
_RANGE_HELP = "use HH:MM-HH:MM from 00:00 to 23:59, the end may be 24:00"


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Weekly opening hours plus closed holidays, in one IANA timezone."""

    timezone: str
    weekly: tuple[Ranges, ...]
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # an unknown zone fails here rather than at the first call
        if len(self.weekly) != 7:
            raise ValueError(f"weekly needs 7 days (Monday first), got {len(self.weekly)}")
        for day, ranges in zip(_DAYS, self.weekly, strict=True):
            floor = 0
            for start, end in ranges:
                if not floor <= start < end <= _DAY_MINUTES:
                    raise ValueError(f"{day}: ranges must be sorted, disjoint, within 0-1440")
                floor = end

    @classmethod
    def always_open(cls) -> BusinessCalendar:
        return cls("UTC", _FULL_WEEK, frozenset())

    @classmethod
    def parse(
        cls,
        *,
        entry: str,
        timezone: str = "UTC",
        hours: Mapping[str, Sequence[str]] | None = None,
        holidays: Iterable[str | date] = (),
    ) -> BusinessCalendar:
        """Build a calendar from its configuration form; errors name ``entry`` + the bad key."""
        _check_zone(f"{entry}.timezone", timezone)
        weekly = _FULL_WEEK if hours is None else _parse_hours(f"{entry}.hours", hours)
        return cls(timezone, weekly, _parse_holidays(f"{entry}.holidays", holidays))

    def is_open(self, now: float) -> bool:
        """Whether the queue is open at POSIX time ``now``."""
        instant = math.floor(now)
        zone = ZoneInfo(self.timezone)  # cached by zoneinfo, cheap
        local = datetime.fromtimestamp(instant, zone)
        if local.fold:  # second pass of a repeated hour: the wall clock would count it twice
            day = local.date()
            days = (day - timedelta(days=1), day, day + timedelta(days=1))
            return any(s <= instant < e for d in days for s, e in self._periods(d, zone))
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in self.weekly[local.weekday()])

    def next_change(self, now: float) -> float | None:
        """The first instant after ``now`` where ``is_open`` flips; None if none in the horizon."""
        if not any(self.weekly):
            return None
        if not self.holidays and self.weekly == _FULL_WEEK:
            return None
        instant = math.floor(now)
        zone = ZoneInfo(self.timezone)
        # The period holding `instant` can start on the previous local date (a fall-back at
        # midnight puts instants of date D-1 after the start of D).
        first = datetime.fromtimestamp(instant, zone).date() - timedelta(days=1)
        last = first + timedelta(days=_HORIZON_DAYS + 1)
        periods = self._walk(first, last, zone)
        if not self.is_open(now):
            return next((float(s) for s, _ in periods if s > instant), None)
        end = next((e for _, e in periods if e > instant), None)
        if end is None:
            return None
        for start, following_end in periods:
            if start != end:
                return float(end)
            end = following_end
        # Out of periods: a run ending at the horizon's last midnight may go on the day after.
        return float(end) if end < _instant(last + timedelta(days=1), 0, zone) else None

    def _walk(self, first: date, last: date, zone: ZoneInfo) -> Iterator[tuple[int, int]]:
        for offset in range((last - first).days + 1):
            yield from self._periods(first + timedelta(days=offset), zone)

    def _periods(self, day: date, zone: ZoneInfo) -> list[tuple[int, int]]:
        """The open periods of local date ``day`` as [start, end) POSIX seconds."""
        if day in self.holidays:
            return []
        periods = []
        for start, end in self.weekly[day.weekday()]:
            begin, finish = _instant(day, start, zone), _instant(day, end, zone)
            if begin < finish:  # a range wholly inside a spring-forward gap never happens
                periods.append((begin, finish))
        return periods


def _offset(wall: datetime, zone: ZoneInfo, fold: int) -> int:
    offset = zone.utcoffset(wall.replace(fold=fold))
    return 0 if offset is None else offset // _SECOND


def _instant(day: date, minute: int, zone: ZoneInfo) -> int:
    """Resolve wall time ``minute`` of ``day`` to POSIX seconds (gap: forward; fold: first)."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    naive = (wall - _NAIVE_EPOCH) // _SECOND
    before, after = _offset(wall, zone, 0), _offset(wall, zone, 1)
    if before >= after:  # a valid wall time; in a repeated hour fold=0 is the first occurrence
        return naive - before
    # In a gap (PEP 495: fold=0 uses the offset from before the jump): the transition lies in
    # (naive - after, naive - before], and zoneinfo does not expose it, so bisect for the first
    # instant whose wall time has reached `wall`.
    low, high = naive - after, naive - before
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high


def _check_zone(where: str, name: object) -> None:
    problem = f"unknown timezone {name!r}; use an IANA name like 'Europe/Paris' or 'UTC'"
    if not isinstance(name, str):
        raise ConfigurationError(where, problem)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: malformed keys like "../x"
        raise ConfigurationError(where, problem) from exc


def _parse_hours(where: str, hours: object) -> tuple[Ranges, ...]:
    if not isinstance(hours, Mapping):
        raise ConfigurationError(where, "expected a mapping of days to lists of ranges")
    week: list[list[tuple[int, int]]] = [[] for _ in _DAYS]
    owner: dict[int, str] = {}
    for key, ranges in hours.items():
        here = f"{where}.{key}"
        days = _parse_days(here, key)
        for day in days:
            if day in owner:
                raise ConfigurationError(
                    here, f"{_DAYS[day]} is already given by {owner[day]!r}; name each day once"
                )
            owner[day] = str(key)
        if isinstance(ranges, (str, bytes)) or not isinstance(ranges, Sequence):
            raise ConfigurationError(here, "expected a list of ranges like ['08:00-12:00']")
        for index, text in enumerate(ranges):
            start, end = _parse_range(f"{here}[{index}]", text)
            for day in days:
                if start < end:
                    week[day].append((start, end))
                else:  # overnight: the tail belongs to the next day
                    week[day].append((start, _DAY_MINUTES))
                    if end:
                        week[(day + 1) % 7].append((0, end))
    return tuple(_merge(ranges) for ranges in week)


def _parse_days(where: str, key: object) -> list[int]:
    if not isinstance(key, str):
        raise ConfigurationError(where, f"day key must be a string; {_DAY_HELP}")
    days: list[int] = []
    for part in (p.strip() for p in key.lower().split(",")):
        if part == "daily":
            picked = list(range(7))
        else:
            first, dash, last = (s.strip() for s in part.partition("-"))
            low = _day_index(where, first)
            if not dash:
                picked = [low]
            else:
                high = _day_index(where, last)
                if low == high:
                    raise ConfigurationError(
                        where, f"day range {part!r} starts and ends on one day; {_DAY_HELP}"
                    )
                picked = [(low + i) % 7 for i in range((high - low) % 7 + 1)]
        for day in picked:
            if day in days:
                raise ConfigurationError(where, f"{_DAYS[day]} appears twice in {key!r}")
            days.append(day)
    return days


def _day_index(where: str, name: str) -> int:
    if name not in _DAYS:
        raise ConfigurationError(where, f"unknown day {name!r}; {_DAY_HELP}")
    return _DAYS.index(name)


def _parse_range(where: str, text: object) -> tuple[int, int]:
    match = _RANGE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ConfigurationError(where, f"bad range {text!r}; {_RANGE_HELP}")
    start_h, start_m, end_h, end_m = (int(g) for g in match.groups())
    if start_h > 23 or start_m > 59:
        raise ConfigurationError(where, f"bad start time in {text!r}; {_RANGE_HELP}")
    if end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise ConfigurationError(where, f"bad end time in {text!r}; {_RANGE_HELP}")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise ConfigurationError(
            where, f"empty range {text!r}: it starts when it ends; use 00:00-24:00 for a whole day"
        )
    return start, end


def _merge(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:  # overlapping or touching
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _parse_holidays(where: str, holidays: object) -> frozenset[date]:
    if isinstance(holidays, (str, bytes)) or not isinstance(holidays, Iterable):
        raise ConfigurationError(where, "expected a list of ISO dates like ['2026-12-25']")
    days: set[date] = set()
    for index, item in enumerate(holidays):
        here = f"{where}[{index}]"
        if isinstance(item, datetime):  # a date subclass that would never equal a date
            raise ConfigurationError(here, f"expected a date, got the datetime {item!r}")
        if isinstance(item, date):
            days.add(item)
            continue
        if not isinstance(item, str) or not _ISO_DATE.fullmatch(item.strip()):
            raise ConfigurationError(here, f"bad date {item!r}; use an ISO date like '2026-12-25'")
        try:
            days.add(date.fromisoformat(item.strip()))
        except ValueError as exc:
            raise ConfigurationError(here, f"{item!r} is not a calendar date") from exc
    return frozenset(days)
