"""Budgets: one SMS per lead at 80 % and one at 100 % of the team's monthly budget, per month."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from telephony import budgets, costs
from telephony.models import Call, OutboundMessage
from telephony.tasks.costs import budgets_check
from tests.telephony.world import NOW, sid

pytestmark = pytest.mark.usefixtures("celery_eager")


def spend(team, minutes: int, *, at=None):
    """A forwarded leg of `minutes` (33 cents a minute by default)."""
    call = Call.objects.create(team=team, call_sid=sid("CA"), duration_seconds=60 * minutes)
    if at is not None:
        Call.objects.filter(pk=call.pk).update(started_at=at)
        call.refresh_from_db()
    costs.leg_charge_record(call=call, dial_call_sid=sid("CA"), seconds=60 * minutes)


def notices():
    return list(OutboundMessage.objects.filter(kind=OutboundMessage.Kind.BUDGET).order_by("pk"))


def test_leads_hear_once_at_80_and_once_at_100_percent_each_month(web, clock):
    web.team.monthly_budget = Decimal("3.30")  # ten forwarded minutes
    web.team.save()
    spend(web.team, 7)
    budgets_check.delay()
    assert notices() == []

    spend(web.team, 1)  # 8 minutes: 80 %
    budgets_check.delay()
    budgets_check.delay()
    [eighty] = notices()
    assert eighty.to == web.lead.phone and eighty.team == web.team
    assert "80%" in eighty.body and "2.64 of 3.30 USD" in eighty.body and "December 2026" in eighty.body

    spend(web.team, 3)  # 11 minutes: over
    assert budgets.budgets_check() == 1
    assert budgets.budgets_check() == 0
    assert "whole phone budget" in notices()[-1].body and len(notices()) == 2

    # A new month (the team's): nothing spent yet, nothing said; a big spend says only what is news.
    january = NOW.replace(month=1, year=2027, day=5)
    clock.move_to(january)
    assert budgets.budgets_check() == 0
    spend(web.team, 12, at=january)
    assert budgets.budgets_check() == 1
    assert "whole phone budget for January 2027" in notices()[-1].body
    assert budgets.budgets_check() == 0


def test_teams_without_a_budget_are_not_checked(web, clock, django_assert_max_num_queries):
    spend(web.team, 100)
    with django_assert_max_num_queries(1):
        assert budgets.budgets_check() == 0


def test_a_lead_sets_the_budget_and_a_bad_one_is_named(web):
    client = APIClient()
    client.force_authenticate(web.lead.user)
    url = f"/api/v1/teams/{web.team.slug}/"
    assert client.patch(url, {"monthly_budget": "50.00"}, format="json").json()["monthly_budget"] == "50.00"
    bad = client.patch(url, {"monthly_budget": "-5"}, format="json")
    assert bad.status_code == 400 and "monthly_budget" in bad.json()["error"]["fields"]
    assert client.patch(url, {"monthly_budget": None}, format="json").json()["monthly_budget"] is None
