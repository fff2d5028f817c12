"""Beat-driven rota tasks: reminders, hand-off notices, gap alerts. Thin: call a service, log one line.

No retry policy: beat runs each of them again within minutes and every run does the whole job, so the next
tick is the retry. Running twice, or on two workers at once, sends nothing twice (outbox dedupe keys).
"""

import logging

from celery import shared_task

from telephony import notifications
from telephony.tasks.beat_log import logged

__all__ = ["gaps_alert", "handoffs_notify", "reminders_send"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def reminders_send() -> str:
    return logged(logger, "Shift reminders", notifications.reminders_send())


@shared_task(acks_late=True, ignore_result=True)
def handoffs_notify() -> str:
    return logged(logger, "Hand-off notices", notifications.handoffs_notify())


@shared_task(acks_late=True, ignore_result=True)
def gaps_alert() -> str:
    return logged(logger, "Gap alerts", notifications.gaps_alert())
