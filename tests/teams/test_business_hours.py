"""Business hours and holidays, read on the team's wall clock: teams.rota.is_within_business_hours (pure)
and the validation a lead meets in the API and the admin (one validator for both)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teams.rota import WEEKDAYS, is_within_business_hours

BERLIN, SAO_PAULO, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Sao_Paulo"), ZoneInfo("America/New_York")
OFFICE = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]


def open_at(wall: dt.datetime, tz: ZoneInfo, *, hours=OFFICE, holidays=()) -> bool:
    return is_within_business_hours(business_hours=hours, holidays=list(holidays), tz=tz, at=wall.replace(tzinfo=tz))


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (dt.datetime(2026, 12, 1, 8, 59, 59), False),
        (dt.datetime(2026, 12, 1, 9, 0), True),
        (dt.datetime(2026, 12, 1, 17, 59, 59), True),
        (dt.datetime(2026, 12, 1, 18, 0), False),  # the end is exclusive
        (dt.datetime(2026, 12, 5, 11, 0), False),  # Saturday
    ],
)
def test_a_window_is_read_on_the_local_wall_clock(wall, expected):
    assert open_at(wall, BERLIN) is expected


def test_the_same_instant_is_open_in_one_zone_and_closed_in_another():
    instant = dt.datetime(2026, 12, 1, 12, 30, tzinfo=dt.UTC)  # 13:30 Berlin, 09:30 São Paulo, 07:30 New York
    results = [
        is_within_business_hours(business_hours=OFFICE, holidays=[], tz=tz, at=instant)
        for tz in (BERLIN, SAO_PAULO, NEW_YORK)
    ]
    assert results == [True, True, False]


def test_a_window_may_end_at_midnight():
    late = [{"days": ["fri"], "start": "20:00", "end": "24:00"}]
    assert open_at(dt.datetime(2026, 12, 4, 23, 59, 59), BERLIN, hours=late)
    assert not open_at(dt.datetime(2026, 12, 5, 0, 0), BERLIN, hours=late)  # Saturday 00:00


def test_no_business_hours_is_never_open():
    assert not open_at(dt.datetime(2026, 12, 1, 11, 0), BERLIN, hours=[])


def test_a_holiday_is_the_whole_local_day():
    christmas = [{"date": "2026-12-25", "name": "Natal"}]
    always = [{"days": list(WEEKDAYS), "start": "00:00", "end": "24:00"}]
    assert not open_at(dt.datetime(2026, 12, 25, 0, 0), SAO_PAULO, hours=always, holidays=christmas)
    assert not open_at(dt.datetime(2026, 12, 25, 23, 59, 59), SAO_PAULO, hours=always, holidays=christmas)
    assert open_at(dt.datetime(2026, 12, 26, 0, 0), SAO_PAULO, hours=always, holidays=christmas)
    # 25 December 02:30 UTC is still the 24th in São Paulo: not the holiday there.
    instant = dt.datetime(2026, 12, 25, 2, 30, tzinfo=dt.UTC)
    assert is_within_business_hours(business_hours=always, holidays=christmas, tz=SAO_PAULO, at=instant)


def test_daylight_saving_days_keep_the_wall_clock():
    # Berlin springs forward on Sunday 29 March 2026 (02:00 → 03:00) and falls back on 25 October.
    sunday = [{"days": ["sun"], "start": "01:00", "end": "04:00"}]
    assert is_within_business_hours(
        business_hours=sunday, holidays=[], tz=BERLIN, at=dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    )  # 01:30 CET
    assert is_within_business_hours(
        business_hours=sunday, holidays=[], tz=BERLIN, at=dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    )  # 03:30 CEST
    assert not is_within_business_hours(
        business_hours=sunday, holidays=[], tz=BERLIN, at=dt.datetime(2026, 3, 29, 2, 0, tzinfo=dt.UTC)
    )  # 04:00 CEST
    # Falling back, 02:30 happens twice: both are inside 01:00-04:00.
    for utc_hour in (0, 1):
        at = dt.datetime(2026, 10, 25, utc_hour, 30, tzinfo=dt.UTC)
        assert at.astimezone(BERLIN).hour == 2
        assert is_within_business_hours(business_hours=sunday, holidays=[], tz=BERLIN, at=at)
    # A holiday on a 25-hour day covers all 25 hours.
    holiday = [{"date": "2026-10-25", "name": "x"}]
    always = [{"days": list(WEEKDAYS), "start": "00:00", "end": "24:00"}]
    for minutes in range(0, 25 * 60, 30):
        at = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
        assert not is_within_business_hours(business_hours=always, holidays=holiday, tz=BERLIN, at=at)


@given(
    instant=st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
    ),
    zone=st.sampled_from(
        ["Europe/Berlin", "America/Sao_Paulo", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
    ),
    start=st.integers(0, 23 * 60),
    length=st.integers(1, 24 * 60),
    day=st.sampled_from(WEEKDAYS),
)
def test_open_exactly_when_the_local_weekday_and_clock_fall_in_the_window(instant, zone, start, length, day):
    end = min(start + length, 24 * 60)
    window = {"days": [day], "start": f"{start // 60:02d}:{start % 60:02d}", "end": f"{end // 60:02d}:{end % 60:02d}"}
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    expected = WEEKDAYS[local.weekday()] == day and start <= minute < end
    assert is_within_business_hours(business_hours=[window], holidays=[], tz=tz, at=instant) is expected
    holiday = [{"date": local.date().isoformat(), "name": "x"}]
    assert not is_within_business_hours(business_hours=[window], holidays=holiday, tz=tz, at=instant)
