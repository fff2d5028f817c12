"""Voice tasks: the voicemail notice sent after a bounded wait for its transcription."""

import logging

from celery import shared_task

from telephony.voicemail import voicemail_notify_by_id, voicemails_notify_overdue

logger = logging.getLogger(__name__)

__all__ = ["voicemail_notify_task", "voicemails_notify_overdue_task"]


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    name="telephony.tasks.voicemail.voicemail_notify_task",
)
def voicemail_notify_task(voicemail_id: int) -> None:
    """Safe to run twice: the outbox dedupe key sends each recipient one SMS per voicemail."""
    voicemail_notify_by_id(voicemail_id)


@shared_task(acks_late=True)
def voicemails_notify_overdue_task() -> str:
    """Beat: a safety net for voicemail notices whose delayed task was lost; logs one line."""
    notified = voicemails_notify_overdue()
    summary = f"{notified} overdue voicemail notice(s) sent"
    logger.info("Voicemail sweep: %s", summary)
    return summary
