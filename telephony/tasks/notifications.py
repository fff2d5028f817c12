"""Beat-driven rota tasks: reminders, hand-off notices, gap alerts. Thin: call a service, log one line.

No retry policy: beat runs each of them again within minutes and every run does the whole job, so the next
tick is the retry. Running twice, or on two workers at once, sends nothing twice (outbox dedupe keys).
"""

import logging

from celery import shared_task

from telephony import notifications

__all__ = ["gaps_alert", "handoffs_notify", "reminders_send"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def reminders_send() -> str:
    result = notifications.reminders_send()
    logger.info("Shift reminders: %s", result)
    return str(result)


@shared_task(acks_late=True, ignore_result=True)
def handoffs_notify() -> str:
    result = notifications.handoffs_notify()
    logger.info("Hand-off notices: %s", result)
    return str(result)


@shared_task(acks_late=True, ignore_result=True)
def gaps_alert() -> str:
    result = notifications.gaps_alert()
    logger.info("Gap alerts: %s", result)
    return str(result)
