"""twilio_sync_numbers against the fake Twilio server: webhooks set from PUBLIC_BASE_URL, strangers reported."""

from io import StringIO

import pytest
from django.contrib.admin.sites import AdminSite
from django.core.management import CommandError, call_command

from teams.models import SupportNumber
from telephony.numbers import numbers_sync, sync_numbers_action
from tests.factories import SupportNumberFactory, TeamFactory

BASE = "https://roulette.example.com/telephony"


@pytest.fixture
def numbers(db):
    team = TeamFactory(name="Web")
    return (
        SupportNumberFactory(team=team, phone_number="+493012340010"),
        SupportNumberFactory(team=team, phone_number="+493012340011"),
    )


def test_sync_sets_every_webhook_of_owned_numbers_and_reports_the_others(fake_twilio, numbers):
    owned_sid = fake_twilio.own_number("+493012340010")
    fake_twilio.own_number("+15005550006")  # the account's other number is left alone
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 number"):
        call_command("twilio_sync_numbers", stdout=out, stderr=err)
    assert "updated +493012340010" in out.getvalue()
    assert "not owned by this Twilio account: +493012340011" in err.getvalue()

    number = fake_twilio.numbers[owned_sid]
    assert number["voice_url"] == f"{BASE}/voice/incoming/"
    assert number["voice_fallback_url"] == f"{BASE}/voice/fallback/"
    assert number["status_callback"] == f"{BASE}/voice/status/"
    assert number["sms_url"] == f"{BASE}/sms/incoming/"
    assert number["voice_method"] == number["sms_method"] == "POST"
    assert SupportNumber.objects.get(phone_number="+493012340010").twilio_sid == owned_sid
    other = [n for n in fake_twilio.numbers.values() if n["phone_number"] == "+15005550006"][0]
    assert other["voice_url"] == ""
    assert len(fake_twilio.requests_to("POST", f"/IncomingPhoneNumbers/{owned_sid}.json")) == 1


def test_sync_of_chosen_numbers_succeeds_when_all_are_owned(fake_twilio, numbers):
    fake_twilio.own_number("+493012340011")
    out = StringIO()
    call_command("twilio_sync_numbers", "+493012340011", stdout=out, stderr=StringIO())
    assert "updated +493012340011" in out.getvalue()


def test_sync_of_a_number_that_is_not_ours_changes_nothing(fake_twilio, numbers):
    sid = fake_twilio.own_number("+493012340010")
    with pytest.raises(CommandError, match=r"Not support numbers here: \+15005550006"):
        call_command("twilio_sync_numbers", "+493012340010", "+15005550006", stdout=StringIO(), stderr=StringIO())
    assert fake_twilio.numbers[sid]["voice_url"] == ""


def test_dry_run_changes_nothing(fake_twilio, numbers):
    sid = fake_twilio.own_number("+493012340010")
    out = StringIO()
    call_command("twilio_sync_numbers", "--dry-run", stdout=out)
    assert f"voice_fallback_url = {BASE}/voice/fallback/" in out.getvalue()
    assert fake_twilio.numbers[sid]["voice_url"] == ""


def test_sync_warns_when_twilio_cannot_reach_the_public_url(fake_twilio, numbers, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    fake_twilio.own_number("+493012340010")
    report = numbers_sync(numbers=[numbers[0]])
    assert report.updated == ["+493012340010"] and report.warnings


def test_admin_action_reports_to_the_user(fake_twilio, numbers):
    fake_twilio.own_number("+493012340010")
    said = []

    class Admin:
        admin_site = AdminSite()

        def message_user(self, request, message, level):
            said.append(message)

    sync_numbers_action(Admin(), None, SupportNumber.objects.all())
    assert said == [
        "Webhooks set on Twilio for +493012340010.",
        "Not numbers of this Twilio account: +493012340011.",
    ]
