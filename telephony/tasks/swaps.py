"""Beat-driven swap task: expire the swaps whose shift has started. Thin: call the service, log one line.

No retry policy: beat runs it every minute and each run does the whole job; running twice tells nobody twice
(a swap leaves `open` once, and the notice has a dedupe key).
"""

import logging

from celery import shared_task

from telephony import swaps
from telephony.tasks.beat_log import logged

__all__ = ["swaps_expire"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def swaps_expire() -> str:
    return logged(logger, "Swaps expired", swaps.swaps_expire())
