"""The number of SQL queries of every list (and of oncall/ for 200 teams) does not grow with the rows shown."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from teams.models import Member, Override, Rotation, RotationParticipant, Shift, SupportNumber, Team, TeamMembership
from telephony.models import Call, DialAttempt, OutboundMessage, Voicemail
from tests.factories import UserFactory

START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


class Rows:
    """Adds n more rows of a kind to one team, in bulk, with fresh phone numbers each time."""

    def __init__(self, team: Team):
        self.team = team
        self.serial = 0

    def members(self, n: int) -> list[Member]:
        members = []
        for _ in range(n):
            self.serial += 1
            members.append(Member(name=f"P{self.serial}", phone=f"+49151{self.serial:08d}"))
        members = Member.objects.bulk_create(members)
        TeamMembership.objects.bulk_create(TeamMembership(team=self.team, member=m) for m in members)
        return members

    def add(self, kind: str, n: int) -> None:
        team = self.team
        if kind == "members":
            self.members(n)
        elif kind == "numbers":
            base = self.serial
            self.serial += n
            SupportNumber.objects.bulk_create(
                SupportNumber(team=team, phone_number=f"+4930{base + i:08d}") for i in range(n)
            )
        elif kind == "rotations":
            # At most one rotation per role: grow the participants instead.
            rotation, _ = Rotation.objects.get_or_create(
                team=team,
                role="primary",
                defaults={
                    "name": "R",
                    "start_date": dt.date(2026, 11, 30),
                    "start_time": dt.time(9),
                    "shift_length": dt.timedelta(days=1),
                },
            )
            offset = rotation.participants.count()
            RotationParticipant.objects.bulk_create(
                RotationParticipant(rotation=rotation, member=m, position=offset + i)
                for i, m in enumerate(self.members(n))
            )
        elif kind in ("shifts", "overrides", "schedule", "gaps"):
            model = Override if kind == "overrides" else Shift
            done = model.objects.filter(team=team).count()
            members = self.members(n)
            model.objects.bulk_create(
                model(
                    team=team,
                    role="primary",
                    member=m,
                    start=START + dt.timedelta(hours=2 * (done + i)),
                    end=START + dt.timedelta(hours=2 * (done + i) + 1),
                )
                for i, m in enumerate(members)
            )
        elif kind == "calls":
            calls = Call.objects.bulk_create(
                Call(call_sid=f"CA{team.pk}-{self.serial}-{i}", team=team, from_number="+4915100000001")
                for i in range(n)
            )
            self.serial += 1
            DialAttempt.objects.bulk_create(
                DialAttempt(call=call, position=p, target="primary", phone="+4915100000002")
                for call in calls
                for p in range(2)
            )
        elif kind == "voicemails":
            self.add("calls", n)
            Voicemail.objects.bulk_create(
                Voicemail(call=call, team=team, recording_sid=f"RE{call.pk}", recording_url="https://example.com/r")
                for call in Call.objects.filter(team=team, voicemails=None)
            )
        elif kind == "messages":
            self.serial += 1
            OutboundMessage.objects.bulk_create(
                OutboundMessage(to="+4915100000001", body="Hi", kind="test", team=team, dedupe_key=f"{self.serial}-{i}")
                for i in range(n)
            )


LISTS = {
    "members": "members/",
    "numbers": "numbers/",
    "rotations": "rotations/",
    "shifts": "shifts/?start=2026-11-01T00:00Z&end=2027-01-01T00:00Z",
    "overrides": "overrides/",
    "schedule": "schedule/?start=2026-11-01T00:00Z&end=2027-01-01T00:00Z",
    "gaps": "gaps/?start=2026-11-01T00:00Z&end=2027-01-01T00:00Z",
    "calls": "calls/",
    "voicemails": "voicemails/",
    "messages": "messages/",
}


def count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("kind", list(LISTS))
def test_list_queries_do_not_grow_with_rows(db, kind):
    team = Team.objects.create(slug="q", name="Q")
    reader = UserFactory(username="reader")
    rows = Rows(team)
    TeamMembership.objects.create(
        team=team, member=Member.objects.create(name="R", phone="+4915299999999", user=reader)
    )
    client = APIClient()
    client.force_authenticate(reader)
    path = f"/api/v1/teams/q/{LISTS[kind]}"
    rows.add(kind, 5)
    small = count_queries(client, path)
    rows.add(kind, 5)
    large = count_queries(client, path)
    assert large == small
    assert small <= 8


def test_team_list_queries_do_not_grow(db):
    reader = UserFactory(username="reader")
    member = Member.objects.create(name="R", phone="+4915299999999", user=reader)
    client = APIClient()
    client.force_authenticate(reader)

    def add_teams(first: int, n: int) -> None:
        teams = Team.objects.bulk_create(Team(slug=f"t{first + i}", name=f"T{first + i}") for i in range(n))
        TeamMembership.objects.bulk_create(TeamMembership(team=t, member=member) for t in teams)

    add_teams(0, 5)
    small = count_queries(client, "/api/v1/teams/")
    add_teams(5, 5)
    assert count_queries(client, "/api/v1/teams/") == small


def test_oncall_for_200_teams_takes_as_many_queries_as_for_100(db):
    root = UserFactory(username="root", is_superuser=True)
    client = APIClient()
    client.force_authenticate(root)
    now = dt.datetime.now(dt.UTC)

    def add_teams(first: int, n: int) -> None:
        teams = Team.objects.bulk_create(Team(slug=f"t{first + i}", name=f"T{first + i}") for i in range(n))
        members = Member.objects.bulk_create(
            Member(name=f"M{first + i}", phone=f"+49151{first + i:08d}") for i in range(n)
        )
        TeamMembership.objects.bulk_create(
            TeamMembership(team=t, member=m) for t, m in zip(teams, members, strict=True)
        )
        Shift.objects.bulk_create(
            Shift(team=t, role=role, member=m, start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=h))
            for t, m in zip(teams, members, strict=True)
            for role, h in (("primary", 5), ("secondary", 9))
        )

    add_teams(0, 100)
    with CaptureQueriesContext(connection) as hundred:
        response = client.get("/api/v1/oncall/")
    assert len(response.json()) == 100
    add_teams(100, 100)
    with CaptureQueriesContext(connection) as two_hundred:
        response = client.get("/api/v1/oncall/")
    body = response.json()
    assert len(body) == 200
    assert all(entry["primary"]["member"] and entry["secondary"]["member"] for entry in body)
    assert len(two_hundred) == len(hundred) <= 8


def test_oncall_and_schedule_at_the_input_limits_take_a_fixed_number_of_queries(db):
    """The largest team the limits allow: two hourly rotations of 100 people, 1,000 allowed callers, and a
    schedule/ window as long as the segment limit lets an hourly rotation ask for. (Times at these sizes:
    scripts/bench/reads.py.)"""
    import time_machine

    from teams import services
    from teams.limits import MAX_ALLOWED_CALLERS, MAX_ROTATION_MEMBERS, MAX_SEGMENTS_PER_ROLE, MIN_SHIFT_LENGTH

    with time_machine.travel(START, tick=False):
        team = services.team_create(
            slug="big", name="Big", allowed_callers=[f"+4915{i:09d}" for i in range(MAX_ALLOWED_CALLERS)]
        )
        members = Rows(team).members(MAX_ROTATION_MEMBERS)
        for role in ("primary", "secondary"):
            services.rotation_create(
                team=team,
                name=role,
                role=role,
                member_ids=[m.pk for m in members],
                start_local=dt.datetime(2026, 11, 30, 9),
                shift_length=MIN_SHIFT_LENGTH,
            )
        reader = UserFactory(username="reader", is_superuser=True)
        client = APIClient()
        client.force_authenticate(reader)
        days = (MAX_SEGMENTS_PER_ROLE - 2) * MIN_SHIFT_LENGTH // dt.timedelta(days=1)
        end = (START + dt.timedelta(days=days)).isoformat().replace("+00:00", "Z")
        assert count_queries(client, "/api/v1/teams/big/oncall/") <= 5
        assert count_queries(client, "/api/v1/teams/big/oncall/?at=2027-11-01T00:00Z") <= 5
        assert count_queries(client, f"/api/v1/teams/big/schedule/?start=2026-12-01T00:00Z&end={end}") <= 6
        schedule = client.get(f"/api/v1/teams/big/schedule/?start=2026-12-01T00:00Z&end={end}").json()
        assert MAX_SEGMENTS_PER_ROLE - 200 < len(schedule["primary"]) <= MAX_SEGMENTS_PER_ROLE
