"""Alert escalation tasks."""

from celery import shared_task

from telephony import alerts

__all__ = ["alerts_escalate"]


@shared_task(acks_late=True, ignore_result=True)
def alerts_escalate() -> int:
    """Beat, every minute: page the next stage of every open alert whose acknowledgement timeout passed.

    Safe to run twice or on two workers at once: each alert is locked (skip locked) and re-checked as due.
    """
    return alerts.alerts_escalate_due()
