"""Swap tasks: expire the swaps whose shift has started (beat), and send the texts of a step made by SMS.
Thin: call the service, log one line.

The expiry has no retry policy: beat runs it every minute and each run does the whole job; running twice
tells nobody twice (a swap leaves `open` once, and the notice has a dedupe key). The same tick sends the texts
of SMS steps whose task was lost.
"""

import logging

from celery import shared_task

from telephony import swaps
from telephony.tasks.beat_log import logged

__all__ = ["swap_notices_send", "swaps_expire"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def swaps_expire() -> str:
    late = swaps.swap_notices_sweep()
    if late:
        logger.info("Texts of %s swap step(s) sent late (their task was lost)", late)
    return logged(logger, "Swaps expired", swaps.swaps_expire())


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def swap_notices_send(event_id: int) -> bool:
    """The texts a TAKE, APPROVE or DECLINE by SMS owes the others (published by the SMS command)."""
    return swaps.swap_notices_send(event_id=event_id)
