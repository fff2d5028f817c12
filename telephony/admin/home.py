"""A lead's home: the admin index, and where the admin's "View site" goes.

Per team the user leads (a superuser: every team): who is on call now and until when, the next hand-offs,
the gaps and double bookings of the next two weeks (each with a prefilled override form), the alerts not
yet resolved with Acknowledge and Resolve buttons, and today's calls and voicemails (today in the team's
zone).

Why it lives here: the page joins the rota with the phone logs, and dependencies point one way (telephony
imports teams, never the reverse). So the rota half is built by teams (`teams.admin.timeline.rota_overview`,
which knows nothing of calls or alerts) and this module, on the side that may know both, adds the logs and
renders the page; `roulette/urls.py` only wires it in front of the admin's own index. No registry or hook:
there is one page and one app that may see everything on it.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from teams import rota, selectors, timeline
from teams.admin.timeline import rota_overview
from telephony import selectors as logs
from telephony.admin.calls import call_ending
from telephony.models import Alert

LOGS_SHOWN = 20  # per team and kind; the rest is one click away in the list


def _today(team, now):
    window = timeline.window_of_days(now.astimezone(team.tz).date(), 1, team.tz)
    return window.start, window.end


def _alert_row(alert: Alert) -> dict:
    return {
        "alert": alert,
        "created": rota.format_local(alert.created_at, alert.team.tz),
        "url": reverse("admin:telephony_alert_change", args=[alert.pk]),
        "is_open": alert.state == Alert.State.OPEN,
        # A missed caller's alert: their call, and the message they left.
        "call_url": reverse("admin:telephony_call_change", args=[alert.call_id]) if alert.call_id else "",
        "recording_url": f"{alert.voicemail.recording_url}.mp3" if alert.voicemail_id else "",
    }


def lead_home(request):
    """The admin index for leads and superusers (the stock app list stays below the teams)."""
    now = timezone.now()
    site = admin.site
    teams = list(selectors.teams_led_by(request.user).order_by("name")) if request.user.is_active else []
    overview = rota_overview(teams=teams, now=now)
    today = {team.pk: _today(team, now) for team in teams}
    alerts, calls, voicemails = defaultdict(list), defaultdict(list), defaultdict(list)
    for alert in logs.alerts_unresolved(team_ids=list(today)):
        alerts[alert.team_id].append(_alert_row(alert))
    tz_of = {team.pk: team.tz for team in teams}
    for call in logs.calls_within(ranges=today):
        calls[call.team_id].append(
            {
                "call": call,
                "ended": call_ending(call),
                "at": rota.format_local(call.started_at, tz_of[call.team_id]),
                "url": reverse("admin:telephony_call_change", args=[call.pk]),
            }
        )
    for voicemail in logs.voicemails_within(ranges=today):
        voicemails[voicemail.team_id].append(
            {
                "voicemail": voicemail,
                "at": rota.format_local(voicemail.created_at, tz_of[voicemail.team_id]),
                "url": reverse("admin:telephony_voicemail_change", args=[voicemail.pk]),
            }
        )
    sections = [
        {
            "team": team,
            "url": reverse("admin:teams_team_change", args=[team.pk]),
            "rota": overview[team.pk],
            "has_problems": bool(overview[team.pk]["doubles"])
            or any(role["gaps"] for role in overview[team.pk]["roles"]),
            "alerts": alerts[team.pk],
            "calls": calls[team.pk][:LOGS_SHOWN],
            "calls_total": len(calls[team.pk]),
            "voicemails": voicemails[team.pk][:LOGS_SHOWN],
            "voicemails_total": len(voicemails[team.pk]),
            "calls_url": reverse("admin:telephony_call_changelist") + f"?team__id__exact={team.pk}",
            "voicemails_url": reverse("admin:telephony_voicemail_changelist") + f"?team__id__exact={team.pk}",
            "today": rota.format_local(today[team.pk][0], team.tz),
        }
        for team in teams
    ]
    context = {
        **site.each_context(request),
        "title": _("Your teams") if teams else site.index_title,
        "subtitle": None,
        "app_list": site.get_app_list(request),
        "sections": sections,
        "next_url": request.get_full_path(),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/lead_home.html", context)
