"""Tests for cti.core.calendar: hand-built calendars, config errors, the next_change invariant."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.core.calendar import BusinessCalendar
from cti.core.errors import ConfigurationError

ENTRY = "queues.billing"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _at(fields: tuple[int, ...], zone: tzinfo) -> float:
    year, month, day, *rest = fields
    hour, minute, second = (*rest, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


def utc(*fields: int) -> float:
    """``utc(2026, 1, 5, 8)``: a UTC date and time as a POSIX timestamp."""
    return _at(fields, UTC)


def wall(zone: str, *fields: int) -> float:
    """A local wall time that is neither in a gap nor repeated, as a POSIX timestamp."""
    return _at(fields, ZoneInfo(zone))


def calendar(
    hours: Mapping[str, Sequence[str]] | None,
    zone: str = "Europe/Paris",
    holidays: Sequence[str] = (),
) -> BusinessCalendar:
    return BusinessCalendar.parse(entry=ENTRY, timezone=zone, hours=hours, holidays=holidays)


def assert_invariant(cal: BusinessCalendar, now: float) -> float | None:
    state = cal.is_open(now)
    change = cal.next_change(now)
    if change is None:
        # No flip within the ~400-day horizon: spot-check that claim.
        for step in range(1, 50):
            assert cal.is_open(now + step * 7.9 * 86400) == state
        return None
    assert change > now
    for inside in (now + (change - now) / 2, change - 1e-3):
        if now < inside < change:  # (now, change) may hold no float but its ends
            assert cal.is_open(inside) == state, (now, change, inside)
    assert cal.is_open(change) != state, (now, change)
    return change


# --- hand-built calendars ----------------------------------------------------------------------

PARIS_OFFICE = {"mon-fri": ["08:00-12:00", "13:00-18:00"]}


def test_weekday_hours_in_paris() -> None:
    cal = calendar(PARIS_OFFICE)
    assert cal.weekly[0] == ((480, 720), (780, 1080))
    assert cal.weekly[5] == cal.weekly[6] == ()
    paris = "Europe/Paris"
    assert not cal.is_open(wall(paris, 2026, 1, 5, 7, 59, 59))
    assert cal.is_open(wall(paris, 2026, 1, 5, 8))
    assert cal.is_open(wall(paris, 2026, 1, 5, 11, 59, 59) + 0.999)
    assert not cal.is_open(wall(paris, 2026, 1, 5, 12))
    assert cal.next_change(wall(paris, 2026, 1, 5, 10)) == wall(paris, 2026, 1, 5, 12)
    assert cal.next_change(wall(paris, 2026, 1, 5, 12)) == wall(paris, 2026, 1, 5, 13)
    assert cal.next_change(wall(paris, 2026, 1, 5, 7, 59, 59) + 0.5) == utc(2026, 1, 5, 7)  # CET
    # Friday evening to Monday morning, across the weekend.
    assert cal.next_change(wall(paris, 2026, 1, 9, 18)) == wall(paris, 2026, 1, 12, 8)
    assert not cal.is_open(wall(paris, 2026, 1, 10, 10))


def test_holiday_closes_the_whole_day() -> None:
    cal = calendar(PARIS_OFFICE, holidays=["2026-12-25"])
    paris = "Europe/Paris"
    assert cal.holidays == frozenset({date(2026, 12, 25)})
    assert not cal.is_open(wall(paris, 2026, 12, 25, 10))
    assert cal.is_open(wall(paris, 2026, 12, 24, 10))
    assert cal.next_change(wall(paris, 2026, 12, 24, 17)) == wall(paris, 2026, 12, 24, 18)
    assert cal.next_change(wall(paris, 2026, 12, 24, 18)) == wall(paris, 2026, 12, 28, 8)


def test_holiday_week_is_skipped_and_date_objects_are_accepted() -> None:
    week = [date(2026, 12, 21) + timedelta(days=i) for i in range(7)]
    cal = BusinessCalendar.parse(
        entry=ENTRY, timezone="UTC", hours={"daily": ["09:00-17:00"]}, holidays=week
    )
    assert cal.next_change(utc(2026, 12, 20, 17)) == utc(2026, 12, 28, 9)


def test_overnight_range_is_split_at_midnight() -> None:
    cal = calendar({"fri": ["22:00-02:00"]}, zone="UTC")
    assert cal.weekly[4] == ((1320, 1440),)
    assert cal.weekly[5] == ((0, 120),)
    assert cal.is_open(utc(2026, 1, 9, 23))
    assert cal.is_open(utc(2026, 1, 10, 1, 59, 59))
    assert not cal.is_open(utc(2026, 1, 10, 2))
    assert cal.next_change(utc(2026, 1, 9, 21)) == utc(2026, 1, 9, 22)
    assert cal.next_change(utc(2026, 1, 9, 22)) == utc(2026, 1, 10, 2)  # no flip at midnight
    assert cal.next_change(utc(2026, 1, 10, 2)) == utc(2026, 1, 16, 22)


def test_overnight_range_from_sunday_wraps_to_monday() -> None:
    cal = calendar({"sun": ["23:00-01:00"], "mon": ["00:30-08:00"]}, zone="UTC")
    assert cal.weekly[0] == ((0, 480),)  # merged with the spill-over
    assert cal.next_change(utc(2026, 1, 4, 23, 30)) == utc(2026, 1, 5, 8)


def test_instant_just_before_a_change() -> None:
    cal = calendar({"daily": ["00:00-24:00"]}, zone="UTC", holidays=["2031-01-01"])
    change = utc(2031, 1, 1)
    assert cal.next_change(change - 2e-7) == change
    assert cal.is_open(change - 2e-7)
    assert not cal.is_open(change)


def test_end_at_24_00() -> None:
    cal = calendar({"mon": ["18:00-24:00"]}, zone="UTC")
    assert cal.weekly[0] == ((1080, 1440),)
    assert cal.is_open(utc(2026, 1, 5, 23, 59, 59))
    assert not cal.is_open(utc(2026, 1, 6))
    assert cal.next_change(utc(2026, 1, 5, 19)) == utc(2026, 1, 6)


def test_touching_ranges_across_midnight_are_one_period() -> None:
    cal = calendar({"sun": ["22:00-24:00"], "mon": ["00:00-24:00"], "tue": ["00:00-10:00"]})
    paris = "Europe/Paris"
    assert cal.next_change(wall(paris, 2026, 1, 4, 21)) == wall(paris, 2026, 1, 4, 22)
    assert cal.next_change(wall(paris, 2026, 1, 4, 23)) == wall(paris, 2026, 1, 6, 10)
    assert cal.next_change(wall(paris, 2026, 1, 5, 5)) == wall(paris, 2026, 1, 6, 10)


def test_overlapping_and_adjacent_ranges_are_merged() -> None:
    cal = calendar({"wed": ["10:00-12:00", "08:00-10:00", "11:00-13:00", "15:00-16:00"]})
    assert cal.weekly[2] == ((480, 780), (900, 960))


def test_daily() -> None:
    cal = calendar({"daily": ["09:00-17:00"]}, zone="UTC")
    assert all(day == ((540, 1020),) for day in cal.weekly)
    assert cal.is_open(utc(2026, 1, 11, 10))  # a Sunday
    assert cal.next_change(utc(2026, 1, 10, 18)) == utc(2026, 1, 11, 9)


def test_wrapping_day_range_and_lists() -> None:
    cal = calendar({"fri-mon": ["10:00-11:00"], "wed, thu": ["12:00-13:00"]}, zone="UTC")
    assert [bool(day) for day in cal.weekly] == [True, False, True, True, True, True, True]
    assert cal.weekly[1] == ()
    assert cal.next_change(utc(2026, 1, 5, 11)) == utc(2026, 1, 7, 12)  # Mon -> Wed
    assert cal.next_change(utc(2026, 1, 8, 13)) == utc(2026, 1, 9, 10)  # Thu -> Fri


def test_paris_spring_forward() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:00-03:00 never happens.
    cal = calendar({"sun": ["01:30-02:30", "03:00-04:00"]})
    assert cal.next_change(utc(2026, 3, 29)) == utc(2026, 3, 29, 0, 30)
    # 02:30 falls in the gap, at the first valid instant (03:00 CEST), where 03:00-04:00 starts.
    assert cal.next_change(utc(2026, 3, 29, 0, 45)) == utc(2026, 3, 29, 2)
    assert cal.is_open(utc(2026, 3, 29, 1))
    cal = calendar({"sun": ["01:00-02:30"]})
    assert cal.next_change(utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 1)
    # A range wholly inside the gap does not happen that day.
    cal = calendar({"sun": ["02:15-02:45"]})
    assert cal.next_change(utc(2026, 3, 28, 12)) == utc(2026, 4, 5, 0, 15)
    # A 23-hour day.
    cal = calendar({"daily": ["00:00-24:00"]}, holidays=["2026-03-29"])
    assert cal.next_change(utc(2026, 3, 28, 12)) == utc(2026, 3, 28, 23)
    assert cal.next_change(utc(2026, 3, 28, 23)) == utc(2026, 3, 29, 22)


def test_paris_fall_back() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-03:00 happens twice.
    cal = calendar({"sun": ["00:00-02:30"]})
    assert cal.next_change(utc(2026, 10, 24, 21)) == utc(2026, 10, 24, 22)
    assert cal.next_change(utc(2026, 10, 24, 22)) == utc(2026, 10, 25, 0, 30)  # first 02:30
    assert not cal.is_open(utc(2026, 10, 25, 1, 15))  # 02:15 CET, second pass: no reopening
    assert cal.next_change(utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 31, 23)
    cal = calendar({"sun": ["02:30-05:00"]})
    assert cal.next_change(utc(2026, 10, 25)) == utc(2026, 10, 25, 0, 30)
    assert cal.is_open(utc(2026, 10, 25, 1, 10))  # 02:10 CET, second pass: still open
    assert cal.next_change(utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 4)
    # A 25-hour day.
    cal = calendar({"daily": ["00:00-24:00"]}, holidays=["2026-10-25"])
    assert cal.next_change(utc(2026, 10, 24, 12)) == utc(2026, 10, 24, 22)
    assert cal.next_change(utc(2026, 10, 24, 22)) == utc(2026, 10, 25, 23)


def test_new_york_dst() -> None:
    ny = "America/New_York"
    # 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
    cal = calendar({"sun": ["02:30-03:30"]}, zone=ny)
    assert cal.next_change(utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7)
    assert cal.next_change(utc(2026, 3, 8, 7)) == utc(2026, 3, 8, 7, 30)
    # 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC.
    cal = calendar({"daily": ["00:00-01:30", "09:00-17:00"]}, zone=ny)
    assert cal.next_change(utc(2026, 11, 1, 4, 10)) == utc(2026, 11, 1, 5, 30)
    assert not cal.is_open(utc(2026, 11, 1, 6, 15))  # 01:15 EST, the repeated one
    assert cal.next_change(utc(2026, 11, 1, 5, 30)) == utc(2026, 11, 1, 14)
    assert cal.next_change(utc(2026, 11, 1, 14)) == wall(ny, 2026, 11, 1, 17)
    assert cal.next_change(wall(ny, 2026, 11, 1, 17)) == utc(2026, 11, 2, 5)


def test_always_open() -> None:
    for cal in (BusinessCalendar.always_open(), calendar(None)):
        assert cal.weekly == (((0, 1440),),) * 7
        assert cal.is_open(utc(2026, 10, 25, 1, 30))
        assert cal.next_change(utc(2026, 10, 25, 1, 30)) is None


def test_never_open() -> None:
    cal = calendar({})
    assert cal.weekly == ((),) * 7
    assert not cal.is_open(utc(2026, 1, 5, 10))
    assert cal.next_change(utc(2026, 1, 5, 10)) is None


def test_no_change_within_the_horizon_is_none() -> None:
    mondays = [date(2027, 1, 4) + timedelta(weeks=i) for i in range(110)]
    cal = calendar({"mon": ["09:00-10:00"]}, holidays=[d.isoformat() for d in mondays])
    assert cal.next_change(utc(2027, 1, 1)) is None
    assert cal.next_change(utc(2026, 12, 28, 8, 30)) == wall("Europe/Paris", 2026, 12, 28, 10)


def test_repeated_next_change_walks_the_week() -> None:
    cal = calendar(PARIS_OFFICE, holidays=["2026-03-30"])
    now, state, changes = utc(2026, 3, 26), cal.is_open(utc(2026, 3, 26)), 0
    while now < utc(2026, 4, 4):
        change = assert_invariant(cal, now)
        assert change is not None
        assert cal.is_open(change) != state
        now, state, changes = change, not state, changes + 1
    # Thu, Fri, (weekend, Monday holiday), Tue, Wed, Thu, Fri: 4 each; then Monday 6th's opening.
    assert changes == 6 * 4 + 1


# --- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "entry", "words"),
    [
        ({"hours": {"mon-fir": ["08:00-12:00"]}}, "hours.mon-fir", "unknown day 'fir'"),
        ({"hours": {"mon": ["08:00-12:00", "25:00-26:00"]}}, "hours.mon[1]", "bad start time"),
        ({"hours": {"mon": ["08:00-24:30"]}}, "hours.mon[0]", "bad end time"),
        ({"hours": {"mon": ["8am-5pm"]}}, "hours.mon[0]", "bad range '8am-5pm'"),
        ({"hours": {"mon": ["09:00-09:00"]}}, "hours.mon[0]", "empty range"),
        ({"hours": {"mon": [900]}}, "hours.mon[0]", "bad range 900"),
        ({"hours": {"mon": "08:00-12:00"}}, "hours.mon", "expected a list of ranges"),
        ({"hours": ["mon"]}, "hours", "expected a mapping"),
        (
            {"hours": {"mon-fri": ["08:00-12:00"], "mon": ["13:00-14:00"]}},
            "hours.mon",
            "mon is already given by 'mon-fri'",
        ),
        ({"hours": {"daily": [], "sat,sun": []}}, "hours.sat,sun", "sat is already given"),
        ({"hours": {"mon,mon": []}}, "hours.mon,mon", "mon appears twice"),
        ({"hours": {"mon-mon": []}}, "hours.mon-mon", "starts and ends on one day"),
        ({"hours": {"": []}}, "hours.", "unknown day ''"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown timezone 'Mars/Olympus'"),
        ({"timezone": "../etc"}, "timezone", "unknown timezone"),
        (
            {"holidays": ["2026-12-25", "2026-12-26", "2026-02-30"]},
            "holidays[2]",
            "not a calendar date",
        ),
        ({"holidays": ["25/12/2026"]}, "holidays[0]", "use an ISO date"),
        ({"holidays": [datetime(2026, 12, 25)]}, "holidays[0]", "got the datetime"),
        ({"holidays": "2026-12-25"}, "holidays", "expected a list of ISO dates"),
    ],
)
def test_configuration_errors(kwargs: dict[str, object], entry: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        BusinessCalendar.parse(entry=ENTRY, **kwargs)  # type: ignore[arg-type]
    assert caught.value.entry == f"{ENTRY}.{entry}"
    assert words in caught.value.problem
    assert str(caught.value).startswith(f"{ENTRY}.{entry}: ")


def test_error_messages_say_what_is_allowed() -> None:
    with pytest.raises(ConfigurationError) as caught:
        calendar({"mon-fir": []})
    assert caught.value.problem == (
        "unknown day 'fir'; use mon tue wed thu fri sat sun, a range like mon-fri, or daily"
    )
    with pytest.raises(ConfigurationError) as caught:
        calendar({"mon": ["25:00-26:00"]})
    assert "HH:MM-HH:MM" in caught.value.problem
    assert "24:00" in caught.value.problem


def test_unknown_timezone_is_chained() -> None:
    with pytest.raises(ConfigurationError) as caught:
        calendar(None, zone="Mars/Olympus")
    assert isinstance(caught.value.__cause__, ZoneInfoNotFoundError)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="7 days"):
        BusinessCalendar("UTC", ((),) * 6, frozenset())
    with pytest.raises(ValueError, match="sorted"):
        BusinessCalendar("UTC", (((60, 30),),) + ((),) * 6, frozenset())


# --- the next_change invariant over random calendars -------------------------------------------

ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # transitions at midnight
    "America/Havana",  # the repeated hour is 00:00-01:00
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "Asia/Kolkata",
)
START, END = utc(2011, 1, 1), utc(2031, 1, 1)


def _transitions(zone: str) -> list[int]:
    """Instants at which the zone's offset changes, in 2011-2012 and 2025-2027."""
    tz, found = ZoneInfo(zone), []
    for first, days in ((date(2011, 1, 1), 731), (date(2025, 1, 1), 1095)):
        base = math.floor(datetime(first.year, 1, 1, tzinfo=UTC).timestamp())
        for day in range(days):
            low, high = base + day * 86400, base + (day + 1) * 86400
            if (
                datetime.fromtimestamp(low, tz).utcoffset()
                == datetime.fromtimestamp(high, tz).utcoffset()
            ):
                continue
            while high - low > 1:
                middle = (low + high) // 2
                same = (
                    datetime.fromtimestamp(middle, tz).utcoffset()
                    == datetime.fromtimestamp(low, tz).utcoffset()
                )
                low, high = (middle, high) if same else (low, middle)
            found.append(high)
    return found


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}
MINUTES = st.one_of(
    st.integers(0, 1439), st.sampled_from([0, 30, 60, 90, 120, 150, 180, 1380, 1410])
)


