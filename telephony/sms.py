"""The SMS outbox service: every outgoing SMS is a row first, then a delivery task.

`sms_send` is the one way to send. A dedupe key that exists returns the existing row and sends nothing.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from teams.models import Member, Team
from telephony.models import OutboundMessage

logger = logging.getLogger(__name__)


def _enqueue(message_id: int) -> None:
    """Publish the delivery task; a broker outage leaves the row queued for the sweep."""
    from telephony.tasks.sms import sms_deliver

    try:
        sms_deliver.apply_async(args=[message_id], retry=False)
    except Exception:
        logger.warning("Broker unreachable; message %s stays queued for the sweep", message_id, exc_info=True)


def sms_send(
    *,
    to: str,
    body: str,
    kind: str,
    dedupe_key: str,
    team: Team | None = None,
    member: Member | None = None,
) -> OutboundMessage:
    """Write the outbox row (once per dedupe key) and enqueue its delivery after commit."""
    existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    status = OutboundMessage.Status.QUEUED
    error_message = ""
    if member is not None and member.is_opted_out:
        status, error_message = OutboundMessage.Status.SKIPPED, "The member opted out of SMS (STOP)."
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                to=to,
                body=body,
                kind=kind,
                dedupe_key=dedupe_key,
                team=team,
                member=member,
                status=status,
                error_message=error_message,
            )
    except IntegrityError:
        # Another worker wrote the same key first: theirs is the one that sends.
        return OutboundMessage.objects.get(dedupe_key=dedupe_key)
    if status == OutboundMessage.Status.QUEUED:
        transaction.on_commit(lambda: _enqueue(message.pk))
    return message
