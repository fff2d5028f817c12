"""End to end with a real Celery worker on Redis: a committed `sms_send` reaches the fake Twilio."""

import time

import pytest
from django.conf import settings
from django.db import transaction

from telephony.models import OutboundMessage
from telephony.sms import sms_send
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL is unset: no broker for a real Celery worker."),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="Needs PostgreSQL: a worker subprocess cannot see the SQLite test database of this process.",
    ),
]


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
