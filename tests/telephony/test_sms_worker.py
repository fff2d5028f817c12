"""End to end with a real Celery worker on Redis: a committed `sms_send` reaches the fake Twilio."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from telephony.models import OutboundMessage
from telephony.sms import sms_send
from tests.factories import MemberFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL is unset: no broker for a real Celery worker."),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="Needs PostgreSQL: a worker subprocess cannot see the SQLite test database of this process.",
    ),
]


@pytest.fixture
def worker(test_database_url, fake_twilio):
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "DATABASE_CONN_MAX_AGE": "0",  # no connection left behind to block dropping the test database
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SMS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "TWILIO_ACCOUNT_SID": settings.TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
        "TWILIO_SMS_FROM": settings.TWILIO_SMS_FROM,
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
    }
    process = subprocess.Popen(
        [str(CELERY), "-A", "roulette", "worker", "-P", "solo", "-l", "warning", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_committed_send_reaches_fake_twilio_through_a_real_worker(worker, fake_twilio, settings):
    # No celery_eager here: the task goes through Redis to the worker.
    member = MemberFactory()
    with transaction.atomic():
        message = sms_send(to=member.phone, body="Worker test", kind="test", dedupe_key="worker:1", member=member)

    deadline = time.monotonic() + 30  # "within seconds"; generous for a loaded two-core machine
    while time.monotonic() < deadline and worker.poll() is None:
        message.refresh_from_db()
        if message.status == OutboundMessage.Status.SENT:
            break
        time.sleep(0.2)

    assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
    assert message.status == OutboundMessage.Status.SENT
    [request] = fake_twilio.message_creates
    assert request.data["Body"] == "Worker test"
    assert message.message_sid in fake_twilio.messages
