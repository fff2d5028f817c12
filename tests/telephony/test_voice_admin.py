"""Call and voicemail logs in the admin: superusers see all, a lead only their teams, nobody edits."""

import pytest
from django.urls import reverse

from telephony.models import Call, DialAttempt, Voicemail
from tests.factories import SupportNumberFactory, UserFactory, team_with_members


@pytest.fixture
def logs(db):
    lead_user = UserFactory(username="lea")
    web, (lead, primary, _) = team_with_members(3, lead_user=lead_user, name="Web")
    apps, _ = team_with_members(1, name="Apps")
    web_call = Call.objects.create(
        call_sid="CA" + "1" * 32, team=web, from_number="+4917011111111", outcome="answered", answered_by=primary
    )
    DialAttempt.objects.create(call=web_call, position=0, target="primary", member=primary, phone=primary.phone)
    apps_call = Call.objects.create(call_sid="CA" + "2" * 32, team=apps, from_number="+4917022222222")
    Voicemail.objects.create(
        call=web_call,
        team=web,
        recording_sid="RE" + "1" * 32,
        recording_url="https://api.twilio.com/r/RE1",
        transcription="Checkout is down",
        from_number="+4917011111111",
    )
    Voicemail.objects.create(
        team=apps, recording_sid="RE" + "2" * 32, recording_url="https://api.twilio.com/r/RE2", from_number="+49170"
    )
    return lead_user, web_call, apps_call


def test_lead_sees_only_their_teams_calls_and_voicemails(client, logs):
    lead_user, web_call, apps_call = logs
    client.force_login(lead_user)
    listing = client.get(reverse("admin:telephony_call_changelist")).content.decode()
    assert "+4917011111111" in listing and "+4917022222222" not in listing
    page = client.get(reverse("admin:telephony_call_change", args=[web_call.pk])).content.decode()
    assert "Answered" in page and "primary" in page and "https://api.twilio.com/r/RE1.mp3" in page
    assert client.get(reverse("admin:telephony_call_change", args=[apps_call.pk])).status_code in (302, 403, 404)
    voicemails = client.get(reverse("admin:telephony_voicemail_changelist")).content.decode()
    assert "Checkout is down" in voicemails and "RE2.mp3" not in voicemails


def test_logs_are_read_only(client, logs):
    lead_user, web_call, _ = logs
    client.force_login(lead_user)
    assert client.get(reverse("admin:telephony_call_add")).status_code == 403
    assert client.post(reverse("admin:telephony_call_delete", args=[web_call.pk]), {"post": "yes"}).status_code == 403
    assert Call.objects.filter(pk=web_call.pk).exists()


def test_superuser_sees_everything(client, logs):
    client.force_login(UserFactory(username="root", is_superuser=True))
    listing = client.get(reverse("admin:telephony_call_changelist")).content.decode()
    assert "+4917011111111" in listing and "+4917022222222" in listing


def test_staff_without_teams_sees_nothing(client, logs):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("admin:telephony_call_changelist")).status_code == 403


def test_support_number_admin_offers_the_twilio_sync_action(client, logs):
    SupportNumberFactory(team=logs[1].team)
    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(reverse("admin:teams_supportnumber_changelist")).content.decode()
    assert "sync_numbers_action" in page
