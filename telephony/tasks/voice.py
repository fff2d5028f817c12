"""Voice tasks: the voicemail notice sent after a bounded wait for its transcription."""

from celery import shared_task

__all__ = ["voicemail_notify_task"]


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def voicemail_notify_task(voicemail_id: int) -> None:
    """Safe to run twice: the outbox dedupe key sends each recipient one SMS per voicemail."""
    from telephony.calls import voicemail_notify_by_id

    voicemail_notify_by_id(voicemail_id)
