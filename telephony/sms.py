"""The SMS outbox service: every outgoing SMS is a row first, then a delivery task.

`sms_send` is the one way to send. A dedupe key that exists returns the existing row and sends nothing (the
unique constraint on `dedupe_key` decides races). Delivery (`sms_deliver_attempt`) claims the row with a
conditional UPDATE (queued → sending), so two workers never send the same row; `sms_outbox_sweep` picks up
rows whose task was lost. Bodies are shaped by telephony.sms_text (GSM-7, at most two segments).

Read timeouts: the Messages API has no idempotency key, so a create whose answer we never read may have
sent the SMS. Such a row stays `sending` with `needs_status_check`; the next attempt (the task's retry, or
the sweep if that retry is lost) lists the recipient's recent messages from our sender and looks for one
with the same body created after the row. Found: the row takes its sid and is sent. Not found (30 s later,
when a create that reached Twilio would long since exist): nothing was sent, and the row is queued again.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

from celery.exceptions import Retry
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from teams import selectors, services
from teams.models import Member, Team
from telephony import costs, rows
from telephony.backends import (
    SmsError,
    SmsPermanentError,
    SmsTransientError,
    SmsUncertainError,
    sms_backend,
)
from telephony.models import EarlyMessageStatus, OutboundMessage
from telephony.queue import task_publish
from telephony.sms_text import sms_body_fit, sms_body_fit_part

logger = logging.getLogger(__name__)

Status = OutboundMessage.Status

# Transient failures: retry base·2^(n-1) plus up to 25 % jitter, capped, for at most an hour from the row's
# creation. Jitter spreads a burst of reminders that all hit the same Twilio 429/503.
RETRY_BASE_SECONDS = 15
RETRY_MAX_SECONDS = 15 * 60
RETRY_JITTER = 0.25
RETRY_WINDOW = dt.timedelta(hours=1)
# How long after an unanswered create we look it up (a create that reached Twilio exists by then).
STATUS_CHECK_DELAY_SECONDS = 30
STATUS_CHECK_TOLERANCE = dt.timedelta(seconds=2)  # worker clocks differ a little
# A row still `sending` this long after its claim belongs to a worker that died mid-request.
STALE_SENDING = dt.timedelta(minutes=5)
# A queued row whose task has not run this long after it was due lost its broker message.
SWEEP_GRACE = dt.timedelta(minutes=1)
SWEEP_BATCH = 500

OPTED_OUT_CODE = "21610"
OPTED_OUT_REASON = "The member opted out of SMS (STOP)."

__all__ = [
    "sms_body_fit",
    "sms_body_fit_part",
    "sms_deliver_attempt",
    "sms_outbox_sweep",
    "sms_send",
    "sms_send_test",
    "sms_sender_for",
    "sms_status_update",
]


def _enqueue(message_id: int) -> None:
    """Publish the delivery task (one fast attempt); a broker outage leaves the row queued for the sweep."""
    try:
        task_publish("telephony.tasks.sms.sms_deliver", args=[message_id])
    except Retry:
        pass  # eager mode with propagation (tests): Celery re-raises the task's own retry; not a broker problem
    except Exception:
        logger.warning("Broker unreachable; message %s stays queued for the sweep", message_id, exc_info=True)


def _is_opted_out(*, to: str, member: Member | None) -> bool:
    if member is not None:
        return member.is_opted_out
    return selectors.phone_is_opted_out(phone=to)


def sms_send(
    *,
    to: str,
    body: str,
    kind: str,
    dedupe_key: str,
    team: Team | None = None,
    member: Member | None = None,
) -> OutboundMessage:
    """Write the outbox row (once per dedupe key) and enqueue its delivery after commit.

    The body is normalised to GSM-7 and cut to two segments; use `sms_body_fit_part` first to choose what
    gets cut. An opted-out member's row is written as skipped, with the reason, and not sent.
    """
    existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    status = Status.QUEUED
    error_message = ""
    if _is_opted_out(to=to, member=member):
        status, error_message = Status.SKIPPED, OPTED_OUT_REASON
    row = OutboundMessage(
        to=to,
        body=sms_body_fit(body),
        kind=kind,
        dedupe_key=dedupe_key,
        team=team,
        member=member,
        status=status,
        error_message=error_message,
    )
    # Another worker may write the same key first: theirs is the one that sends.
    message, created = rows.insert_or_existing(row, dedupe_key=dedupe_key)
    if not created:
        return message
    if status == Status.QUEUED:
        transaction.on_commit(lambda: _enqueue(message.pk))
    return message


def sms_send_test(*, member: Member, team: Team | None = None, requested_by: AbstractBaseUser) -> OutboundMessage:
    """A test SMS to a member, from the admin. Repeated clicks within the same minute send one message."""
    now = timezone.now()
    if team is None:
        team = member.teams.order_by("name").first()
    team_part = f" for team {team.name}" if team else ""
    body = (
        f"Support Roulette test message{team_part}, sent by {requested_by.get_username()}. "
        "If you read this, on-call SMS reach you. No action needed."
    )
    return sms_send(
        to=member.phone,
        body=body,
        kind=OutboundMessage.Kind.TEST,
        dedupe_key=f"test:{member.pk}:{requested_by.pk}:{now:%Y%m%dT%H%M}",
        team=team,
        member=member,
    )


def sms_sender_for(team: Team | None) -> str:
    """The team's SMS-capable number, else the global sender (some countries' numbers cannot send SMS)."""
    if team is not None:
        number = team.numbers.filter(sms_enabled=True).order_by("phone_number").first()
        if number is not None:
            return number.phone_number
    return settings.TWILIO_SMS_FROM


def retry_countdown(attempts: int) -> float:
    """Seconds before retry number `attempts` (1-based): exponential, capped, with up to 25 % added jitter."""
    base = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base + random.uniform(0, base * RETRY_JITTER)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt did; `retry_in` (seconds) is set when the task should run again."""

    status: str
    retry_in: float | None = None


