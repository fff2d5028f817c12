"""The hourly horizon task keeps every rotation's shifts generated 12 weeks ahead, cheaply and idempotently."""

import datetime as dt
import logging

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from teams.models import Member, Role, Rotation, RotationParticipant, Shift, Team, TeamMembership
from teams.tasks import shifts_extend_horizon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

NOW = dt.datetime(2027, 1, 4, 12, tzinfo=dt.UTC)
HORIZON = dt.timedelta(weeks=12)


def add_rotations(first: int, count: int, *, length=dt.timedelta(days=7), members_per_team=3) -> list[Rotation]:
    """Teams with a primary rotation written in bulk, no shifts generated yet."""
    teams = Team.objects.bulk_create(
        Team(slug=f"horizon-{i}", name=f"Horizon {i}", timezone="America/New_York") for i in range(first, first + count)
    )
    people = Member.objects.bulk_create(
        Member(name=f"P{i}-{k}", phone=f"+49160{i:05d}{k:03d}")
        for i in range(first, first + count)
        for k in range(members_per_team)
    )
    rotations = Rotation.objects.bulk_create(
        Rotation(
            team=team,
            name="Primary",
            role=Role.PRIMARY,
            start_date=dt.date(2027, 1, 4),
            start_time=dt.time(9),
            shift_length=length,
        )
        for team in teams
    )
    memberships, participants = [], []
    for index, (team, rotation) in enumerate(zip(teams, rotations, strict=True)):
        for position in range(members_per_team):
            member = people[index * members_per_team + position]
            memberships.append(TeamMembership(team=team, member=member))
            participants.append(RotationParticipant(rotation=rotation, member=member, position=position))
    TeamMembership.objects.bulk_create(memberships)
    RotationParticipant.objects.bulk_create(participants)
    return rotations


def shift_rows():
    return list(Shift.objects.order_by("team_id", "start").values_list("team_id", "member_id", "start", "end"))


def test_the_horizon_is_kept_12_weeks_ahead_as_time_passes_and_reruns_change_nothing():
    (rotation,) = add_rotations(0, 1)
    with time_machine.travel(NOW, tick=False) as traveller:
        shifts_extend_horizon.delay()
        assert Shift.objects.filter(rotation=rotation).latest("end").end >= NOW + HORIZON
        first = shift_rows()
        shifts_extend_horizon.delay()
        assert shift_rows() == first

        later = NOW + dt.timedelta(weeks=3, hours=5)
        traveller.move_to(later)
        shifts_extend_horizon.delay()
        rows = shift_rows()
        assert Shift.objects.latest("end").end >= later + HORIZON
        # What was generated stays as it was; only new weeks were added, each with the next person in turn.
        assert rows[: len(first)] == first
        assert len(rows) > len(first)
        members = [member_id for _, member_id, _, _ in rows]
        assert all(a != b for a, b in zip(members, members[1:], strict=False))
        # Hand-offs at 09:00 New York time, on both sides of the March daylight-saving change.
        assert {start.astimezone(rotation.team.tz).time() for _, _, start, _ in rows} == {dt.time(9)}


def test_the_horizon_follows_the_setting(settings):
    settings.SHIFT_HORIZON_WEEKS = 20
    add_rotations(0, 1, length=dt.timedelta(days=1))
    with time_machine.travel(NOW, tick=False):
        shifts_extend_horizon.delay()
    assert Shift.objects.latest("end").end >= NOW + dt.timedelta(weeks=20)


def test_generating_for_twice_the_teams_costs_the_same_queries():
    """Reads and updates are a fixed number of queries; inserts are batched (SQLite caps a batch near 110 rows)."""

    def run():
        with CaptureQueriesContext(connection) as captured:
            shifts_extend_horizon.delay()
        inserts = [
            q for q in captured.captured_queries if q["sql"].startswith("INSERT") and 'INTO "teams_shift"' in q["sql"]
        ]
        return len(captured.captured_queries) - len(inserts), len(inserts)

    with time_machine.travel(NOW, tick=False):
        add_rotations(0, 15)
        for_n, inserts_n = run()
        created_n = Shift.objects.count()
        Shift.objects.all().delete()
        add_rotations(15, 15)
        for_2n, inserts_2n = run()
        created_2n = Shift.objects.count()
        # Nothing left to do: no insert, and no more of the other queries.
        again, inserts_again = run()
    assert inserts_again == 0
    assert again <= for_n
    assert created_n >= 15 * 12
    assert created_2n >= 30 * 12
    assert for_2n == for_n <= 10
    assert inserts_n <= -(-created_n // 100)
    assert inserts_2n <= -(-created_2n // 100)


def test_one_broken_rotation_is_logged_and_the_others_are_generated(caplog):
    broken, fine = add_rotations(0, 2)
    # A time zone the database holds but zoneinfo does not know (say, removed from tzdata).
    Team.objects.filter(pk=broken.team_id).update(timezone="Mars/Olympus_Mons")
    with time_machine.travel(NOW, tick=False), caplog.at_level(logging.INFO):
        shifts_extend_horizon.delay()
    assert not Shift.objects.filter(team_id=broken.team_id).exists()
    assert Shift.objects.filter(team_id=fine.team_id).latest("end").end >= NOW + HORIZON
    assert f"rotation {broken.pk}" in caplog.text
    assert "1 rotations failed" in caplog.text
