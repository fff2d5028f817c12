"""Secrets (the Twilio Auth Token, API tokens) never reach the logs, nor stored error texts."""

from __future__ import annotations

import base64
import logging

import pytest
import time_machine
from django.core.cache import cache

from teams.models import ApiToken
from telephony.models import OutboundMessage
from telephony.sms import sms_send
from tests.factories import MemberFactory, SupportNumberFactory, TeamFactory
from tests.fake_twilio import TwilioError
from tests.security.world import AUTH_TOKEN, NOW, api

# --- Secrets never reach the logs ---------------------------------------------------------------------------


def test_twilio_client_request_logging_is_off():
    """twilio-python logs every request and response at INFO; the project's LOGGING keeps that off."""
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING


def secret_forms(sid: str) -> list[str]:
    basic = base64.b64encode(f"{sid}:{AUTH_TOKEN}".encode()).decode()
    return [AUTH_TOKEN, basic]


@pytest.mark.usefixtures("celery_eager")
@pytest.mark.parametrize(
    "failure",
    [TwilioError(401, 20003, "Authenticate"), TwilioError(500), TwilioError(400, 21211, "bad To")],
    ids=["auth", "server-error", "permanent"],
)
def test_a_failed_twilio_send_logs_no_auth_token(db, fake_twilio, settings, caplog, failure,
                                                 django_capture_on_commit_callbacks):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    for name in ("twilio", "twilio.http_client", "urllib3", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_twilio.script(failure, failure, failure, failure, failure, failure)
    team = TeamFactory()
    SupportNumberFactory(team=team, phone_number="+4930555111", sms_enabled=True)
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        sms_send(to=member.phone, body="hello", kind="reminder", dedupe_key="k-secret", team=team, member=member)
    message = OutboundMessage.objects.get(dedupe_key="k-secret")
    assert message.attempts >= 1
    stored = f"{message.error_message} {message.error_code}"
    for secret in secret_forms(settings.TWILIO_ACCOUNT_SID):
        assert secret not in caplog.text
        assert secret not in stored


@pytest.mark.usefixtures("celery_eager")
def test_an_unreachable_twilio_logs_no_auth_token(db, settings, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="twilio")
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 2
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        sms_send(to=member.phone, body="hello", kind="reminder", dedupe_key="k-net", member=member)
    message = OutboundMessage.objects.get(dedupe_key="k-net")
    for secret in secret_forms(settings.TWILIO_ACCOUNT_SID):
        assert secret not in caplog.text
        assert secret not in message.error_message


def test_api_tokens_are_never_logged_or_echoed(world, caplog):
    caplog.set_level(logging.DEBUG)
    with time_machine.travel(NOW, tick=False):
        for key in (world.alpha.key, world.alpha.key[:-1] + "!", world.alpha.alerts_key):
            for url in ("/api/v1/teams/", "/api/v1/teams/bravo/", "/api/v1/teams/alpha/alerts/"):
                response = api(key).get(url)
                assert key not in response.content.decode()
                cache.clear()
    for key in (world.alpha.key, world.alpha.alerts_key):
        assert key not in caplog.text
    assert ApiToken.objects.filter(key_hash__contains=world.alpha.key).count() == 0  # stored hashed
