"""The fake Twilio itself: it must reject what Twilio's API description rejects, or the other tests prove little."""

import pytest
import requests
from django.conf import settings

from telephony.twilio import twilio_client
from tests.fake_twilio import openapi_skip_reason

ACCOUNT = "AC" + "0" * 32


def post(fake, path, data):
    return requests.post(
        fake.url + path, data=data, auth=(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN), timeout=5
    )


@pytest.mark.skipif(openapi_skip_reason() is not None, reason=openapi_skip_reason() or "")
def test_a_misspelt_parameter_is_rejected_and_reported(fake_twilio):
    response = post(
        fake_twilio,
        f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        {"To": "+4915100000001", "From": "+15005550006", "Body": "hi", "Statuscallback": "https://x.example/"},
    )
    assert response.status_code == 400
    assert "Statuscallback" in fake_twilio.validation_errors[0]
    fake_twilio.validation_errors.clear()  # expected here; the fixture fails any other test that has some


@pytest.mark.skipif(openapi_skip_reason() is not None, reason=openapi_skip_reason() or "")
def test_a_malformed_account_sid_is_rejected(fake_twilio):
    response = post(fake_twilio, "/2010-04-01/Accounts/ACnope/Messages.json", {"To": "+4915100000001", "Body": "x"})
    assert response.status_code == 400
    assert "AccountSid" in fake_twilio.validation_errors[0]
    fake_twilio.validation_errors.clear()


def test_wrong_credentials_get_twilio_error_20003(fake_twilio):
    response = requests.post(
        fake_twilio.url + f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        data={"To": "+4915100000001", "From": "+15005550006", "Body": "hi"},
        auth=(ACCOUNT, "wrong"),
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003


def test_incoming_phone_numbers_list_by_number_and_update(fake_twilio):
    sid = fake_twilio.own_number("+4930123456")
    fake_twilio.own_number("+4930999999")
    client = twilio_client()

    [number] = client.incoming_phone_numbers.list(phone_number="+4930123456")
    assert number.sid == sid
    client.incoming_phone_numbers(sid).update(
        voice_url="https://roulette.example.com/telephony/voice/incoming/",
        sms_url="https://roulette.example.com/telephony/sms/incoming/",
    )
    assert fake_twilio.numbers[sid]["voice_url"] == "https://roulette.example.com/telephony/voice/incoming/"
    assert fake_twilio.numbers[sid]["sms_url"] == "https://roulette.example.com/telephony/sms/incoming/"
    [update] = fake_twilio.requests_to("POST", f"{sid}.json")
    assert update.data["VoiceUrl"].endswith("/telephony/voice/incoming/")
