"""Cost tasks: Twilio's price of a call leg or SMS, the sweep of lost look-ups, the budget notices."""

import logging

from celery import shared_task

from telephony import budgets, costs

logger = logging.getLogger(__name__)

__all__ = ["budgets_check", "charge_price_fetch", "charge_prices_sweep"]


# max_retries=None: the service decides when to stop (a day after the charge was written). Safe to run
# twice: a priced charge is left alone, and budget notices have dedupe keys.
@shared_task(bind=True, acks_late=True, max_retries=None, name="telephony.tasks.costs.charge_price_fetch")
def charge_price_fetch(self, charge_id: int) -> bool:
    outcome = costs.charge_price_fetch(charge_id=charge_id)
    if outcome.priced and outcome.team_id is not None:
        budgets.team_budget_check(team_id=outcome.team_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.priced


@shared_task(acks_late=True, ignore_result=True, name="telephony.tasks.costs.charge_prices_sweep")
def charge_prices_sweep() -> int:
    """Beat: publish again the price look-ups whose task was lost (broker down when the call ended)."""
    published = costs.charge_prices_sweep()
    if published:
        logger.info("Price look-ups published again: %s", published)
    return published


@shared_task(acks_late=True, ignore_result=True, name="telephony.tasks.costs.budgets_check")
def budgets_check() -> int:
    """Beat: one SMS per lead at 80 % and at 100 % of the team's monthly budget."""
    return budgets.budgets_check()