def _update(message_id: int, only_if: Q, **fields) -> bool:
    """A conditional UPDATE: the row changes only while `only_if` still holds (our lock-free claim)."""
    fields.setdefault("updated_at", timezone.now())
    return OutboundMessage.objects.filter(Q(pk=message_id) & only_if).update(**fields) == 1


def _opt_out_recipient(message: OutboundMessage) -> None:
    services.member_opt_out(phone=message.to, member_id=message.member_id)


def _fail(message: OutboundMessage, error: SmsError, *, only_if: Q) -> DeliveryOutcome:
    _update(
        message.pk,
        only_if,
        status=Status.FAILED,
        needs_status_check=False,
        next_attempt_at=None,
        error_code=error.code,
        error_message=error.message,
    )
    if error.code == OPTED_OUT_CODE:
        _opt_out_recipient(message)
    logger.warning("SMS %s failed for good (code %s): %s", message.pk, error.code or "-", error.message)
    return DeliveryOutcome(Status.FAILED)


def _retry_later(message: OutboundMessage, error: SmsError, *, attempts: int, only_if: Q, **fields) -> DeliveryOutcome:
    """Schedule another try, or give up once the message is older than the retry window."""
    now = timezone.now()
    countdown = retry_countdown(attempts)
    if error.retry_after is not None:
        # The provider said when to come back (429 Retry-After): never sooner, still with a little jitter.
        countdown = max(countdown, error.retry_after + random.uniform(0, RETRY_BASE_SECONDS * RETRY_JITTER))
    if now + dt.timedelta(seconds=countdown) > message.created_at + RETRY_WINDOW:
        gave_up = SmsError(f"Gave up after {attempts} attempts in an hour: {error.message}", code=error.code)
        return _fail(message, gave_up, only_if=only_if)
    _update(
        message.pk,
        only_if,
        next_attempt_at=now + dt.timedelta(seconds=countdown),
        error_code=error.code,
        error_message=error.message,
        **fields,
    )
    logger.info("SMS %s: %s; retrying in %.0f s", message.pk, error.message, countdown)
    return DeliveryOutcome(fields.get("status", message.status), retry_in=countdown)


def _settle_error(message: OutboundMessage, error: SmsError, *, only_if: Q, **retry_fields) -> DeliveryOutcome:
    """A permanent error fails the row for good; any other is tried again later (with `retry_fields`)."""
    if isinstance(error, SmsPermanentError):
        return _fail(message, error, only_if=only_if)
    return _retry_later(message, error, attempts=message.attempts, only_if=only_if, **retry_fields)


