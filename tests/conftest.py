"""Shared fixtures: factories live in tests/factories.py, signed Twilio requests in tests/twilio_helpers.py."""

import pytest
from django.core.cache import cache

from roulette.celery import app as celery_app


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Known Twilio credentials and a public origin; SMS through the in-memory backend; eager Celery."""
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_AUTH_TOKEN_SECONDARY = ""
    settings.TWILIO_VALIDATE_SIGNATURES = True
    settings.PUBLIC_BASE_URL = "https://roulette.example.com"
    settings.TWILIO_API_BASE_URL = ""
    settings.TWILIO_SMS_FROM = "+15005550006"
    settings.SMS_BACKEND = "locmem"
    settings.ALLOWED_HOSTS = ["*"]
    # Real hashing costs ~1 s per user on these machines; the tests do not test password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    eager = celery_app.conf.task_always_eager
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = eager
    celery_app.conf.task_eager_propagates = propagates


@pytest.fixture
def _fresh_throttle():
    """The API's rate limit counts in the cache, which outlives a test's database: start and leave clean."""
    cache.clear()
    yield
    cache.clear()
