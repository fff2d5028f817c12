"""Fixtures for the telephony tests: a fake Twilio that the real twilio client talks to, the clock, team Web and
its calls (plain helpers are in tests/telephony/world.py)."""

import warnings

import pytest
import time_machine

from roulette.celery import app as celery_app
from telephony.backends import locmem_outbox
from tests.fake_twilio import FakeTwilio, openapi_skip_reason
from tests.telephony.world import NOW, TwilioCall, web_team


@pytest.fixture
def fake_twilio(settings):
    """A started fake Twilio; settings point the twilio backend at it. Fails the test on any request that
    Twilio's OpenAPI description rejects."""
    reason = openapi_skip_reason()
    if reason:
        warnings.warn(reason, stacklevel=1)
    fake = FakeTwilio(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN)
    fake.start()
    settings.TWILIO_API_BASE_URL = fake.url
    settings.SMS_BACKEND = "twilio"
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.validation_errors, "Requests Twilio's API description rejects:\n" + "\n".join(
        fake.validation_errors
    )


@pytest.fixture(autouse=True)
def _empty_locmem_outbox():
    locmem_outbox.clear()
    yield
    locmem_outbox.clear()


@pytest.fixture
def eager_retries(celery_eager):
    """Eager Celery that runs a task's retries at once instead of raising Retry out of `.delay()`.

    (With task_eager_propagates, Celery re-raises Retry to the caller; celery_eager restores the setting
    after the test.)"""
    celery_app.conf.task_eager_propagates = False
    yield


@pytest.fixture
def clock():
    """Time stands still at NOW (tests.telephony.world); move it with clock.move_to(...)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def web(db, clock):
    """Team Web (tests.telephony.world.web_team): a lead, a primary and a secondary on call all week."""
    return web_team(clock)


@pytest.fixture
def twilio(client, django_capture_on_commit_callbacks):
    """Start a call as Twilio would: `twilio()` or `twilio(caller=..., to=...)` gives a TwilioCall."""
    return lambda **kw: TwilioCall(client, django_capture_on_commit_callbacks, **kw)