def _mark_sent(message_id: int, *, sid: str, only_if: Q) -> DeliveryOutcome:
    now = timezone.now()
    _update(
        message_id,
        only_if,
        status=Status.SENT,
        message_sid=sid,
        sent_at=now,
        needs_status_check=False,
        next_attempt_at=None,
        error_code="",
        error_message="",
    )
    costs.message_charge_record(message_id=message_id, sid=sid)
    _apply_early_statuses(sid)  # a callback may have beaten us to it
    message = OutboundMessage.objects.filter(pk=message_id).only("status").first()
    return DeliveryOutcome(message.status if message else Status.SENT)


def _resolve_status_check(message: OutboundMessage) -> DeliveryOutcome | None:
    """Settle an unanswered create by looking it up. None means "nothing was sent": go on and send."""
    checking = Q(status=Status.SENDING, needs_status_check=True)
    try:
        found = sms_backend().lookup(message)
    except SmsError as error:
        return _settle_error(message, error, only_if=checking)
    if found is not None:
        logger.info("SMS %s: the unanswered request did create %s", message.pk, found.sid)
        return _mark_sent(message.pk, sid=found.sid, only_if=checking)
    # Nothing at Twilio: back to queued so the normal claim below (or another worker) sends it once.
    _update(message.pk, checking, status=Status.QUEUED, needs_status_check=False)
    return None


def sms_deliver_attempt(*, message_id: int) -> DeliveryOutcome:
    """One delivery attempt for an outbox row; safe to run any number of times, from any number of workers."""
    message = OutboundMessage.objects.select_related("member").filter(pk=message_id).first()
    if message is None:
        return DeliveryOutcome("missing")
    if message.status == Status.SENDING and message.needs_status_check:
        due_at = message.next_attempt_at
        if due_at is not None and timezone.now() < due_at - STATUS_CHECK_TOLERANCE:
            # Too early (a redelivered duplicate): an early "not found" could resend a create still in flight.
            # The scheduled retry, or the sweep, does the lookup.
            return DeliveryOutcome(Status.SENDING)
        outcome = _resolve_status_check(message)
        if outcome is not None:
            return outcome
        message.refresh_from_db()
    if message.status != Status.QUEUED or message.needs_status_check:
        # Sent, final, or another worker is sending it right now: nothing to do.
        return DeliveryOutcome(message.status)

    queued = Q(status=Status.QUEUED, needs_status_check=False)
    if _is_opted_out(to=message.to, member=message.member):
        _update(message.pk, queued, status=Status.SKIPPED, error_message=OPTED_OUT_REASON, next_attempt_at=None)
        return DeliveryOutcome(Status.SKIPPED)

    sender = message.sender or sms_sender_for(message.team)
    if not _update(message.pk, queued, status=Status.SENDING, sender=sender, attempts=F("attempts") + 1):
        return DeliveryOutcome("claimed elsewhere")
    message.refresh_from_db()

    sending = Q(status=Status.SENDING, needs_status_check=False)
    try:
        result = sms_backend().send(message)
    except SmsUncertainError as error:
        # Maybe sent: never resend blindly. Look it up after a pause (see the module docstring).
        _update(
            message.pk,
            sending,
            needs_status_check=True,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=STATUS_CHECK_DELAY_SECONDS),
            error_code=error.code,
            error_message=f"{error.message} Checking with Twilio before any resend.",
        )
        logger.warning("SMS %s: %s; will look it up before resending", message.pk, error.message)
        return DeliveryOutcome(Status.SENDING, retry_in=STATUS_CHECK_DELAY_SECONDS)
    except (SmsPermanentError, SmsTransientError) as error:
        return _settle_error(message, error, only_if=sending, status=Status.QUEUED)
    return _mark_sent(message.pk, sid=result.sid, only_if=sending)


