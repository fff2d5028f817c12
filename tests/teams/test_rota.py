"""The pure rota engine: hand-offs in local wall-clock time, across daylight saving and New Year."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teams import rota
from tests.teams.world import utc

UTC = dt.UTC


def local(shift, tz):
    return shift.start.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def weekly(tz, start_local, window_start, window_end, members=(1, 2, 3), length=dt.timedelta(days=7)):
    return rota.generate(
        start_local=start_local,
        length=length,
        member_ids=list(members),
        tz=ZoneInfo(tz),
        window_start=window_start,
        window_end=window_end,
    )


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Europe/Berlin", dt.date(2027, 3, 28)),
        ("Europe/Berlin", dt.date(2027, 10, 31)),
        ("America/New_York", dt.date(2027, 3, 14)),
        ("America/New_York", dt.date(2027, 11, 7)),
        ("America/Sao_Paulo", dt.date(2027, 1, 1)),
    ],
)
def test_daily_handoff_keeps_local_wall_time_across_dst(tz, day):
    start_local = dt.datetime.combine(day - dt.timedelta(days=3), dt.time(9))
    shifts = weekly(tz, start_local, utc(2026, 1, 1), utc(2028, 1, 1), length=dt.timedelta(days=1))
    around = [s for s in shifts if abs((s.start.date() - day).days) <= 2]
    assert len(around) >= 4
    assert all(local(s, tz).time() == dt.time(9) for s in around)
    # Contiguous: one shift ends where the next starts, even on the 23- or 25-hour day.
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:], strict=False))


def test_berlin_spring_forward_day_is_23_hours_and_fall_back_25():
    shifts = weekly(
        "Europe/Berlin", dt.datetime(2027, 3, 1, 9), utc(2027, 3, 26), utc(2027, 11, 2), length=dt.timedelta(days=1)
    )
    by_day = {local(s, "Europe/Berlin").date(): s for s in shifts}
    assert by_day[dt.date(2027, 3, 27)].end - by_day[dt.date(2027, 3, 27)].start == dt.timedelta(hours=23)
    assert by_day[dt.date(2027, 10, 30)].end - by_day[dt.date(2027, 10, 30)].start == dt.timedelta(hours=25)


def test_pt12h_rotation_across_dst_keeps_9_and_21():
    shifts = weekly(
        "America/New_York",
        dt.datetime(2027, 3, 10, 9),
        utc(2027, 3, 10, 14),
        utc(2027, 3, 18),
        length=dt.timedelta(hours=12),
        members=(1, 2),
    )
    times = {local(s, "America/New_York").time() for s in shifts}
    assert times == {dt.time(9), dt.time(21)}
    # Alternating members, nobody doubled.
    assert [s.member_id for s in shifts[:6]] == [1, 2, 1, 2, 1, 2]


def test_lord_howe_half_hour_shift():
    # Lord Howe moves its clocks by 30 minutes (2027-04-04 02:00 → 01:30).
    shifts = weekly(
        "Australia/Lord_Howe",
        dt.datetime(2027, 3, 30, 9),
        utc(2027, 3, 30),
        utc(2027, 4, 10),
        length=dt.timedelta(days=1),
    )
    assert all(local(s, "Australia/Lord_Howe").time() == dt.time(9) for s in shifts)
    day = next(s for s in shifts if local(s, "Australia/Lord_Howe").date() == dt.date(2027, 4, 3))
    assert day.end - day.start == dt.timedelta(hours=24, minutes=30)


def test_nonexistent_time_moves_forward_and_ambiguous_takes_first():
    berlin = ZoneInfo("Europe/Berlin")
    # 2027-03-28 02:30 does not exist: clocks jump 02:00 CET → 03:00 CEST (01:00 UTC).
    assert rota.localize(dt.datetime(2027, 3, 28, 2, 30), berlin) == utc(2027, 3, 28, 1)
    # 2027-10-31 02:30 happens twice: first in CEST (00:30 UTC).
    assert rota.localize(dt.datetime(2027, 10, 31, 2, 30), berlin) == utc(2027, 10, 31, 0, 30)


def test_weekly_rotation_across_new_year_skips_and_doubles_nobody():
    # 2026 has 53 ISO weeks: `week mod N` would give one person two weeks in a row at New Year.
    shifts = weekly(
        "America/Sao_Paulo", dt.datetime(2026, 11, 30, 9), utc(2026, 11, 30, 12), utc(2027, 3, 1), members=(1, 2, 3)
    )
    members = [s.member_id for s in shifts]
    assert members == [(1, 2, 3)[i % 3] for i in range(len(members))]
    assert all(a != b for a, b in zip(members, members[1:], strict=False))


def A(member, start, end, source=rota.SHIFT, ref=None):
    return rota.Assignment(member, start, end, source, ref)


def test_override_splits_a_shift_and_the_shift_resumes():
    shifts = [A(1, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8), ref=10)]
    overrides = [A(2, utc(2027, 1, 8), utc(2027, 1, 9), rota.OVERRIDE, ref=20)]
    segments = rota.schedule(shifts, overrides, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8))
    assert [(s.member_id, s.start, s.end, s.source) for s in segments] == [
        (1, utc(2027, 1, 4, 8), utc(2027, 1, 8), rota.SHIFT),
        (2, utc(2027, 1, 8), utc(2027, 1, 9), rota.OVERRIDE),
        (1, utc(2027, 1, 9), utc(2027, 1, 11, 8), rota.SHIFT),
    ]
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 8, 12)).member_id == 2
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 9)).member_id == 1
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 11, 8)) is None


def test_a_shift_whose_person_is_away_leaves_the_role_to_an_override_or_to_nobody():
    shifts = [A(1, utc(2027, 1, 4, 8), utc(2027, 1, 11, 8), ref=10)]
    overrides = [A(2, utc(2027, 1, 8), utc(2027, 1, 9), rota.OVERRIDE, ref=20)]
    away = [A(1, utc(2027, 1, 7), utc(2027, 1, 10), rota.TIME_OFF, ref=30)]
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 7, 12), away) is None
    assert rota.shift_absence_at(shifts, utc(2027, 1, 7, 12), away).ref_id == 30
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 8, 12), away).member_id == 2
    assert rota.oncall_at(shifts, overrides, utc(2027, 1, 10), away).member_id == 1
    assert rota.shift_absence_at(shifts, utc(2027, 1, 10), away) is None
    assert rota.shift_absence_at(shifts, utc(2027, 1, 12), away) is None


def test_gaps_are_reported_exactly():
    shifts = [A(1, utc(2027, 1, 1), utc(2027, 1, 2)), A(2, utc(2027, 1, 3), utc(2027, 1, 4))]
    overrides = [A(3, utc(2027, 1, 2, 12), utc(2027, 1, 2, 18), rota.OVERRIDE)]
    gaps = rota.gaps(rota.schedule(shifts, overrides, utc(2026, 12, 31), utc(2027, 1, 5)))
    assert [(g.start, g.end) for g in gaps] == [
        (utc(2026, 12, 31), utc(2027, 1, 1)),
        (utc(2027, 1, 2), utc(2027, 1, 2, 12)),
        (utc(2027, 1, 2, 18), utc(2027, 1, 3)),
        (utc(2027, 1, 4), utc(2027, 1, 5)),
    ]


def test_next_person_and_handoffs():
    shifts = [
        A(1, utc(2027, 1, 1), utc(2027, 1, 2), ref=1),
        A(1, utc(2027, 1, 2), utc(2027, 1, 3), ref=2),
        A(2, utc(2027, 1, 3), utc(2027, 1, 4), ref=3),
    ]
    segments = rota.schedule(shifts, [], utc(2027, 1, 1), utc(2027, 1, 4))
    assert len(segments) == 2  # back-to-back shifts of one person read as one stretch
    nxt = rota.next_person(segments, utc(2027, 1, 1, 5))
    assert (nxt.member_id, nxt.start) == (2, utc(2027, 1, 3))
    [handoff] = rota.handoffs(segments)
    assert (handoff.at, handoff.outgoing_member_id, handoff.incoming_member_id) == (utc(2027, 1, 3), 1, 2)


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
    "Europe/London",
    "Asia/Tehran",
    "UTC",
    "Africa/Casablanca",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tz=st.sampled_from(ZONES),
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 1, 1)),
    length_hours=st.sampled_from([3, 6, 8, 12, 24, 48, 72, 168, 336]),
    people=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=6, unique=True),
    offset_days=st.integers(min_value=0, max_value=400),
    span_days=st.integers(min_value=1, max_value=120),
)
def test_generated_shifts_are_contiguous_cover_the_window_and_are_fair(
    tz, start, length_hours, people, offset_days, span_days
):
    start = start.replace(second=0, microsecond=0)
    length = dt.timedelta(hours=length_hours)
    zone = ZoneInfo(tz)
    first = rota.localize(start, zone)
    window_start = first + dt.timedelta(days=offset_days)
    window_end = window_start + dt.timedelta(days=span_days)
    shifts = rota.generate(
        start_local=start, length=length, member_ids=people, tz=zone, window_start=window_start, window_end=window_end
    )
    assert shifts, "a window after the rotation start always has shifts"
    assert shifts[0].start <= window_start and shifts[-1].end >= window_end
    for a, b in zip(shifts, shifts[1:], strict=False):
        assert a.end == b.start  # contiguous, never overlapping
        assert b.sequence == a.sequence + 1
    assert all(s.end > s.start for s in shifts)
    # Over whole cycles everyone gets the same number of shifts.
    whole = len(shifts) - len(shifts) % len(people)
    counts = {p: 0 for p in people}
    for s in shifts[:whole]:
        counts[s.member_id] += 1
    assert len(set(counts.values())) == 1


def test_format_local_names_the_wall_time_and_the_zone():
    instant = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
    assert rota.format_local(instant, ZoneInfo("Europe/Berlin")) == "Mon 7 Dec 2026 09:00 CET (Europe/Berlin)"
    assert (
        rota.format_local(instant, ZoneInfo("Asia/Kathmandu"), year=False) == "Mon 7 Dec 13:45 +0545 (Asia/Kathmandu)"
    )
    assert rota.format_local(instant, ZoneInfo("America/Sao_Paulo"), zone=False) == "Mon 7 Dec 2026 05:00"


@pytest.mark.parametrize(
    ("zone", "wall", "kind"),
    [
        ("Europe/Berlin", dt.datetime(2027, 3, 28, 2, 30), "nonexistent"),
        ("Europe/Berlin", dt.datetime(2027, 10, 31, 2, 30), "ambiguous"),
        ("Europe/Berlin", dt.datetime(2027, 10, 31, 3, 30), None),
        ("Australia/Lord_Howe", dt.datetime(2026, 10, 4, 2, 15), "nonexistent"),  # a half-hour jump
        ("America/Sao_Paulo", dt.datetime(2026, 12, 24, 9, 0), None),
    ],
)
def test_wall_time_kind_tells_skipped_and_repeated_times(zone, wall, kind):
    assert rota.wall_time_kind(wall, ZoneInfo(zone)) == kind


def test_local_days_run_from_local_midnight_even_on_a_23_hour_day():
    start, end = rota.local_days(dt.date(2027, 3, 28), 1, ZoneInfo("Europe/Berlin"))
    assert start == dt.datetime(2027, 3, 27, 23, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(hours=23)


def _seg(member_id, day_from, day_to):
    base = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
    return rota.Segment(member_id, base + dt.timedelta(days=day_from), base + dt.timedelta(days=day_to), "shift")


def test_schedule_changes_are_the_stretches_where_the_person_differs():
    before = [_seg(1, 0, 7), _seg(2, 7, 14), _seg(1, 14, 21)]
    after = [_seg(1, 0, 7), _seg(3, 7, 10), _seg(2, 10, 14), _seg(None, 14, 21)]
    changes = rota.schedule_changes(before, after)
    assert [(c.before_member_id, c.after_member_id) for c in changes] == [(2, 3), (1, None)]
    assert changes[0].start == before[1].start and changes[0].end == after[2].start
    assert changes[1].end == before[2].end
    assert rota.schedule_changes(before, before) == []


def test_double_bookings_find_one_person_in_both_roles_at_once():
    primary = [_seg(1, 0, 7), _seg(2, 7, 14)]
    secondary = [_seg(2, 0, 3), _seg(1, 3, 10), _seg(3, 10, 14)]
    found = rota.double_bookings(primary, secondary)
    assert [(s.member_id, s.start, s.end) for s in found] == [
        (1, primary[0].start + dt.timedelta(days=3), primary[0].end)
    ]
    assert rota.double_bookings(primary, [_seg(3, 0, 14)]) == []


_minutes = st.integers(min_value=0, max_value=600)


@settings(max_examples=200, deadline=None)
@given(
    window=st.tuples(_minutes, _minutes),
    cuts=st.lists(st.tuples(_minutes, _minutes), max_size=8),
)
def test_subtract_leaves_exactly_the_uncut_minutes_in_order(window, cuts):
    base = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    at = lambda minute: base + dt.timedelta(minutes=minute)  # noqa: E731
    start, end = at(min(window)), at(max(window))
    intervals = [(at(min(c)), at(max(c))) for c in cuts]
    pieces = rota.subtract(start, end, intervals)
    assert all(a < b for a, b in pieces)
    assert all(a_end < b_start for (_, a_end), (b_start, _) in zip(pieces, pieces[1:], strict=False))
    covered = {m for m in range(min(window), max(window)) if any(at(m) >= p and at(m) < q for p, q in pieces)}
    uncut = {m for m in range(min(window), max(window)) if not any(at(m) >= p and at(m) < q for p, q in intervals)}
    assert covered == uncut


# --- Odd zones, folds and stored rows that overlap ----------------------------------------------------------


DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("tz", "start_local", "length"),
    [
        ("Australia/Lord_Howe", dt.datetime(2026, 10, 3, 2, 0), dt.timedelta(minutes=15)),  # 02:00-02:30 gap
        ("Australia/Lord_Howe", dt.datetime(2027, 4, 3, 1, 45), dt.timedelta(minutes=15)),  # 01:30-02:00 fold
        ("Pacific/Chatham", dt.datetime(2026, 9, 26, 2, 45), dt.timedelta(hours=1)),
        ("America/St_Johns", dt.datetime(2026, 3, 7, 2, 30), dt.timedelta(hours=12)),
        ("Asia/Kathmandu", dt.datetime(2010, 1, 4, 9, 0), dt.timedelta(days=14)),
        ("Africa/Casablanca", dt.datetime(2026, 2, 10, 2, 30), DAY),  # Ramadan: clocks go back and forward
        ("Europe/Dublin", dt.datetime(2026, 10, 20, 1, 30), dt.timedelta(days=1, hours=12)),
        ("America/Santiago", dt.datetime(2026, 4, 1, 23, 30), DAY),
        ("Pacific/Apia", dt.datetime(2011, 12, 27, 9, 0), DAY),
    ],
)
def test_generated_shifts_are_contiguous_in_odd_zones(tz, start_local, length):
    zone = ZoneInfo(tz)
    window_start = rota.localize(start_local, zone) - dt.timedelta(hours=1)
    window_end = window_start + dt.timedelta(days=45)
    shifts = rota.generate(
        start_local=start_local,
        length=length,
        member_ids=[1, 2, 3],
        tz=zone,
        window_start=window_start,
        window_end=window_end,
    )
    assert shifts
    assert all(a.end == b.start for a, b in zip(shifts, shifts[1:], strict=False))
    assert all(s.end > s.start for s in shifts)
    for shift in shifts:
        # Every hand-off is the wall time asked for, or the first instant after a skipped one.
        wall = start_local + shift.sequence * length
        assert shift.start == rota.localize(wall, zone)
        assert rota.first_index_at_or_before(start_local, length, zone, shift.start) >= shift.sequence


def test_apia_daily_rotation_across_the_skipped_day():
    zone = ZoneInfo("Pacific/Apia")
    shifts = rota.generate(
        start_local=dt.datetime(2011, 12, 27, 9),
        length=DAY,
        member_ids=[1, 2, 3],
        tz=zone,
        window_start=utc(2011, 12, 27),
        window_end=utc(2012, 1, 3),
    )
    by_start = {rota.to_local_wall(s.start, zone): s for s in shifts}
    # 30 Dec 2011 did not exist: its hand-off moved to midnight of the 31st, the next one is at 09:00.
    assert dt.datetime(2011, 12, 31, 0, 0) in by_start
    assert dt.datetime(2011, 12, 31, 9, 0) in by_start
    assert [s.member_id for s in shifts] == [(s.sequence % 3) + 1 for s in shifts]


def test_handoff_in_the_fold_takes_the_first_occurrence():
    zone = ZoneInfo("America/St_Johns")
    # 1 Nov 2026: 01:30 NDT happens, then clocks go back to 01:00 NST.
    instant = rota.localize(dt.datetime(2026, 11, 1, 1, 30), zone)
    assert instant == utc(2026, 11, 1, 4, 0)  # 01:30 NDT (-02:30), not 01:30 NST


def test_next_person_is_the_same_one_after_a_gap():
    a, b = 1, 2
    shifts = [
        rota.Assignment(a, utc(2027, 1, 1, 9), utc(2027, 1, 1, 17)),
        rota.Assignment(a, utc(2027, 1, 2, 9), utc(2027, 1, 2, 17)),
        rota.Assignment(b, utc(2027, 1, 3, 9), utc(2027, 1, 3, 17)),
    ]
    segments = rota.schedule(shifts, [], utc(2027, 1, 1, 10), utc(2027, 1, 5))
    nxt = rota.next_person(segments, utc(2027, 1, 1, 10))
    assert (nxt.member_id, nxt.start) == (a, utc(2027, 1, 2, 9))


def test_schedule_stays_right_when_stored_rows_overlap():
    # Validation prevents overlaps, but a long row followed by short ones must not read as a gap.
    shifts = [
        rota.Assignment(1, utc(2027, 1, 1), utc(2027, 1, 10), ref_id=1),
        rota.Assignment(2, utc(2027, 1, 2), utc(2027, 1, 3), ref_id=2),
        rota.Assignment(3, utc(2027, 1, 4), utc(2027, 1, 5), ref_id=3),
    ]
    segments = rota.schedule(shifts, [], utc(2027, 1, 1), utc(2027, 1, 10))
    assert rota.gaps(segments) == []
    assert rota.segment_at(segments, utc(2027, 1, 6)).member_id == rota.oncall_at(shifts, [], utc(2027, 1, 6)).member_id


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("P7D", dt.timedelta(days=7)),
        ("PT12H", dt.timedelta(hours=12)),
        ("P1DT12H", dt.timedelta(days=1, hours=12)),
        ("PT1H30M", dt.timedelta(hours=1, minutes=30)),
    ],
)
def test_shift_lengths_read_and_print_as_iso_8601(text, length):
    assert rota.parse_duration(text) == length
    assert rota.format_duration(length) == text
    assert rota.parse_duration("P1W") == dt.timedelta(days=7)
