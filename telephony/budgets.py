"""Budgets: a team's leads get one SMS when the month's estimated cost reaches 80 % of its `monthly_budget`,
and one when it reaches 100 % (per lead, team, month and threshold: the outbox dedupe key).

Checked by beat (every five minutes, every team with a budget) and for a team as soon as Twilio reports a
price of theirs. The figure is the usage page's `estimated` cost: Twilio's prices where known, the rates'
estimates elsewhere. Months are the team's own (they start at local midnight of the 1st). Going over the
budget only tells people: calls are still forwarded and SMS still sent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext

from teams.models import Member, Team
from teams.selectors import leads_of_teams, teams_with_budget
from telephony import selectors
from telephony.models import OutboundMessage
from telephony.sms import sms_send

THRESHOLDS = (100, 80)  # highest first: at 100 % the 80 % notice is no news any more


def _key(team: Team, month: str, threshold: int, lead: Member) -> str:
    return f"budget:{team.pk}:{month}:{threshold}:{lead.pk}"


def _body(team: Team, *, threshold: int, spent: Decimal, month: dt.date) -> str:
    values = {
        "team": team.name,
        "spent": f"{spent:.2f}",
        "budget": f"{team.monthly_budget:.2f}",
        "month": date_format(month, "F Y"),
        "percent": int(spent * 100 / team.monthly_budget),
    }
    if threshold >= 100:
        return (
            gettext(
                "%(team)s has used its whole phone budget for %(month)s: %(spent)s of %(budget)s USD "
                "(estimated). Calls are still forwarded."
            )
            % values
        )
    return (
        gettext(
            "%(team)s has used %(percent)s%% of its phone budget for %(month)s: %(spent)s of %(budget)s USD "
            "(estimated)."
        )
        % values
    )


def _check(teams: list[Team], now: dt.datetime) -> int:
    teams = [team for team in teams if team.monthly_budget]
    if not teams:
        return 0
    spent = selectors.estimated_costs_this_month(teams=teams, now=now)
    _, leads = leads_of_teams()
    due = []  # (team, threshold, month, lead)
    for team in teams:
        cost = spent.get(team.pk, Decimal(0))
        local = now.astimezone(team.tz)
        month = local.date().replace(day=1)
        crossed = [t for t in THRESHOLDS if cost * 100 >= team.monthly_budget * t]
        for lead in leads.get(team.pk, []):
            due.extend((team, threshold, month, lead, cost) for threshold in crossed)
    keys = {_key(team, f"{month:%Y-%m}", t, lead) for team, t, month, lead, _ in due}
    sent = set(OutboundMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    created = 0
    told: set[tuple[int, int]] = set()  # (team, lead) already told at a higher threshold, now or before
    for team, threshold, month, lead, cost in due:
        key = _key(team, f"{month:%Y-%m}", threshold, lead)
        if (team.pk, lead.pk) in told:
            continue
        told.add((team.pk, lead.pk))
        if key in sent:
            continue
        with translation.override(lead.language_for(team)):
            body = _body(team, threshold=threshold, spent=cost, month=month)
        sms_send(
            to=lead.phone,
            body=body,
            kind=OutboundMessage.Kind.BUDGET,
            dedupe_key=key,
            team=team,
            member=lead,
        )
        created += 1
    return created


def budgets_check(*, now: dt.datetime | None = None) -> int:
    """Beat: every team with a budget; returns how many notices were written. Four queries in all."""
    return _check(teams_with_budget(), now or timezone.now())


def team_budget_check(*, team_id: int, now: dt.datetime | None = None) -> int:
    """After one of the team's prices arrived."""
    return _check(teams_with_budget(team_id=team_id), now or timezone.now())
