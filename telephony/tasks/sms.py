"""SMS delivery tasks."""

from celery import shared_task

__all__ = ["sms_deliver"]


@shared_task(acks_late=True)
def sms_deliver(message_id: int) -> None:
    raise NotImplementedError  # built by the SMS outbox issue
