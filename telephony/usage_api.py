"""GET /api/v1/teams/{slug}/usage/?month=YYYY-MM: what the team's phone line cost in a month (its leads only).

Months are the team's own (from local midnight of the 1st); money is a decimal string in USD.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from teams.api_base import SLUG_PARAM, TeamScopedMixin
from teams.models import Team
from telephony import selectors
from telephony.costs import CURRENCY

MONTH_PARAM = OpenApiParameter(
    "month", OpenApiTypes.STR, description="YYYY-MM in the team's time zone (default: the current month there)."
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
CENT_FRACTIONS = Decimal("0.00001")  # Twilio's prices have five decimals


def parse_month(text: str | None, *, team: Team, now: dt.datetime) -> dt.date:
    """?month=2026-12 as its first day; absent: the team's current month; else a 400 naming `month`."""
    if text is None or text == "":
        return now.astimezone(team.tz).date().replace(day=1)
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise exceptions.ValidationError(
            {"month": [gettext("Give the month as YYYY-MM, for example 2026-12 (from 2000 on).")]}
        )
    return dt.date(int(match[1]), int(match[2]), 1)


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT_FRACTIONS))


def usage_payload(team: Team, usage: selectors.Usage) -> dict:
    return {
        "team": team.slug,
        "month": f"{usage.month:%Y-%m}",
        "timezone": team.timezone,
        "calls_in": usage.calls_in,
        "minutes_in": usage.minutes_in,
        "forward_legs": usage.forward_legs,
        "minutes_forwarded": usage.minutes_forwarded,
        "sms_sent": usage.sms_sent,
        "sms_segments": usage.sms_segments,
        "cost": {
            "actual": money(usage.actual),
            "estimated": money(usage.estimated),
            "currency": CURRENCY,
            "pending": usage.pending,
        },
        "monthly_budget": money(team.monthly_budget) if team.monthly_budget is not None else None,
    }


class CostSerializer(serializers.Serializer):
    actual = serializers.DecimalField(
        max_digits=14, decimal_places=5, help_text="The sum of the prices Twilio has reported so far."
    )
    estimated = serializers.DecimalField(
        max_digits=14,
        decimal_places=5,
        help_text="Twilio's price where known, an estimate from the configured rates elsewhere.",
    )
    currency = serializers.CharField()
    pending = serializers.IntegerField(help_text="Call legs and messages still waiting for Twilio's price.")


class UsageSerializer(serializers.Serializer):
    team = serializers.CharField()
    month = serializers.CharField()
    timezone = serializers.CharField()
    calls_in = serializers.IntegerField()
    minutes_in = serializers.IntegerField(help_text="Billed minutes of the inbound calls (each rounded up).")
    forward_legs = serializers.IntegerField()
    minutes_forwarded = serializers.IntegerField(help_text="Billed minutes of the forwarded legs (each rounded up).")
    sms_sent = serializers.IntegerField()
    sms_segments = serializers.IntegerField()
    cost = CostSerializer()
    monthly_budget = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


@extend_schema(tags=["costs"], parameters=[SLUG_PARAM])
class TeamUsageView(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_usage",
        parameters=[MONTH_PARAM],
        responses=UsageSerializer,
        summary="What the team's phone line cost in a month: calls, forwarded legs, SMS, in USD (leads only).",
    )
    def get(self, request, slug: str):
        if not self.is_team_lead:
            raise exceptions.PermissionDenied(gettext("Only the team's leads see what its phone line costs."))
        month = parse_month(request.query_params.get("month"), team=self.team, now=timezone.now())
        usage = selectors.usage_month(team=self.team, month=month)
        return Response(usage_payload(self.team, usage))


urlpatterns = [
    path("teams/<str:slug>/usage/", TeamUsageView.as_view(), name="team-usage"),
]