def _range_text(bounds: tuple[int, int]) -> str:
    start, end = bounds
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


RANGES = st.lists(
    st.tuples(MINUTES, MINUTES | st.just(1440)).filter(lambda b: b[0] != b[1]).map(_range_text),
    max_size=3,
)
HOURS = st.none() | st.dictionaries(st.sampled_from(DAYS), RANGES, max_size=7)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BusinessCalendar, float]:
    zone = draw(st.sampled_from(ZONES))
    near = draw(st.booleans())
    now: float
    if near:
        now = draw(st.sampled_from(TRANSITIONS[zone] or [int(START)]))
        now += draw(st.floats(-3 * 86400, 3 * 86400, allow_nan=False))
    else:
        now = draw(st.floats(START, END, allow_nan=False))
    around = datetime.fromtimestamp(now, UTC).date()
    holidays = draw(
        st.lists(
            st.dates(date(2010, 12, 1), date(2031, 2, 1))
            | st.builds(lambda n: around + timedelta(days=n), st.integers(-3, 10)),
            max_size=12,
        )
    )
    hours = draw(HOURS)
    return BusinessCalendar.parse(entry=ENTRY, timezone=zone, hours=hours, holidays=holidays), now


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_next_change_invariant(scenario: tuple[BusinessCalendar, float]) -> None:
    cal, now = scenario
    change = assert_invariant(cal, now)
    for _ in range(3):  # walk on: each change must itself be a consistent starting point
        if change is None:
            break
        change = assert_invariant(cal, change)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_is_open_reads_the_wall_clock(scenario: tuple[BusinessCalendar, float]) -> None:
    cal, now = scenario
    local = datetime.fromtimestamp(math.floor(now), ZoneInfo(cal.timezone))
    if local.fold:
        return  # the second pass of a repeated hour follows the periods, checked above
    minute = local.hour * 60 + local.minute
    expected = local.date() not in cal.holidays and any(
        start <= minute < end for start, end in cal.weekly[local.weekday()]
    )
    assert cal.is_open(now) == expected


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_next_change_is_the_first_flip(scenario: tuple[BusinessCalendar, float]) -> None:
    # The invariant samples two points; this scans every minute (all flips in these zones and
    # years fall on whole UTC minutes) to check that no shorter period was skipped.
    cal, now = scenario
    state, change = cal.is_open(now), cal.next_change(now)
    limit = now + 2 * 86400 if change is None else min(change, now + 2 * 86400)
    minute = (math.floor(now) // 60 + 1) * 60
    while minute < limit:
        assert cal.is_open(minute) == state, (now, change, minute)
        minute += 60
