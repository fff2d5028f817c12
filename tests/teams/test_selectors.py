"""Reads of the rota: who is on call at T, who is next, the schedule of a window, projections beyond the
generated horizon, and the query budget of each."""

import datetime as dt

import pytest
import time_machine

from teams import rota, selectors, services
from teams.models import Override, Role, Shift
from tests.factories import team_with_members
from tests.teams.world import ROTA_NOW as NOW
from tests.teams.world import make_rotation, utc

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


# --- On call at T, and next, over long histories and a year ahead -------------------------------------------


def test_oncall_at_with_20_years_of_history_uses_at_most_3_queries(django_assert_max_num_queries):
    team, (ana, bruno) = team_with_members(2, timezone="Europe/Berlin")
    start = utc(2006, 11, 27, 8)
    week = dt.timedelta(days=7)
    Shift.objects.bulk_create(
        Shift(
            team=team, role=Role.PRIMARY, member=(ana, bruno)[i % 2], start=start + i * week, end=start + (i + 1) * week
        )
        for i in range(20 * 52 + 10)
    )
    Override.objects.bulk_create(
        Override(
            team=team,
            role=Role.PRIMARY,
            member=bruno,
            start=start + i * week + dt.timedelta(days=2),
            end=start + i * week + dt.timedelta(days=3),
        )
        for i in range(1000)
    )
    at = utc(2026, 11, 26, 12)
    with django_assert_max_num_queries(3):
        result = selectors.oncall_at(team=team, at=at)
    shift = Shift.objects.get(team=team, start__lte=at, end__gt=at)
    assert result[Role.PRIMARY].member == shift.member
    assert result[Role.SECONDARY].member is None
    # And an override inside the history wins over the shift.
    at_override = start + 10 * week + dt.timedelta(days=2, hours=1)
    with django_assert_max_num_queries(3):
        assert selectors.oncall_at(team=team, at=at_override)[Role.PRIMARY].member == bruno


@time_machine.travel(NOW, tick=False)
def test_oncall_a_year_ahead_follows_the_rotation_beyond_the_generated_horizon(django_assert_max_num_queries):
    team, (ana, bruno, carla) = team_with_members(3, timezone="America/Sao_Paulo")
    make_rotation(team, [ana, bruno, carla], start_local=dt.datetime(2026, 11, 2, 9))
    assert not Shift.objects.filter(start__gt=NOW + dt.timedelta(weeks=13)).exists()
    # Week 54 after Mon 2 Nov 2026 09:00 (Sao Paulo) is Ana's (54 % 3 == 0); a day later still.
    at = utc(2027, 11, 20, 13)
    with django_assert_max_num_queries(3):
        cover = selectors.oncall_at(team=team, at=at)[Role.PRIMARY]
    assert cover.member == ana
    assert cover.end == utc(2027, 11, 22, 12)  # Mon 22 Nov 09:00 in Sao Paulo (UTC-3)
    entry = selectors.oncall_with_next(team_ids=[team.pk], at=at)[team.pk][Role.PRIMARY]
    assert entry.current.member == ana and entry.next.member == bruno
    # An override a year ahead still beats the projected shift, and the schedule has no invented gap.
    services.override_create(team=team, role=Role.PRIMARY, member=carla, start=at, end=at + dt.timedelta(hours=2))
    assert selectors.oncall_at(team=team, at=at)[Role.PRIMARY].member == carla
    schedule = selectors.team_schedule(team=team, start=utc(2027, 11, 1), end=utc(2027, 12, 1))[Role.PRIMARY]
    assert all(segment.member_id is not None for segment in schedule)


@time_machine.travel(NOW, tick=False)
def test_a_one_person_rotation_reports_the_shift_end_not_the_look_ahead_edge():
    team, (solo,) = team_with_members(1, timezone="Europe/Lisbon")
    make_rotation(team, [solo], start_local=dt.datetime(2026, 11, 30, 9))
    at = utc(2027, 3, 28, 8, 30)  # 09:30 Lisbon summer time, the day clocks went forward
    entry = selectors.oncall_with_next(team_ids=[team.pk], at=at)[team.pk][Role.PRIMARY]
    assert entry.current.member == solo and entry.next is None
    assert entry.current.start == utc(2027, 3, 22, 9)  # Mon 09:00 WET
    assert entry.current.end == utc(2027, 3, 29, 8)  # Mon 09:00 WEST


# --- Stretches, next after a gap, projections beyond the horizon --------------------------------------------


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
