"""Review of the rota core: odd time zones, edits mid-shift, projections beyond the horizon, races."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from teams import rota, selectors, services
from teams.models import Override, Role, Rotation, Shift
from tests.factories import team_with_members

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=UTC)
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def make_rotation(team, members, **kwargs):
    defaults = {
        "name": "Primary",
        "role": Role.PRIMARY,
        "member_ids": [m.pk for m in members],
        "start_local": dt.datetime(2026, 11, 30, 9),
        "shift_length": WEEK,
        "now": NOW,
    }
    defaults.update(kwargs)
    return services.rotation_create(team=team, **defaults)


def assert_no_overlap(team, role=Role.PRIMARY):
    rows = list(Shift.objects.filter(team=team, role=role).order_by("start").values_list("start", "end"))
    for (_, a_end), (b_start, _) in zip(rows, rows[1:], strict=False):
        assert a_end <= b_start, rows
    return rows


# --- The pure engine ----------------------------------------------------------------------------------------


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


# --- Generation and regeneration ----------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


def test_moving_a_rotation_to_the_other_role_moves_its_future_shifts():
    team, (ana, bruno) = team_with_members(2, timezone="America/St_Johns")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    later = NOW + dt.timedelta(hours=2)
    services.rotation_update(rotation=rotation, role=Role.SECONDARY, now=later)
    # The shift in progress stays primary history; no future primary shift of the old pattern is left.
    current.refresh_from_db()
    assert current.role == Role.PRIMARY and current.end > later
    assert not Shift.objects.filter(role=Role.PRIMARY, start__gt=later).exists()
    secondary = assert_no_overlap(team, Role.SECONDARY)
    assert secondary and secondary[0][0] <= later < secondary[0][1]
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(secondary, secondary[1:], strict=False))
    assert selectors.oncall_at(team=team, at=later + WEEK)[Role.SECONDARY].member is not None
    assert services.shifts_generate(rotations=[rotation], now=later)["created"] == 0
    # A new primary rotation starts after the primary shift still in progress, without overlapping it.
    make_rotation(team, [bruno], name="New primary", start_local=dt.datetime(2026, 11, 2, 12), now=later)
    primary = assert_no_overlap(team, Role.PRIMARY)
    assert primary[0] == (current.start, current.end) and primary[1][0] == current.end


def test_a_new_rotation_does_not_overlap_a_hand_made_shift_that_just_ended():
    team, (ana, bruno) = team_with_members(2, timezone="Asia/Kathmandu")
    # Ana covered by hand from 00:00 until 08:00 this morning (Kathmandu); the daily rotation starts at 00:00.
    services.shift_create(
        team=team, role=Role.PRIMARY, member=ana, start=utc(2026, 11, 25, 18, 15), end=utc(2026, 11, 26, 2, 15)
    )
    make_rotation(team, [bruno, ana], start_local=dt.datetime(2026, 11, 1, 0), shift_length=DAY)
    rows = assert_no_overlap(team)
    # Today's shift in progress starts where the hand-made one ended: the past is not rewritten.
    assert (utc(2026, 11, 26, 2, 15), utc(2026, 11, 26, 18, 15)) in rows


def test_editing_a_rotation_twice_mid_shift_then_regenerating_keeps_the_past_and_edits():
    team, (ana, bruno, carla) = team_with_members(3, timezone="Europe/Dublin")
    rotation = make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 10, 19, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    before = (current.start, current.end, current.member_id)
    edited = Shift.objects.filter(start__gt=NOW).order_by("start")[2]
    services.shift_update(shift=edited, member=ana)
    t1, t2 = NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    services.rotation_update(
        rotation=rotation, member_ids=[carla.pk], start_local=dt.datetime(2026, 10, 20, 14), now=t1
    )
    services.rotation_update(rotation=rotation, shift_length=dt.timedelta(days=1, hours=12), now=t2)
    services.shifts_generate(rotations=[rotation], now=t2)
    current.refresh_from_db()
    edited.refresh_from_db()
    assert (current.start, current.end, current.member_id) == before
    assert edited.member == ana and edited.is_edited
    rows = assert_no_overlap(team)
    horizon = t2 + dt.timedelta(weeks=12)
    covered = [(s, e) for s, e in rows if e > NOW and s < horizon]
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(covered, covered[1:], strict=False))
    assert services.shifts_generate(rotations=[rotation], now=t2) == {
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "failed": 0,
    }


def test_deleting_and_re_adding_a_rotation_leaves_no_overlap():
    team, (ana, bruno) = team_with_members(2, timezone="America/Santiago")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    services.rotation_delete(rotation=rotation, now=NOW)
    make_rotation(team, [bruno, ana], start_local=dt.datetime(2026, 11, 3, 21), shift_length=dt.timedelta(hours=12))
    rows = assert_no_overlap(team)
    assert all(a_end == b_start for (_, a_end), (b_start, _) in zip(rows, rows[1:], strict=False))


# --- Validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["right/UTC", "posix/Europe/Berlin", "localtime", "posixrules", "Factory"])
def test_zone_files_that_are_not_places_are_refused(name):
    with pytest.raises(ValidationError) as error:
        services.team_create(slug="x", name="X", timezone=name)
    assert "timezone" in error.value.message_dict


def test_overlap_message_names_the_clash_in_the_team_time():
    team, (ana, bruno) = team_with_members(2, timezone="Asia/Kathmandu")
    services.override_create(
        team=team, role=Role.PRIMARY, member=ana, start=utc(2026, 12, 4, 3, 15), end=utc(2026, 12, 4, 5, 15)
    )
    with pytest.raises(ValidationError) as error:
        services.override_create(
            team=team, role=Role.PRIMARY, member=bruno, start=utc(2026, 12, 4, 4), end=utc(2026, 12, 4, 6)
        )
    message = " ".join(error.value.messages)
    assert "09:00" in message and "11:00" in message and "Asia/Kathmandu" in message
    assert ana.name in message


# --- Reads: on call, next, projections --------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_back_to_back_shifts_of_one_person_read_as_one_stretch():
    team, (ana, bruno, carla) = team_with_members(3, timezone="Europe/Berlin")
    make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 11, 23, 9))
    current = Shift.objects.get(start__lte=NOW, end__gt=NOW)
    assert current.member == ana
    following = Shift.objects.get(start=current.end)
    services.shift_update(shift=following, member=ana)  # Ana does two weeks
    entry = selectors.oncall_with_next(team_ids=[team.pk], at=NOW)[team.pk][Role.PRIMARY]
    assert entry.current.member == ana
    assert (entry.current.start, entry.current.end) == (current.start, following.end)
    assert entry.next.member == carla and entry.next.start == entry.current.end
    # Same for an override of Ana's that runs straight into her shift.
    services.override_create(team=team, role=Role.PRIMARY, member=ana, start=current.start - DAY, end=current.start)
    at = current.start - dt.timedelta(hours=1)
    entry = selectors.oncall_with_next(team_ids=[team.pk], at=at)[team.pk][Role.PRIMARY]
    assert entry.current.source == "override"
    assert (entry.current.start, entry.current.end) == (current.start - DAY, following.end)


@time_machine.travel(NOW, tick=False)
def test_next_is_the_same_person_after_a_gap_and_none_when_nothing_is_planned():
    team, (ana, bruno) = team_with_members(2, timezone="Pacific/Chatham")
    services.shift_create(team=team, role=Role.PRIMARY, member=ana, start=NOW - DAY, end=NOW + DAY)
    services.shift_create(team=team, role=Role.PRIMARY, member=ana, start=NOW + 3 * DAY, end=NOW + 4 * DAY)
    services.override_create(
        team=team, role=Role.SECONDARY, member=bruno, start=NOW + 2 * DAY, end=NOW + 2 * DAY + dt.timedelta(hours=1)
    )
    entry = selectors.oncall_with_next(team_ids=[team.pk], at=NOW)[team.pk]
    assert entry[Role.PRIMARY].next.member == ana and entry[Role.PRIMARY].next.start == NOW + 3 * DAY
    assert entry[Role.SECONDARY].current.member is None
    assert entry[Role.SECONDARY].next.source == "override" and entry[Role.SECONDARY].next.member == bruno
    later = selectors.oncall_with_next(team_ids=[team.pk], at=NOW + 3 * DAY + dt.timedelta(hours=1))[team.pk]
    assert later[Role.PRIMARY].next is None and later[Role.SECONDARY].next is None


@time_machine.travel(NOW, tick=False)
def test_a_hand_made_shift_beyond_the_horizon_cuts_the_projection_without_a_hole(django_assert_max_num_queries):
    team, (ana, bruno, carla) = team_with_members(3, timezone="Australia/Lord_Howe")
    make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 30, 9))
    # Carla takes Wednesday 10:00-14:00 (Lord Howe) in a week a year ahead.
    zone = team.tz
    hand_start = rota.localize(dt.datetime(2027, 12, 1, 10), zone)
    hand_end = rota.localize(dt.datetime(2027, 12, 1, 14), zone)
    services.shift_create(team=team, role=Role.PRIMARY, member=carla, start=hand_start, end=hand_end)
    week_start = rota.localize(dt.datetime(2027, 11, 29, 9), zone)
    week_end = rota.localize(dt.datetime(2027, 12, 6, 9), zone)
    schedule = selectors.team_schedule(team=team, start=week_start, end=week_end)[Role.PRIMARY]
    assert rota.gaps(schedule) == []
    assert [s.member_id for s in schedule][1] == carla.pk
    after = hand_end + dt.timedelta(hours=3)
    with django_assert_max_num_queries(3):
        cover = selectors.oncall_at(team=team, at=after)[Role.PRIMARY]
    segment = rota.segment_at(schedule, after)
    assert (cover.member.pk, cover.start, cover.end) == (segment.member_id, hand_end, week_end)


@time_machine.travel(NOW, tick=False)
def test_windows_straddling_the_horizon_agree_with_oncall_at():
    team, (ana, bruno, carla) = team_with_members(3, timezone="Africa/Casablanca")
    make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 11, 30, 2, 30), shift_length=DAY)
    services.override_create(team=team, role=Role.PRIMARY, member=carla, start=NOW + 83 * DAY, end=NOW + 86 * DAY)
    Shift.objects.filter(start__gt=NOW + 40 * DAY, start__lt=NOW + 41 * DAY).delete()  # a hole within the horizon
    whole = selectors.team_schedule(team=team, start=NOW, end=NOW + 200 * DAY)[Role.PRIMARY]
    parts = []
    edge = NOW
    for days in (30, 11, 43, 1, 115):
        parts += selectors.team_schedule(team=team, start=edge, end=edge + days * DAY)[Role.PRIMARY]
        edge += days * DAY
    # Same coverage whichever windows are asked for: the hole stays a hole, nothing doubled or dropped.
    probe = NOW
    while probe < NOW + 200 * DAY:
        expected = selectors.oncall_at(team=team, at=probe)[Role.PRIMARY].member
        assert rota.segment_at(whole, probe).member_id == (expected.pk if expected else None), probe
        assert rota.segment_at(parts, probe).member_id == (expected.pk if expected else None), probe
        probe += dt.timedelta(hours=7, minutes=13)
    # Before the first hand-off (Mon 30 Nov), and the deleted day.
    assert len(rota.gaps(whole)) == 2


@time_machine.travel(NOW, tick=False)
def test_schedule_and_oncall_queries_do_not_grow_with_teams(django_assert_max_num_queries):
    teams = []
    for zone in ("Pacific/Apia", "America/St_Johns", "Asia/Kathmandu", "Europe/Dublin", "America/Santiago"):
        team, members = team_with_members(2, timezone=zone)
        make_rotation(team, members, start_local=dt.datetime(2010, 1, 4, 9), shift_length=dt.timedelta(hours=12))
        teams.append(team.pk)
    with django_assert_max_num_queries(3):
        schedules, _ = selectors.schedules_for_teams(team_ids=teams, start=NOW, end=NOW + 365 * DAY)
    assert all(not rota.gaps(schedules[(t, Role.PRIMARY)]) for t in teams)
    with django_assert_max_num_queries(3):
        selectors.oncall_with_next(team_ids=teams, at=NOW + 300 * DAY)
    with django_assert_max_num_queries(3):
        selectors.oncall_at_for_teams(team_ids=teams, at=NOW + 300 * DAY)


def test_oncall_at_20_years_ahead_with_history_and_overrides_stays_at_3_queries(django_assert_max_num_queries):
    team, (ana, bruno) = team_with_members(2, timezone="America/St_Johns")
    make_rotation(team, [ana, bruno], start_local=dt.datetime(2010, 1, 4, 9), now=NOW)
    start = utc(2006, 11, 27, 8)
    Shift.objects.bulk_create(
        Shift(
            team=team,
            role=Role.SECONDARY,
            member=(ana, bruno)[i % 2],
            start=start + i * WEEK,
            end=start + (i + 1) * WEEK,
        )
        for i in range(20 * 52 + 10)
    )
    Override.objects.bulk_create(
        Override(team=team, role=Role.PRIMARY, member=bruno, start=start + i * WEEK, end=start + i * WEEK + DAY)
        for i in range(1000)
    )
    with time_machine.travel(NOW, tick=False):
        for at in (utc(2026, 11, 26, 12), utc(2046, 11, 26, 12)):
            with django_assert_max_num_queries(3):
                cover = selectors.oncall_at(team=team, at=at)[Role.PRIMARY]
            assert cover.member is not None


# --- Races (PostgreSQL) ---------------------------------------------------------------------------------


postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")


def _in_thread(target):
    errors = []

    def run():
        try:
            target()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_overrides_at_once_only_one_wins():
    team, (ana, bruno) = team_with_members(2)
    barrier = threading.Barrier(2)

    def create(member):
        def go():
            barrier.wait()
            services.override_create(team=team, role=Role.PRIMARY, member=member, start=NOW, end=NOW + DAY)

        return go

    runs = [_in_thread(create(ana)), _in_thread(create(bruno))]
    for thread, _ in runs:
        thread.join(10)
    errors = [e for _, found in runs for e in found]
    assert Override.objects.filter(team=team).count() == 1
    assert len(errors) == 1 and isinstance(errors[0], ValidationError)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_generation_alongside_a_rotation_edit_does_not_write_the_old_pattern():
    from django.db import transaction

    team, (ana, bruno) = team_with_members(2, timezone="Europe/Berlin")
    rotation = make_rotation(team, [ana, bruno], start_local=dt.datetime(2026, 11, 2, 9))
    stale = Rotation.objects.select_related("team").get(pk=rotation.pk)
    edited = threading.Event()

    def edit():
        with transaction.atomic():
            services.rotation_update(rotation=rotation, start_local=dt.datetime(2026, 11, 4, 15), now=NOW)
            edited.set()
            import time

            time.sleep(0.5)  # the hourly run starts while this edit is not committed yet

    thread, errors = _in_thread(edit)
    edited.wait(10)
    # A later hourly run that still holds the rotation as it was must not add 09:00 shifts.
    services.shifts_generate(rotations=[stale], now=NOW + 2 * WEEK)
    thread.join(10)
    assert not errors
    rows = assert_no_overlap(team)
    future = [s for s, _ in rows if s > NOW + WEEK]
    assert future and {s.astimezone(team.tz).hour for s in future} == {15}


def test_a_rotation_starting_at_the_end_of_time_is_refused():
    team, members = team_with_members(1)
    with pytest.raises(ValidationError) as error:
        make_rotation(team, members, start_local=dt.datetime(9999, 12, 31, 9))
    assert "start_date" in error.value.message_dict
    assert not Rotation.objects.exists()
