"""The outbox service with the locmem and console backends: one row per key, opt-outs skipped, the sweep."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from telephony.backends import locmem_outbox
from telephony.models import OutboundMessage
from telephony.sms import sms_outbox_sweep, sms_send
from telephony.tasks.sms import sms_deliver, sms_sweep
from tests.factories import MemberFactory, TeamFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_eager")]

Status = OutboundMessage.Status
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def send(member, key="handoff:7", body="You are on call now.", **kwargs):
    return sms_send(to=member.phone, body=body, kind="handoff", dedupe_key=key, member=member, **kwargs)


def test_a_message_is_sent_after_commit_not_before(django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = send(member)
    assert message.status == Status.QUEUED
    assert locmem_outbox == []
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert [m["body"] for m in locmem_outbox] == ["You are on call now."]


def test_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        send(member)
        raise RuntimeError("the caller failed after queueing")
    assert locmem_outbox == []
    assert not OutboundMessage.objects.exists()


def test_same_key_returns_the_existing_row_and_sends_once(django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = send(member)
        again = send(member, body="different body")
    sms_deliver.delay(first.pk)
    assert again.pk == first.pk
    assert len(locmem_outbox) == 1


def test_the_database_refuses_a_second_row_with_the_same_key():
    OutboundMessage.objects.create(to="+4915100000001", body="a", kind="test", dedupe_key="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessage.objects.create(to="+4915100000001", body="b", kind="test", dedupe_key="same")


def test_opted_out_member_is_skipped_with_a_reason(django_capture_on_commit_callbacks):
    member = MemberFactory(sms_opted_out_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member)
    assert message.status == Status.SKIPPED
    assert "opted out" in message.error_message
    assert locmem_outbox == []


def test_opted_out_number_is_skipped_even_without_the_member(django_capture_on_commit_callbacks):
    member = MemberFactory(sms_opted_out_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_send(to=member.phone, body="x", kind="reply", dedupe_key="reply:1")
    assert message.status == Status.SKIPPED


def test_member_who_opts_out_before_delivery_is_skipped(django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = send(member)
    member.sms_opted_out_at = timezone.now()
    member.save()
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == Status.SKIPPED
    assert locmem_outbox == []


def test_member_who_opts_back_in_gets_messages_again(django_capture_on_commit_callbacks):
    member = MemberFactory(sms_opted_out_at=timezone.now())
    member.sms_opted_out_at = None  # START
    member.save()
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member)
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_long_body_is_kept_within_two_segments_with_a_cut_marker(django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member, body="Voicemail: “" + "word " * 200 + "”")
    assert len(message.body) <= 306
    assert message.body.endswith("[cut]")
    assert "“" not in message.body


def test_console_backend_prints_and_marks_sent(settings, capsys, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "console"
    team = TeamFactory()
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member, team=team)
    message.refresh_from_db()
    assert message.status == Status.SENT
    out = capsys.readouterr().out
    assert member.phone in out
    assert "You are on call now." in out


def test_broker_down_leaves_the_row_queued_and_the_sweep_sends_it(monkeypatch, django_capture_on_commit_callbacks):
    member = MemberFactory()

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    with time_machine.travel(NOW, tick=False):
        monkeypatch.setattr(sms_deliver, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            message = send(member)
        message.refresh_from_db()
        assert message.status == Status.QUEUED
        monkeypatch.undo()

        assert sms_sweep.delay().get() == {"stale_sending": 0, "enqueued": 0}  # too young to be lost

    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        sms_sweep.delay()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(locmem_outbox) == 1


def test_the_sweep_does_not_touch_a_row_waiting_for_its_retry():
    with time_machine.travel(NOW, tick=False):
        OutboundMessage.objects.create(
            to="+4915100000001",
            body="x",
            kind="test",
            dedupe_key="waiting",
            attempts=1,
            next_attempt_at=NOW + dt.timedelta(minutes=4),
        )
    with time_machine.travel(NOW + dt.timedelta(minutes=3), tick=False):
        assert sms_outbox_sweep()["enqueued"] == 0
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert sms_outbox_sweep()["enqueued"] == 1
    assert len(locmem_outbox) == 1


def test_a_row_left_sending_by_a_dead_worker_is_looked_up_not_resent(eager_retries):
    with time_machine.travel(NOW, tick=False):
        message = OutboundMessage.objects.create(
            to="+4915100000001", body="x", kind="test", dedupe_key="dead", status=Status.SENDING, attempts=1
        )
    # The dead worker's request did reach the provider.
    locmem_outbox.append({"message_id": message.pk, "sid": "SM" + "d" * 32, "to": message.to, "body": "x"})
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=False):
        assert sms_outbox_sweep()["stale_sending"] == 0
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert sms_outbox_sweep()["stale_sending"] == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.message_sid == "SM" + "d" * 32
    assert len(locmem_outbox) == 1


def test_two_deliveries_of_one_row_send_once():
    message = OutboundMessage.objects.create(to="+4915100000001", body="x", kind="test", dedupe_key="twice")
    sms_deliver.delay(message.pk)
    sms_deliver.delay(message.pk)
    sms_deliver.delay(message.pk + 1000)  # a row that does not exist: nothing happens
    assert len(locmem_outbox) == 1
