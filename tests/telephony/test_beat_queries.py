"""The beat scans read the rota of every team in a fixed number of queries: 100 teams cost what 1,000 cost."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from teams.models import Member, Role, Shift, Team, TeamMembership
from telephony import notifications
from telephony.models import OutboundMessage

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 2, 1, 9, 10, tzinfo=dt.UTC)


def add_teams(first: int, count: int) -> None:
    """Teams with a lead and two members: a hand-off 10 minutes ago and a shift starting within the hour."""
    teams = Team.objects.bulk_create(
        Team(slug=f"bulk-{i}", name=f"Bulk {i}", timezone="Europe/Berlin", reminder_lead_minutes=60)
        for i in range(first, first + count)
    )
    people = Member.objects.bulk_create(
        Member(name=f"{who} {i}", phone=f"+4915{digit}{i:08d}")
        for i in range(first, first + count)
        for who, digit in (("Ana", 1), ("Bruno", 2), ("Lea", 3))
    )
    memberships, shifts = [], []
    for index, team in enumerate(teams):
        ana, bruno, lea = people[3 * index : 3 * index + 3]
        memberships += [
            TeamMembership(team=team, member=ana),
            TeamMembership(team=team, member=bruno),
            TeamMembership(team=team, member=lea, role=TeamMembership.Role.LEAD),
        ]
        for member, start, end in (
            (ana, NOW - dt.timedelta(days=1), NOW - dt.timedelta(minutes=10)),
            (bruno, NOW - dt.timedelta(minutes=10), NOW + dt.timedelta(minutes=30)),
            (ana, NOW + dt.timedelta(minutes=30), NOW + dt.timedelta(days=15)),
        ):
            shifts.append(Shift(team=team, role=Role.PRIMARY, member=member, start=start, end=end))
    TeamMembership.objects.bulk_create(memberships)
    Shift.objects.bulk_create(shifts)


def queries_of(scan) -> int:
    with CaptureQueriesContext(connection) as captured:
        scan(now=NOW)
    return len(captured.captured_queries)


SCANS = [notifications.reminders_send, notifications.handoffs_notify, notifications.gaps_alert]


@pytest.mark.parametrize("scan", SCANS, ids=lambda scan: scan.__name__)
def test_a_scan_with_nothing_due_costs_the_same_for_100_and_1000_teams(scan, django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False):
        add_teams(0, 100)
        scan(now=NOW)  # sends what is due once; from now on, nothing is due
        small = queries_of(scan)
        add_teams(100, 900)
        scan(now=NOW)
        with django_assert_max_num_queries(5):
            result = scan(now=NOW)
        large = queries_of(scan)
    assert small == large
    assert result.sent == 0
    if scan is notifications.gaps_alert:
        assert not OutboundMessage.objects.exists()
    else:
        # The scan did look at every team's due messages and found them sent already.
        assert result.already == OutboundMessage.objects.count() >= 1000
