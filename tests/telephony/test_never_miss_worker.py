"""Never miss a caller, with a real Celery worker on Redis and the fake Twilio: a voicemail nobody acknowledges
reaches the secondary after the team's timeout; an acknowledged one stops; a worker killed in the middle of
delivering a page loses nothing and sends nothing twice.

The worker runs on the real clock, so "the timeout has passed" is written into the alert's history (its
last page moved back by the timeout) and the escalation task is published as beat would publish it.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db.models import F
from django.utils import timezone

from teams.models import Role
from telephony.models import Alert, AlertEvent, OutboundMessage
from telephony.sms import STALE_SENDING, sms_send
from telephony.tasks.alerts import alerts_escalate
from telephony.tasks.sms import sms_sweep
from tests.factories import ShiftFactory, SupportNumberFactory, UserFactory, team_with_members
from tests.fake_twilio import HANG
from tests.telephony.world import FALLBACK_PHONE, WEB_NUMBER, sid, to_voicemail
from tests.twilio_helpers import post_signed

pytestmark = pytest.mark.celery_worker  # PostgreSQL and REDIS_URL only (tests/conftest.py)

TRANSCRIPT = "The checkout is down since noon."
WAIT_SECONDS = 45  # "within seconds"; generous for a loaded two-core machine


@pytest.fixture
def team(transactional_db):
    """Team Web on call now, on the real clock the worker shares."""
    now = timezone.now()
    team, (lead, primary, secondary) = team_with_members(
        3, lead_user=UserFactory(username="lea"), name="Web", fallback_phone=FALLBACK_PHONE, ring_timeout=15
    )
    SupportNumberFactory(team=team, phone_number=WEB_NUMBER)
    for role, member in ((Role.PRIMARY, primary), (Role.SECONDARY, secondary)):
        ShiftFactory(
            team=team, role=role, member=member, start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1)
        )
    return team, primary, secondary


def texts_to(fake_twilio, phone: str) -> list[str]:
    return [request.data["Body"] for request in fake_twilio.message_creates if request.data["To"] == phone]


def wait_for(condition, worker, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and worker.poll() is None:
        if condition():
            return
        time.sleep(0.2)
    assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
    pytest.fail(f"{what}: not within {WAIT_SECONDS} s")


def leave_voicemail(twilio, worker) -> Alert:
    call = twilio()
    record = to_voicemail(call)
    recording_sid = sid("RE")
    call.record(record, recording_sid=recording_sid, duration=42)
    call.transcription(record, recording_sid=recording_sid, text=TRANSCRIPT)
    # The transcription hands the alert's raise to the worker.
    alerts = Alert.objects.filter(call__call_sid=call.call_sid, source="voicemail")
    wait_for(alerts.exists, worker, "the voicemail's alert")
    return alerts.get()


def the_timeout_passes(alert: Alert) -> None:
    """Move the alert's history back by the team's acknowledgement timeout and a minute."""
    back = dt.timedelta(minutes=alert.team.ack_timeout_minutes + 1)
    AlertEvent.objects.filter(alert=alert).update(created_at=F("created_at") - back)
    Alert.objects.filter(pk=alert.pk).update(next_escalation_at=F("next_escalation_at") - back)


def test_an_unacknowledged_voicemail_reaches_the_secondary(team, worker, fake_twilio, twilio):
    _, primary, secondary = team
    alert = leave_voicemail(twilio, worker)
    wait_for(lambda: texts_to(fake_twilio, primary.phone), worker, "the primary's page")
    [first] = texts_to(fake_twilio, primary.phone)
    assert f'"{TRANSCRIPT}"' in first and first.endswith(f"reply ACK {alert.pk}")
    assert texts_to(fake_twilio, secondary.phone) == []

    the_timeout_passes(alert)
    alerts_escalate.delay()  # beat's minute tick
    wait_for(lambda: texts_to(fake_twilio, secondary.phone), worker, "the secondary's page")
    [escalated] = texts_to(fake_twilio, secondary.phone)
    assert f"ALERT {alert.pk} (not acknowledged yet): Voicemail from" in escalated
    assert f'"{TRANSCRIPT}"' in escalated and escalated.endswith(f"reply ACK {alert.pk}")
    assert len(texts_to(fake_twilio, primary.phone)) == 1


def test_an_acknowledged_voicemail_stops(team, worker, fake_twilio, twilio, client):
    _, primary, secondary = team
    alert = leave_voicemail(twilio, worker)
    wait_for(lambda: texts_to(fake_twilio, primary.phone), worker, "the primary's page")
    params = {"MessageSid": sid("SM"), "From": primary.phone, "To": WEB_NUMBER, "Body": f"ack {alert.pk}"}
    assert f"ALERT {alert.pk} acknowledged" in post_signed(client, "/telephony/sms/incoming/", params).content.decode()

    the_timeout_passes(alert)
    alerts_escalate.delay()
    # The worker takes tasks in order, one at a time: once a text sent after the tick arrives, the tick ran.
    lead = alert.team.memberships.get(role="lead").member
    sms_send(to=lead.phone, body="marker", kind="test", dedupe_key="marker", member=lead)
    wait_for(lambda: texts_to(fake_twilio, lead.phone), worker, "the escalation tick and the marker")
    assert texts_to(fake_twilio, secondary.phone) == []
    alert.refresh_from_db()
    assert alert.state == Alert.State.ACKNOWLEDGED and alert.escalation_step == 1


def test_a_worker_killed_while_paging_the_secondary_loses_nothing_and_sends_once(
    team, celery_workers, worker, fake_twilio, twilio
):
    _, primary, secondary = team
    alert = leave_voicemail(twilio, worker)
    wait_for(lambda: texts_to(fake_twilio, primary.phone), worker, "the primary's page")

    fake_twilio.script(HANG, to=secondary.phone)  # Twilio takes the secondary's page, then never answers
    the_timeout_passes(alert)
    alerts_escalate.delay()
    wait_for(lambda: texts_to(fake_twilio, secondary.phone), worker, "the secondary's page request")
    celery_workers.kill(worker)  # mid-delivery: the row is claimed (sending), Twilio has the message
    page = OutboundMessage.objects.get(to=secondary.phone)
    assert page.status == OutboundMessage.Status.SENDING and not page.message_sid

    # A new worker; the outbox sweep (beat, every minute) finds the row once it has been stuck long enough.
    second = celery_workers.start()
    OutboundMessage.objects.filter(pk=page.pk).update(
        updated_at=F("updated_at") - STALE_SENDING - dt.timedelta(minutes=1)
    )
    sms_sweep.delay()

    def settled():
        page.refresh_from_db()
        return page.status == OutboundMessage.Status.SENT

    wait_for(settled, second, "the page settled")
    # It looked the message up instead of sending it again: one page, with Twilio's own SID.
    assert len(texts_to(fake_twilio, secondary.phone)) == 1
    assert page.message_sid in fake_twilio.messages