def sms_outbox_sweep() -> dict[str, int]:
    """Every minute: re-enqueue rows whose task was lost (broker down, worker killed). Returns counts."""
    now = timezone.now()
    due = now - SWEEP_GRACE

    # A worker died between claiming a row and recording the answer: Twilio may have it, so look it up.
    stale = list(
        OutboundMessage.objects.filter(
            status=Status.SENDING, needs_status_check=False, updated_at__lt=now - STALE_SENDING
        ).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if stale:
        OutboundMessage.objects.filter(pk__in=stale, status=Status.SENDING, needs_status_check=False).update(
            needs_status_check=True, next_attempt_at=now, updated_at=now
        )

    lost = Q(status=Status.QUEUED) & (
        Q(next_attempt_at__isnull=True, created_at__lt=due) | Q(next_attempt_at__lt=due)
    ) | Q(status=Status.SENDING, needs_status_check=True, next_attempt_at__lt=due)
    ids = list(OutboundMessage.objects.filter(lost).order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    ids = sorted(set(ids) | set(stale))
    if ids:
        # Pushed a minute ahead, so a long broker backlog gets one extra task per row per minute, not one per tick.
        OutboundMessage.objects.filter(pk__in=ids, next_attempt_at__lt=due).update(next_attempt_at=now)
        OutboundMessage.objects.filter(pk__in=ids, next_attempt_at__isnull=True).update(next_attempt_at=now)
        for message_id in ids:
            _enqueue(message_id)
    # Callbacks for SIDs that never turned up (sent by another system on the same account) are dropped.
    EarlyMessageStatus.objects.filter(received_at__lt=now - dt.timedelta(days=1)).delete()
    return {"stale_sending": len(stale), "enqueued": len(ids)}


# Twilio's MessageStatus values, ranked: a callback may only move a row forward.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
_CALLBACK_STATUS = {
    "accepted": Status.SENDING,
    "scheduled": Status.SENDING,
    "queued": Status.SENDING,
    "sending": Status.SENDING,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
_EARLIER = {
    Status.SENDING: [Status.QUEUED],
    Status.SENT: [Status.QUEUED, Status.SENDING],
    Status.DELIVERED: [Status.QUEUED, Status.SENDING, Status.SENT],
    Status.UNDELIVERED: [Status.QUEUED, Status.SENDING, Status.SENT],
    Status.FAILED: [Status.QUEUED, Status.SENDING, Status.SENT],
}
# Delivery failures that only a status callback reports. https://www.twilio.com/docs/api/errors
DELIVERY_ERRORS = {
    "30003": "Unreachable destination handset.",
    "30004": "Message blocked.",
    "30005": "Unknown destination handset.",
    "30006": "Landline or unreachable carrier.",
    "30007": "Carrier filtered the message.",
    "30008": "Unknown error.",
}


def sms_status_update(*, message_sid: str, message_status: str, error_code: str = "") -> bool:
    """Apply a status callback in one UPDATE. Duplicates and out-of-order callbacks change nothing; a row in a
    final status (delivered, undelivered, failed) never moves back. Returns whether the row changed."""
    status = _CALLBACK_STATUS.get((message_status or "").strip().lower())
    if not message_sid or status is None or "\x00" in message_sid:
        return False  # nothing to apply (a NUL byte cannot even be looked up on PostgreSQL)
    error_code = (error_code or "").replace("\x00", "")
    fields: dict = {"status": status, "updated_at": timezone.now()}
    if status in (Status.UNDELIVERED, Status.FAILED):
        code = (error_code or "").strip()[:10]
        fields["error_code"] = code
        fields["error_message"] = DELIVERY_ERRORS.get(code, f"Twilio reported {message_status}.")
    changed = OutboundMessage.objects.filter(message_sid=message_sid, status__in=_EARLIER[status]).update(**fields) == 1
    if changed and status in OutboundMessage.FINAL_STATUSES:
        costs.message_charge_final(message_sid=message_sid, status=status)
    if not changed and not OutboundMessage.objects.filter(message_sid=message_sid).exists():
        # The worker has not stored this SID yet: park the callback, then look once more, since the SID may
        # have been stored in between (the worker applies parked callbacks right after storing it).
        EarlyMessageStatus.objects.create(
            message_sid=message_sid[:40], message_status=message_status.strip().lower()[:20], error_code=error_code[:10]
        )
        changed = _apply_early_statuses(message_sid)
    return changed


def _apply_early_statuses(message_sid: str) -> bool:
    """Apply, in order, the callbacks parked for a SID that is now stored; True if the row changed."""
    if not OutboundMessage.objects.filter(message_sid=message_sid).exists():
        return False
    changed = False
    parked = list(EarlyMessageStatus.objects.filter(message_sid=message_sid))
    for early in parked:
        changed |= sms_status_update(
            message_sid=message_sid, message_status=early.message_status, error_code=early.error_code
        )
    EarlyMessageStatus.objects.filter(pk__in=[early.pk for early in parked]).delete()
    return changed
