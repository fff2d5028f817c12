"""Time off on the phone side: the person away is not rung or reminded, and the leads hear of the gap."""

import datetime as dt

import pytest
import time_machine
from django.db import connection

from teams import services
from teams.models import Role
from telephony import notifications
from telephony.models import OutboundMessage
from tests.factories import OverrideFactory, ShiftFactory, UserFactory, staffed_team, team_with_members
from tests.telephony.world import NOW, WEB_NUMBER, sid
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

INCOMING = "/telephony/voice/incoming/"


def test_the_primary_on_time_off_is_not_rung_within_the_query_budget(
    transactional_db, client, django_assert_max_num_queries
):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = staffed_team(number=WEB_NUMBER, name="Budget")
        services.time_off_create(
            team=team, member=primary, start=NOW - dt.timedelta(hours=1), end=NOW + dt.timedelta(days=1)
        )
        connection.ensure_connection()
        params = {"CallSid": sid("CA"), "From": "+4917012345678", "To": WEB_NUMBER, "CallStatus": "ringing"}
        with django_assert_max_num_queries(5):
            root = check_twiml(post_signed(client, INCOMING, params))
    # The secondary is the first (and only person) rung.
    assert root.find("Dial/Number").text == secondary.phone


@pytest.fixture
def team(db):
    with time_machine.travel(NOW, tick=False):
        team, (lead, ana, bruno, carla) = team_with_members(
            4, lead_user=UserFactory(username="lea"), name="Web", timezone="Europe/Berlin", reminder_lead_minutes=60
        )
        # Ana carried most of the last month, the lead ten days, Bruno a week; Carla none, but she is secondary
        # from half an hour on.
        OverrideFactory(
            team=team,
            role=Role.PRIMARY,
            member=lead,
            start=NOW - dt.timedelta(days=30),
            end=NOW - dt.timedelta(days=20),
        )
        ShiftFactory(team=team, role=Role.PRIMARY, member=ana, start=NOW - dt.timedelta(days=21), end=NOW)
        ShiftFactory(team=team, role=Role.SECONDARY, member=bruno, start=NOW - dt.timedelta(days=7), end=NOW)
        ShiftFactory(team=team, role=Role.PRIMARY, member=ana, start=NOW, end=NOW + dt.timedelta(days=14))
        ShiftFactory(
            team=team,
            role=Role.SECONDARY,
            member=carla,
            start=NOW + dt.timedelta(minutes=30),
            end=NOW + dt.timedelta(days=14),
        )
        yield team, lead, ana, bruno, carla


def test_the_lead_is_told_of_the_time_off_gap_with_a_free_teammate_to_cover(team):
    team, lead, ana, bruno, carla = team
    start = dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC)
    with time_machine.travel(NOW, tick=False):
        services.time_off_create(team=team, member=ana, start=start, end=start + dt.timedelta(days=2))
        notifications.gaps_alert(now=NOW)
        notifications.gaps_alert(now=NOW + dt.timedelta(minutes=5))  # told once
    (alert,) = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.GAP_ALERT, body__contains="time off")
    assert alert.to == lead.phone
    assert alert.body == (
        f"Web has no primary on call from Thu 3 Dec 09:00 to Sat 5 Dec 09:00 (Europe/Berlin): {ana.name} is on time "
        f"off. Suggested cover: {bruno.name} (fewest hours on call in the last 30 days, free then). Add an override."
    )


def test_nobody_is_reminded_of_a_shift_they_are_away_for(team):
    team, lead, ana, bruno, carla = team
    with time_machine.travel(NOW, tick=False):
        services.time_off_create(team=team, member=carla, start=NOW, end=NOW + dt.timedelta(hours=3))
        notifications.reminders_send(now=NOW)
        assert not OutboundMessage.objects.filter(kind=OutboundMessage.Kind.REMINDER, member=carla).exists()
        # She is reminded before she comes back, of the part she is on call.
        back = NOW + dt.timedelta(hours=2, minutes=30)
        notifications.reminders_send(now=back)
    (reminder,) = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.REMINDER, member=carla)
    assert "from Tue 1 Dec 14:00" in reminder.body
