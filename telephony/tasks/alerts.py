"""Alert tasks: escalation (beat) and the notices of an acknowledgement or resolution made by SMS."""

from celery import shared_task

from telephony import alerts

__all__ = ["alert_notices_send", "alerts_escalate"]


@shared_task(acks_late=True, ignore_result=True)
def alerts_escalate() -> int:
    """Beat, every minute: page the next stage of every open alert whose acknowledgement timeout passed, and
    send the notices of SMS commands whose task was lost.

    Safe to run twice or on two workers at once: each alert is locked (skip locked) and re-checked as due;
    each step's notices are owed until sent, under the step's lock, and each notice has its dedupe key.
    """
    moved = alerts.alerts_escalate_due()
    alerts.alert_notices_sweep()
    return moved


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def alert_notices_send(event_id: int) -> bool:
    """Tell the people paged that an alert was acknowledged or resolved (published by the SMS command)."""
    return alerts.alert_notices_send(event_id=event_id)
