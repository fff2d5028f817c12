"""Voice tasks: the voicemail's alert raised after a bounded wait for its transcription, and its sweep."""

import logging

from celery import shared_task

from telephony.tasks.beat_log import logged
from telephony.voicemail import voicemail_notify_by_id, voicemails_notify_overdue

logger = logging.getLogger(__name__)

__all__ = ["voicemail_notify_task", "voicemail_raise_task", "voicemails_notify_overdue_task"]


def _voicemail_alert_task(name: str, doc: str):
    """A task that raises a voicemail's alert (with retries on any error). Safe to run twice: a voicemail has
    one alert, and each of its pages one outbox row."""

    @shared_task(
        acks_late=True,
        autoretry_for=(Exception,),
        retry_backoff=True,
        max_retries=5,
        name=f"telephony.tasks.voicemail.{name}",
    )
    def task(voicemail_id: int) -> None:
        voicemail_notify_by_id(voicemail_id)

    task.__doc__ = doc
    return task


# Two names for one job, each published on its own occasion (telephony.voicemail): queued messages name them.
voicemail_notify_task = _voicemail_alert_task(
    "voicemail_notify_task", "After the bounded wait for the transcription: raise the alert, with or without it."
)
voicemail_raise_task = _voicemail_alert_task(
    "voicemail_raise_task", "The transcription is here before the alert: raise it now (not after the wait)."
)


@shared_task(acks_late=True)
def voicemails_notify_overdue_task() -> str:
    """Beat: a safety net for voicemail alerts whose delayed task was lost or failed; logs one line."""
    return logged(logger, "Voicemail sweep", f"{voicemails_notify_overdue()} overdue voicemail alert(s) raised")
