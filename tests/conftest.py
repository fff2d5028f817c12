"""Shared fixtures: factories live in tests/factories.py, signed Twilio requests in tests/twilio_helpers.py.

Celery is not eager unless a test asks for it with the `celery_eager` fixture (most modules that need it say
so in their `pytestmark`). A test that enqueues a task without asking for it fails: the task would otherwise
go to the broker unseen, and an assertion that nothing was sent would pass for the wrong reason.
"""

import pytest
from celery.signals import before_task_publish
from django.core.cache import cache

from roulette.celery import app as celery_app


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Known Twilio credentials and a public origin; SMS through the in-memory backend."""
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


@pytest.fixture(autouse=True)
def _no_task_published_unasked(request):
    """Fail a test that sends a task to the broker without asking for `celery_eager` (or a real worker)."""
    published = []

    def record(sender=None, **kwargs):
        published.append(sender)

    before_task_publish.connect(record, weak=False)
    yield
    before_task_publish.disconnect(record)
    if published and request.node.get_closest_marker("celery_worker") is None:
        pytest.fail(f"enqueued {sorted(set(published))} without the celery_eager fixture", pytrace=False)


@pytest.fixture
def celery_eager():
    """Celery runs each task in the caller, at once, and re-raises its errors."""
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
