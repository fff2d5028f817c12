"""Voice tasks: the voicemail's alert raised after a bounded wait for its transcription, and its sweep."""

import logging

from celery import shared_task

from telephony.voicemail import voicemail_notify_by_id, voicemails_notify_overdue

logger = logging.getLogger(__name__)

__all__ = ["voicemail_notify_task", "voicemail_raise_task", "voicemails_notify_overdue_task"]


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    name="telephony.tasks.voicemail.voicemail_notify_task",
)
def voicemail_notify_task(voicemail_id: int) -> None:
    """Safe to run twice: a voicemail has one alert, and each of its pages one outbox row."""
    voicemail_notify_by_id(voicemail_id)


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    name="telephony.tasks.voicemail.voicemail_raise_task",
)
def voicemail_raise_task(voicemail_id: int) -> None:
    """The transcription is here before the alert: raise it now (not after the wait). Safe to run twice."""
    voicemail_notify_by_id(voicemail_id)


@shared_task(acks_late=True)
def voicemails_notify_overdue_task() -> str:
    """Beat: a safety net for voicemail alerts whose delayed task was lost or failed; logs one line."""
    raised = voicemails_notify_overdue()
    summary = f"{raised} overdue voicemail alert(s) raised"
    logger.info("Voicemail sweep: %s", summary)
    return summary
