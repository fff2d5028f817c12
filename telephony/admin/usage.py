"""The leads' usage page: what a team's phone line cost in each of the last 12 months, as a chart drawn by
the server (inline SVG, nothing loaded from elsewhere), a table, and a CSV download (`?format=csv`).

Scoped like the rest of the leads' admin: a lead sees only the teams they lead (another team is a 404), a
superuser every team. Months are the team's own; two queries whatever the number of calls and messages.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from teams import selectors as teams_selectors
from teams.admin import is_lead_in_admin
from teams.models import Team
from telephony import selectors
from telephony.costs import CURRENCY

MONTHS = 12
# The chart's drawing area, in SVG user units (the SVG scales to the page's width).
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 56, 28, 16

CSV_COLUMNS = (
    "month",
    "calls_in",
    "minutes_in",
    "forward_legs",
    "minutes_forwarded",
    "sms_sent",
    "sms_segments",
    "cost_actual",
    "cost_estimated",
    "currency",
    "pending",
)


@dataclass(frozen=True)
class Bar:
    """One month's bar: the estimated cost, and the part of it Twilio has priced (`actual`)."""

    usage: selectors.Usage
    label: str
    x: float
    width: float
    y: float
    height: float
    actual_y: float
    actual_height: float


def chart(usages: list[selectors.Usage], *, budget: Decimal | None) -> dict:
    """Bar geometry for the SVG: pure arithmetic on the months' figures."""
    top = max([u.estimated for u in usages] + [budget or Decimal(0)])
    scale = float(top) if top > 0 else 1.0
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    slot = plot_w / len(usages)
    bars = []
    for index, usage in enumerate(usages):
        height = plot_h * float(usage.estimated) / scale
        actual = plot_h * float(usage.actual) / scale
        bars.append(
            Bar(
                usage=usage,
                label=date_format(usage.month, "M"),
                x=LEFT + index * slot + slot * 0.15,
                width=slot * 0.7,
                y=TOP + plot_h - height,
                height=height,
                actual_y=TOP + plot_h - actual,
                actual_height=actual,
            )
        )
    budget_y = TOP + plot_h - plot_h * float(budget) / scale if budget else None
    return {
        "bars": bars,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "baseline": TOP + plot_h,
        "top": TOP,
        "label_y": HEIGHT - 8,
        "max_label": f"{top:.2f}",
        "budget_y": budget_y,
    }


def _team_or_404(request, slug: str) -> Team:
    if not is_lead_in_admin(request):
        raise Http404
    team = teams_selectors.team_led_by(user=request.user, slug=slug)
    if team is None:
        raise Http404
    return team


def _csv(team: Team, usages: list[selectors.Usage]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{team.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for u in usages:
        writer.writerow(
            [f"{u.month:%Y-%m}", u.calls_in, u.minutes_in, u.forward_legs, u.minutes_forwarded, u.sms_sent,
             u.sms_segments, f"{u.actual:.5f}", f"{u.estimated:.5f}", CURRENCY, u.pending]
        )  # fmt: skip
    return response


def team_usage(request, slug: str):
    """GET admin/usage/<slug>/ (and ?format=csv): the last 12 months of the team, newest last."""
    team = _team_or_404(request, slug)
    this_month = timezone.now().astimezone(team.tz).date().replace(day=1)
    usages = selectors.usage_months(team=team, months=selectors.months_back(this_month, MONTHS))
    if request.GET.get("format") == "csv":
        return _csv(team, usages)
    site = admin.site
    context = {
        **site.each_context(request),
        "title": _("Usage and costs: %(team)s") % {"team": team.name},
        "subtitle": None,
        "team": team,
        "usages": usages[::-1],
        "chart": chart(usages, budget=team.monthly_budget),
        "currency": CURRENCY,
        "csv_url": reverse("team_usage", args=[team.slug]) + "?format=csv",
        "team_url": reverse("admin:teams_team_change", args=[team.pk]),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/telephony/usage.html", context)
