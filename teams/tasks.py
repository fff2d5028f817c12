"""Celery tasks of the teams app: thin, they call a service and log one line."""

import logging

from celery import shared_task

from teams import services

logger = logging.getLogger(__name__)


# No retry: beat runs this hourly and every run does the whole job, so the next run is the retry.
@shared_task(acks_late=True, ignore_result=True)
def shifts_extend_horizon() -> dict[str, int]:
    """Keep every rotation's shifts generated up to the horizon (SHIFT_HORIZON_WEEKS)."""
    counts = services.shifts_generate()
    logger.info(
        "Shift horizon: %(created)d created, %(updated)d updated, %(deleted)d deleted, %(failed)d rotations failed",
        counts,
    )
    return counts
