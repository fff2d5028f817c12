"""The fairness report of a team over a window: who carried the load, nights, weekends and holidays included,
and what the phones asked of each person (calls answered, voicemail notices, alert pages, acknowledgements).

Reads only, in a fixed number of queries whatever the window or the history: the merged schedule (two to four
queries), the members (one), and one grouped count each for calls, messages and alert acknowledgements,
aggregated by the database. Hours come from the final schedule, so time off, overrides and swaps count as
they were lived; for each role the members' hours and the gap hours add up to the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Count

from teams import rota, selectors
from teams.models import Member, Team
from telephony.alerts import Action
from telephony.models import AlertEvent, Call, OutboundMessage

ROLES = tuple(str(role) for role in selectors.ROLES)
DIGITS = 3  # hours are reported to the thousandth (3.6 s)


@dataclass
class MemberLoad:
    member: Member
    oncall_hours: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ROLES, 0.0))
    night_hours: float = 0.0
    weekend_hours: float = 0.0
    holiday_hours: float = 0.0
    calls_answered: int = 0
    voicemails: int = 0
    alerts_acknowledged: int = 0
    pages_received: int = 0


@dataclass
class TeamReport:
    team: Team
    start: dt.datetime
    end: dt.datetime
    members: list[MemberLoad]
    gap_hours: dict[str, float]
    holidays_known: bool

    @property
    def window_hours(self) -> float:
        return round((self.end - self.start) / dt.timedelta(hours=1), DIGITS)


def _holiday_dates(team: Team) -> tuple[list[dt.date], bool]:
    """The team's holidays as dates, and whether the team has the field at all (the call-flow work adds
    Team.holidays: until then there are none). Entries that do not parse are skipped, never fatal."""
    if not hasattr(team, "holidays"):
        return [], False
    dates = []
    for entry in team.holidays or []:
        text = entry.get("date") if isinstance(entry, dict) else entry
        try:
            dates.append(dt.date.fromisoformat(str(text)))
        except ValueError:
            continue
    return dates, True


def _hours(delta: dt.timedelta) -> float:
    return delta / dt.timedelta(hours=1)


def team_report(*, team: Team, start: dt.datetime, end: dt.datetime) -> TeamReport:
    schedule, people = selectors.team_schedule_with_members(team=team, start=start, end=end)
    members = {m.pk: m for m in selectors.members_of_teams([team.pk]).order_by("name", "pk")}
    for member_id, member in people.items():
        members.setdefault(member_id, member)  # on call in the window, since left the team
    loads = {member_id: MemberLoad(member) for member_id, member in members.items()}
    gap_hours = dict.fromkeys(ROLES, 0.0)
    stretches: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for role, segments in schedule.items():
        for segment in segments:
            hours = _hours(segment.end - segment.start)
            if segment.member_id is None:
                gap_hours[role] += hours
                continue
            loads[segment.member_id].oncall_hours[role] += hours
            stretches[segment.member_id].append((segment.start, segment.end))

    holidays, holidays_known = _holiday_dates(team)
    holiday_windows = rota.day_windows(holidays, team.tz)
    for member_id, intervals in stretches.items():
        # One person on call for both roles at once is one hour of their night, not two.
        merged = rota.merge_intervals(intervals)
        load = loads[member_id]
        tz = ZoneInfo(load.member.timezone) if load.member.timezone else team.tz
        load.night_hours = rota.overlap_hours(merged, rota.night_windows(start, end, tz))
        load.weekend_hours = rota.overlap_hours(merged, rota.weekend_windows(start, end, tz))
        load.holiday_hours = rota.overlap_hours(merged, holiday_windows)

    in_window = {"created_at__gte": start, "created_at__lt": end}
    for member_id, count in (
        Call.objects.filter(team=team, answered_by__isnull=False, started_at__gte=start, started_at__lt=end)
        .values_list("answered_by")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        if member_id in loads:
            loads[member_id].calls_answered = count
    for member_id, kind, count in (
        OutboundMessage.objects.filter(
            team=team,
            member__isnull=False,
            kind__in=[OutboundMessage.Kind.VOICEMAIL, OutboundMessage.Kind.ALERT],
            **in_window,
        )
        .values_list("member", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        if member_id in loads:
            if kind == OutboundMessage.Kind.VOICEMAIL:
                loads[member_id].voicemails = count
            else:
                loads[member_id].pages_received = count
    for member_id, count in (
        AlertEvent.objects.filter(alert__team=team, action=Action.ACKNOWLEDGED, member__isnull=False, **in_window)
        .values_list("member")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        if member_id in loads:
            loads[member_id].alerts_acknowledged = count

    ordered = sorted(loads.values(), key=lambda load: (load.member.name, load.member.pk))
    return TeamReport(team, start, end, ordered, gap_hours, holidays_known)


def report_payload(report: TeamReport) -> dict:
    def hours(value: float) -> float:
        return round(value, DIGITS)

    return {
        "team": {"slug": report.team.slug, "name": report.team.name, "timezone": report.team.timezone},
        "start": report.start,
        "end": report.end,
        "window_hours": report.window_hours,
        "holidays_known": report.holidays_known,
        "gaps": {"oncall_hours": {role: hours(value) for role, value in report.gap_hours.items()}},
        "members": [
            {
                "member": {"id": load.member.pk, "name": load.member.name},
                "oncall_hours": {role: hours(value) for role, value in load.oncall_hours.items()},
                "night_hours": hours(load.night_hours),
                "weekend_hours": hours(load.weekend_hours),
                "holiday_hours": hours(load.holiday_hours),
                "calls_answered": load.calls_answered,
                "voicemails": load.voicemails,
                "alerts_acknowledged": load.alerts_acknowledged,
                "pages_received": load.pages_received,
            }
            for load in report.members
        ],
    }


CSV_COLUMNS = (
    "member_id",
    "member",
    *(f"oncall_hours_{role}" for role in ROLES),
    "night_hours",
    "weekend_hours",
    "holiday_hours",
    "calls_answered",
    "voicemails",
    "alerts_acknowledged",
    "pages_received",
)


def report_csv(payload: dict) -> str:
    """One row per member, then a row for the gaps (nobody on call), so each role's column adds up to the
    window's hours."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in payload["members"]:
        writer.writerow(
            [
                row["member"]["id"],
                row["member"]["name"],
                *(row["oncall_hours"][role] for role in ROLES),
                row["night_hours"],
                row["weekend_hours"],
                row["holiday_hours"],
                row["calls_answered"],
                row["voicemails"],
                row["alerts_acknowledged"],
                row["pages_received"],
            ]
        )
    gaps = payload["gaps"]["oncall_hours"]
    writer.writerow(["", "(gap: nobody on call)", *(gaps[role] for role in ROLES), "", "", "", "", "", "", ""])
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "TeamReport", "report_csv", "report_payload", "team_report"]
