"""The schedule as a timeline on the admin team page, and the rota half of a lead's home.

Everything here reads the merged schedule through `teams.selectors` (a fixed number of queries whatever the
history), places it with the pure geometry of `teams.timeline` and shows every time through
`rota.format_local` in the team's zone. Nothing here knows about calls or alerts: the home page that adds
them is composed on the telephony side (`telephony.admin.home`).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from teams import rota, selectors, timeline
from teams.models import Member, Role, Team

HOME_DAYS = 14
# The schedule is read this far beyond the window, so a shift that crosses its edge shows its real start and
# end on hover and in the table (the bar itself is cut at the edge).
EDGE_READ = dt.timedelta(days=14)
HANDOFFS_SHOWN = 3
MONTH_PARAM = re.compile(r"^(\d{4})-(\d{2})$")


def window_from_params(params, *, now: dt.datetime, tz) -> timeline.Window:
    """`?month=2026-12` (a calendar month), `?week=2026-12-07` (four weeks from that date's Monday), or four
    weeks from this week's Monday. Anything unreadable falls back to this week."""
    try:
        match = MONTH_PARAM.match(params.get("month") or "")
        if match and 1 <= int(match[2]) <= 12:
            return timeline.month_window(int(match[1]), int(match[2]), tz)
        if params.get("week"):
            return timeline.week_window(dt.date.fromisoformat(params["week"]), tz)
    except (ValueError, OverflowError):
        pass
    return timeline.week_window(now.astimezone(tz).date(), tz)


def _span(start: dt.datetime, end: dt.datetime, tz) -> str:
    return _("%(start)s to %(end)s") % {"start": rota.format_local(start, tz), "end": rota.format_local(end, tz)}


def _name(members: dict[int, Member], member_id: int | None) -> str:
    if member_id is None:
        return _("nobody")
    member = members.get(member_id)
    return member.name if member else "?"


def _style(bar: timeline.Bar, background: str | None = None) -> str:
    # Pre-formatted: a localized template would write "12,5%" in pt-br.
    style = f"left: {bar.left:.4f}%; width: {bar.width:.4f}%;"
    return f"{style} background-color: {background};" if background else style


def _segment_text(segment: rota.Segment, members: dict[int, Member]) -> tuple[str, str]:
    """(kind, label) of a segment: the person (with "override"), or a gap (saying who is away, for time off)."""
    if segment.member_id is None and segment.reason == rota.TIME_OFF:
        return "gap", _("Gap: %(name)s is on time off") % {"name": _name(members, segment.absent_member_id)}
    if segment.member_id is None:
        return "gap", _("Gap: nobody on call")
    name = _name(members, segment.member_id)
    if segment.source == rota.OVERRIDE:
        return "override", _("%(name)s (override)") % {"name": name}
    return "shift", name


def _double_text(segment: rota.Segment, members: dict[int, Member]) -> str:
    return _("%(name)s is primary and secondary at once") % {"name": _name(members, segment.member_id)}


def _named_days(days: list[dt.date]) -> set[dt.date]:
    """The days whose name fits above the timeline: the first, Mondays and 1sts, at least three days apart
    (every day keeps its tick and its title)."""
    named: list[dt.date] = []
    for day in days:
        if (not named or day.weekday() == 0 or day.day == 1) and (not named or (day - named[-1]).days >= 3):
            named.append(day)
    return set(named)


def override_add_url(*, team: Team, role: str, start: dt.datetime, end: dt.datetime) -> str:
    """The override form, filled in with the team, the role and start/end as wall times in the team's zone."""
    tz = team.tz
    params = {
        "team": team.pk,
        "role": role,
        "start": rota.to_local_wall(start, tz).strftime("%Y-%m-%dT%H:%M"),
        "end": rota.to_local_wall(end, tz).strftime("%Y-%m-%dT%H:%M"),
    }
    return f"{reverse('admin:teams_override_add')}?{urlencode(params)}"


def team_timeline(*, team: Team, params, now: dt.datetime) -> dict:
    """The template context of the team page's timeline: the window chosen by `params`, per role its bars
    (shift, override, gap), double bookings, the current instant, navigation and the rows of its table."""
    tz = team.tz
    window = window_from_params(params, now=now, tz=tz)
    schedules, members = selectors.team_schedule_with_members(
        team=team, start=window.start - EDGE_READ, end=window.end + EDGE_READ
    )
    placed = {role: timeline.bars(schedules[role], window.start, window.end) for role in selectors.ROLES}
    palette = timeline.colours(
        bar.segment.member_id for bars in placed.values() for bar in bars if bar.segment.member_id
    )
    doubles = rota.double_bookings(schedules[Role.PRIMARY], schedules[Role.SECONDARY])
    double_bars = timeline.bars(doubles, window.start, window.end)
    rows = []
    for role in selectors.ROLES:
        bars = []
        for bar in placed[role]:
            segment = bar.segment
            kind, label = _segment_text(segment, members)
            span = _span(segment.start, segment.end, tz)
            bars.append(
                {
                    "kind": kind,
                    "label": label,
                    "member_id": segment.member_id or "",
                    "style": _style(bar, palette.get(segment.member_id)),
                    "title": f"{label}: {span}",
                    "start": rota.format_local(segment.start, tz),
                    "end": rota.format_local(segment.end, tz),
                }
            )
        rows.append({"role": role.value, "label": role.label, "bars": bars})
    marks = timeline.day_marks(window, tz)
    named = _named_days([day for day, _ in marks])
    now_at = timeline.position(now, window.start, window.end)
    previous_week = window.first_day - dt.timedelta(days=7)
    next_week = window.first_day + dt.timedelta(days=7)
    return {
        "zone": team.timezone,
        "start": rota.format_local(window.start, tz),
        "end": rota.format_local(window.end, tz),
        "is_month": window.month is not None,
        "month_value": (window.month or window.first_day).strftime("%Y-%m"),
        "previous_url": "?" + urlencode({"week": previous_week.isoformat()}),
        "next_url": "?" + urlencode({"week": next_week.isoformat()}),
        "days": [
            {
                "label": day.strftime("%a %d %b") if day in named else "",
                "title": day.strftime("%a %d %b %Y"),
                "style": f"left: {left:.4f}%; width: {right - left:.4f}%;",
                "is_weekend": day.weekday() >= 5,
                "is_month_start": day.day == 1,
            }
            for (day, left), right in zip(marks, [m[1] for m in marks[1:]] + [100.0], strict=True)
        ],
        "rows": rows,
        "doubles": [
            {
                "style": _style(bar),
                "title": f"{_double_text(bar.segment, members)}: {_span(bar.segment.start, bar.segment.end, tz)}",
                "text": _double_text(bar.segment, members),
                "start": rota.format_local(bar.segment.start, tz),
                "end": rota.format_local(bar.segment.end, tz),
                "add_url": override_add_url(
                    team=team, role=Role.SECONDARY, start=bar.segment.start, end=bar.segment.end
                ),
            }
            for bar in double_bars
        ],
        "now": None
        if now_at is None
        else {"style": f"left: {now_at:.4f}%;", "title": _("Now: %(at)s") % {"at": rota.format_local(now, tz)}},
    }


def team_oncall_now(*, team: Team, now: dt.datetime) -> list[dict]:
    """Per role: who is on call now and until when (the covering row's end), in the team's zone."""
    current = selectors.oncall_at(team=team, at=now)
    return [
        {
            "role": role.value,
            "label": role.label,
            "member": current[role].member,
            "until": rota.format_local(current[role].end, team.tz) if current[role].end else None,
        }
        for role in selectors.ROLES
    ]


def rota_overview(*, teams: list[Team], now: dt.datetime, days: int = HOME_DAYS) -> dict[int, dict]:
    """For a lead's home, per team: per role who is on call now and until when, the next hand-offs, and the
    gaps and double bookings of the next `days` days, each with a link to a prefilled override form.
    Six queries at most, whatever the number of teams and the length of their history."""
    team_ids = [team.pk for team in teams]
    end = now + dt.timedelta(days=days)
    current = selectors.oncall_with_next(team_ids=team_ids, at=now)
    schedules, members = selectors.schedules_for_teams(team_ids=team_ids, start=now, end=end)
    overview = {}
    for team in teams:
        tz = team.tz
        roles = []
        for role in selectors.ROLES:
            segments = schedules[(team.pk, role)]
            cover = current[team.pk][role].current
            roles.append(
                {
                    "role": role.value,
                    "label": role.label,
                    "member": cover.member,
                    "until": rota.format_local(cover.end, tz) if cover.end else None,
                    "handoffs": [
                        {
                            "at": rota.format_local(handoff.at, tz),
                            "to": _name(members, handoff.incoming_member_id),
                            # A stretch reaching the end of the read window has no known end yet.
                            "until": rota.format_local(handoff.incoming_until, tz)
                            if handoff.incoming_until < end
                            else None,
                            "is_gap": handoff.incoming_member_id is None,
                        }
                        for handoff in rota.handoffs(segments)[:HANDOFFS_SHOWN]
                    ],
                    "gaps": [
                        {
                            "start": rota.format_local(gap.start, tz),
                            "end": rota.format_local(gap.end, tz),
                            "add_url": override_add_url(team=team, role=role, start=gap.start, end=gap.end),
                        }
                        for gap in rota.gaps(segments)
                    ],
                }
            )
        doubles = rota.double_bookings(schedules[(team.pk, Role.PRIMARY)], schedules[(team.pk, Role.SECONDARY)])
        overview[team.pk] = {
            "roles": roles,
            "days": days,
            "doubles": [
                {
                    "text": _double_text(double, members),
                    "start": rota.format_local(double.start, tz),
                    "end": rota.format_local(double.end, tz),
                    "add_url": override_add_url(team=team, role=Role.SECONDARY, start=double.start, end=double.end),
                }
                for double in doubles
            ],
        }
    return overview
