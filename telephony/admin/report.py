"""The fairness report in the admin: a lead picks a window (local dates of the team) and reads who carried
the load as a chart drawn here (inline SVG: no script, nothing from another server) and a table."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from teams import rota, selectors
from teams.models import Role
from telephony import report

DEFAULT_DAYS = 30
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 18, 8, 160, 520
COLOURS = {
    Role.PRIMARY: "#417690",
    Role.SECONDARY: "#79aec8",
    "night": "#2c3e50",
    "weekend": "#e67e22",
    "holiday": "#c0392b",
}


def _dates(request, tz) -> tuple[dt.date, dt.date]:
    """?start=&end= as local dates (end inclusive); the last 30 days by default; bad input falls back."""
    today = timezone.now().astimezone(tz).date()
    try:
        first = dt.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        first = today - dt.timedelta(days=DEFAULT_DAYS - 1)
    try:
        last = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        last = today
    if last < first:
        first, last = last, first
    return first, min(last, first + dt.timedelta(days=365))


def _bars(payload: dict) -> dict:
    """Rectangles of the chart: per member a stacked bar of primary and secondary hours, and a thin bar
    under it for nights, weekends and holidays; the scale is the longest bar."""
    rows = payload["members"]
    longest = max(
        [sum(row["oncall_hours"].values()) for row in rows]
        + [row["night_hours"] + row["weekend_hours"] + row["holiday_hours"] for row in rows]
        + [1.0]
    )
    scale = CHART_WIDTH / longest
    bars = []
    for index, row in enumerate(rows):
        y = index * (2 * BAR_HEIGHT + BAR_GAP)
        x, pieces = LABEL_WIDTH, []
        for role in report.ROLES:
            width = row["oncall_hours"][role] * scale
            pieces.append({"x": x, "y": y, "width": width, "height": BAR_HEIGHT, "colour": COLOURS[role],
                           "title": f"{role}: {row['oncall_hours'][role]} h"})  # fmt: skip
            x += width
        x = LABEL_WIDTH
        for kind in ("night", "weekend", "holiday"):
            hours = row[f"{kind}_hours"]
            width = hours * scale
            pieces.append({"x": x, "y": y + BAR_HEIGHT + 2, "width": width, "height": BAR_HEIGHT / 2,
                           "colour": COLOURS[kind], "title": f"{kind}: {hours} h"})  # fmt: skip
            x += width
        total = round(sum(row["oncall_hours"].values()), 1)
        bars.append({"name": row["member"]["name"], "y": y, "label_y": y + BAR_HEIGHT - 4, "pieces": pieces,
                     "total": total, "total_x": LABEL_WIDTH + total * scale + 6})  # fmt: skip
    height = max(1, len(rows)) * (2 * BAR_HEIGHT + BAR_GAP)
    return {"bars": bars, "width": LABEL_WIDTH + CHART_WIDTH + 60, "height": height, "colours": COLOURS}


def team_report_page(request, slug: str):
    team = selectors.teams_led_by(request.user).filter(slug=slug).first() if request.user.is_active else None
    if team is None:
        raise Http404(_("No such team."))
    first, last = _dates(request, team.tz)
    start, end = rota.local_days(first, (last - first).days + 1, team.tz)
    payload = report.report_payload(report.team_report(team=team, start=start, end=end))
    context = {
        **admin.site.each_context(request),
        "title": _("Fairness report: %(team)s") % {"team": team.name},
        "team": team,
        "first": first,
        "last": last,
        "window": f"{rota.format_local(start, team.tz)} – {rota.format_local(end, team.tz)}",
        "payload": payload,
        "chart": _bars(payload),
        "csv_url": f"/api/v1/teams/{team.slug}/report/?format=csv&start={start.isoformat()}&end={end.isoformat()}",
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/telephony/report.html", context)
