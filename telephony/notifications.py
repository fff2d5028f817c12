"""Rota notifications that beat sends: shift reminders, hand-off notices and gap alerts.

Each scan reads the rota of every team in a fixed number of queries (the selectors take many team ids) and
sends through `sms_send` with a dedupe key. The key, unique in the outbox, is what makes a message go out
once: a re-run, a second worker running the same tick, or a catch-up after a beat outage finds the row and
sends nothing. Messages already in the outbox are filtered out in one query, so a scan with nothing due costs
the same few queries for ten teams or a thousand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from teams import rota
from teams.models import Member, Override, Role, Shift, Team
from teams.selectors import (
    cover_suggestions,
    last_ends_before,
    leads_of_teams,
    members_by_id,
    reminder_candidates,
    rotation_roles,
    schedules_for_teams,
    teams_by_id,
    teams_with_boundaries,
)
from telephony.models import OutboundMessage
from telephony.sms import sms_send

logger = logging.getLogger(__name__)

# Hand-offs older than this are not notified any more: after a long outage a notice would only confuse.
HANDOFF_CATCHUP = dt.timedelta(hours=1)
# How far ahead we look to tell the incoming person until when they are on call.
HANDOFF_LOOKAHEAD = dt.timedelta(days=35)
GAP_HORIZON = dt.timedelta(days=14)
# Segments are computed over a window a little wider than the instants we care about, so that a hand-off
# exactly at the edge still has a segment on each side.
_EDGE = dt.timedelta(minutes=1)


@dataclass
class ScanResult:
    """What a scan did: `sent` rows queued, `skipped` (opted out), `already` (sent by an earlier run)."""

    sent: int = 0
    skipped: int = 0
    already: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.sent} queued, {self.skipped} skipped (opted out), {self.already} already sent, {self.failed} failed"
        )


@dataclass
class _Sms:
    member: Member
    team: Team
    kind: str
    dedupe_key: str
    body: str = field(default="")


def _when(instant: dt.datetime, tz: ZoneInfo) -> str:
    """'Mon 30 Nov 09:00' in tz; the texts name the zone once, after the times."""
    return rota.format_local(instant, tz, year=False, zone=False)


def _tz_of(member: Member, team: Team) -> ZoneInfo:
    return ZoneInfo(member.timezone) if member.timezone else team.tz


def _send_new(messages: Iterable[_Sms], result: ScanResult) -> None:
    """Send the messages whose dedupe key is not in the outbox yet (checked in one query)."""
    messages = list(messages)
    if not messages:
        return
    known = set(
        OutboundMessage.objects.filter(dedupe_key__in=[m.dedupe_key for m in messages]).values_list(
            "dedupe_key", flat=True
        )
    )
    for message in messages:
        if message.dedupe_key in known:
            result.already += 1
            continue
        try:
            row = sms_send(
                to=message.member.phone,
                body=message.body,
                kind=message.kind,
                dedupe_key=message.dedupe_key,
                team=message.team,
                member=message.member,
            )
        except Exception:
            # One bad row must not stop the others; the next tick tries this one again.
            result.failed += 1
            logger.exception("Could not queue %s message %s", message.kind, message.dedupe_key)
            continue
        if row.status == OutboundMessage.Status.SKIPPED:
            result.skipped += 1
        else:
            result.sent += 1


# --- Reminders ---------------------------------------------------------------------------------------------


def reminders_send(*, now: dt.datetime | None = None) -> ScanResult:
    """Remind each member `team.reminder_lead_minutes` before each stretch on call of theirs starts.

    An override is such a stretch for the person covering. A shift counts only where no override covers it:
    a shift an override covers whole is not reminded (its owner is not on call), and one covered in part is
    reminded of its first uncovered part, with that part's real times. Every stretch starting within its team's
    lead time that has no reminder yet gets one, so a shift created or moved inside the window is reminded
    at the next tick; one that has started gets none. The key holds the team, role, member, start and lead:
    a re-run sends nothing, a moved or reassigned shift is reminded again.
    """
    now = now or timezone.now()
    result = ScanResult()
    overrides, shifts, covers = reminder_candidates(now=now)
    if not overrides and not shifts:
        return result
    # (source, row, start, end): the stretch each reminder is about.
    stretches: list[tuple[str, Shift | Override, dt.datetime, dt.datetime]] = []
    stretches.extend((rota.OVERRIDE, row, row.start, row.end) for row in overrides)
    for row in shifts:
        lead = dt.timedelta(minutes=row.team.reminder_lead_minutes)
        parts = rota.subtract(row.start, row.end, covers[(row.team_id, row.role)])
        # Only the first part is reminded: a person covered for a while in the middle of their shift is on
        # call already when the rest begins, and the hand-off notice then tells them.
        if parts and now < parts[0][0] <= now + lead:
            stretches.append((rota.SHIFT, row, *parts[0]))
    stretches.sort(key=lambda item: (item[2], item[1].team_id, item[1].role))
    messages = []
    for source, row, start, end in stretches:
        team, member = row.team, row.member
        tz = _tz_of(member, team)
        with translation.override(member.language_for(team)):
            names = {
                "role": role_name(row.role),
                "team": team.name,
                "start": _when(start, tz),
                "end": _when(end, tz),
                "zone": tz.key,
            }
            if source == rota.OVERRIDE:
                body = gettext("Reminder: you cover %(role)s on call for %(team)s from %(start)s to %(end)s (%(zone)s)")
            else:
                body = gettext("Reminder: you are %(role)s on call for %(team)s from %(start)s to %(end)s (%(zone)s)")
            body %= names
        messages.append(
            _Sms(
                member=member,
                team=team,
                kind=OutboundMessage.Kind.REMINDER,
                # Keyed on what the person is told, not on the row: a shift deleted and generated again
                # for the same person and time is not reminded twice.
                dedupe_key=(
                    f"reminder:{row.team_id}:{row.role}:{row.member_id}:{start.isoformat()}:"
                    f"{team.reminder_lead_minutes}"
                ),
                body=body,
            )
        )
    _send_new(messages, result)
    return result


def _handoff_text(notice, handoff, current, *, team, member, members, end) -> str:
    names = {"role": role_name(notice.role), "team": team.name}
    if notice.incoming:
        tz = _tz_of(member, team)
        if handoff.incoming_until >= end:
            until = gettext("further notice")
        else:
            until = f"{_when(handoff.incoming_until, tz)} ({tz.key})"
        return gettext("You are now %(role)s on call for %(team)s until %(until)s.") % {**names, "until": until}
    if current is not None and current.member_id is not None:
        return gettext("Your shift ended; %(name)s is now %(role)s on call for %(team)s.") % {
            **names,
            "name": members[current.member_id].name,
        }
    return gettext("Your shift ended; nobody is %(role)s on call for %(team)s now.") % names


def role_name(role: str) -> str:
    """ "primary" / "secondary" as people read it, in the active language."""
    return pgettext("on-call role", "primary") if role == Role.PRIMARY else pgettext("on-call role", "secondary")


# --- Hand-off notices --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Notice:
    team_id: int
    role: str
    at: dt.datetime
    member_id: int
    incoming: bool

    @property
    def dedupe_key(self) -> str:
        direction = "in" if self.incoming else "out"
        return f"handoff:{self.team_id}:{self.role}:{self.at.isoformat()}:{self.member_id}:{direction}"


def _notices(schedules: dict[tuple[int, str], list[rota.Segment]], since: dt.datetime, now: dt.datetime):
    """The notices due for hand-offs in [since, now], with the hand-off and the segment on call now."""
    found = []
    for (team_id, role), segments in schedules.items():
        current = rota.segment_at(segments, now)
        current_member_id = current.member_id if current else None
        for handoff in rota.handoffs(segments):
            if not since <= handoff.at <= now:
                continue
            # The incoming person is told only while their stretch lasts: after an outage, a stretch that
            # already ended is followed by a later hand-off, which carries the news.
            if handoff.incoming_member_id is not None and handoff.incoming_until > now:
                notice = _Notice(team_id, role, handoff.at, handoff.incoming_member_id, True)
                found.append((notice, handoff, current))
            # The outgoing person learns their shift ended, unless they are (back) on call by now.
            if handoff.outgoing_member_id is not None and handoff.outgoing_member_id != current_member_id:
                notice = _Notice(team_id, role, handoff.at, handoff.outgoing_member_id, False)
                found.append((notice, handoff, current))
    return found


def handoffs_notify(*, now: dt.datetime | None = None) -> ScanResult:
    """Tell the incoming and the outgoing person at each hand-off of the last hour, once.

    Only teams with a shift or override starting or ending in the last hour can have a hand-off (every
    change of person is such a boundary): two small queries find them. Their schedule over the last hour
    gives the notices; only those not in the outbox yet need the longer look ahead for "until …".
    """
    now = now or timezone.now()
    since = now - HANDOFF_CATCHUP
    result = ScanResult()
    team_ids = teams_with_boundaries(start=since, end=now)
    if not team_ids:
        return result
    recent, _ = schedules_for_teams(team_ids=sorted(team_ids), start=since - _EDGE, end=now + _EDGE)
    due = [notice for notice, _, _ in _notices(recent, since, now)]
    if not due:
        return result
    known = set(
        OutboundMessage.objects.filter(dedupe_key__in=[n.dedupe_key for n in due]).values_list("dedupe_key", flat=True)
    )
    result.already = len(known)
    pending_team_ids = sorted({n.team_id for n in due if n.dedupe_key not in known})
    if not pending_team_ids:
        return result

    window_end = now + HANDOFF_LOOKAHEAD
    schedules, members = schedules_for_teams(team_ids=pending_team_ids, start=since - _EDGE, end=window_end)
    teams = teams_by_id(team_ids=pending_team_ids)
    messages = []
    for notice, handoff, current in _notices(schedules, since, now):
        if notice.dedupe_key in known:
            continue
        team, member = teams[notice.team_id], members[notice.member_id]
        with translation.override(member.language_for(team)):
            body = _handoff_text(notice, handoff, current, team=team, member=member, members=members, end=window_end)
        messages.append(
            _Sms(member=member, team=team, kind=OutboundMessage.Kind.HANDOFF, dedupe_key=notice.dedupe_key, body=body)
        )
    _send_new(messages, result)
    return result


# --- Gap alerts --------------------------------------------------------------------------------------------


def gaps_alert(*, now: dt.datetime | None = None) -> ScanResult:
    """One SMS to each lead of a team per gap in the next 14 days, once per gap (keyed on its start).

    A role is checked when the team staffs it: it has a rotation for it, or someone covers it somewhere
    in the window. A team without a secondary rotation is not alerted about having no secondary. Teams
    without leads have nobody to tell and are not scanned.
    """
    now = now or timezone.now()
    result = ScanResult()
    window_end = now + GAP_HORIZON
    teams, leads = leads_of_teams()
    if not leads:
        return result
    team_ids = sorted(leads)
    with_rotation = rotation_roles(team_ids=team_ids)
    schedules, members = schedules_for_teams(team_ids=team_ids, start=now, end=window_end)
    found: list[tuple[int, str, rota.Segment]] = []
    for (team_id, role), segments in schedules.items():
        staffed = (team_id, role) in with_rotation or any(s.member_id is not None for s in segments)
        if staffed:
            found.extend((team_id, role, gap) for gap in rota.gaps(segments))
    ongoing = {(team_id, role) for team_id, role, gap in found if gap.start <= now}
    # An ongoing gap is keyed on its real start (the last end before now), stable from one scan to the next.
    began = last_ends_before(pairs=ongoing, at=now) if ongoing else {}

    suggestions = _covers_for_new_time_off_gaps(found, leads, now)
    messages = []
    for team_id, role, gap in found:
        team = teams[team_id]
        if gap.reason == rota.TIME_OFF:
            # One alert per time off and role: the absence is the news, whatever pieces of gap it makes.
            start_key = f"timeoff{gap.ref_id}"
        elif gap.start <= now:
            real_start = began.get((team_id, role))
            start_key = real_start.isoformat() if real_start else "never-staffed"
        else:
            start_key = gap.start.isoformat()
        for lead in leads[team_id]:
            # Each lead reads the times in their own time zone, like reminders and hand-off notices.
            tz = _tz_of(lead, team)
            with translation.override(lead.language_for(team)):
                start_text = gettext("now") if gap.start <= now else _when(gap.start, tz)
                if gap.end >= window_end:
                    span = gettext("from %(start)s on: nobody is planned in the next 14 days") % {"start": start_text}
                else:
                    span = gettext("from %(start)s to %(end)s") % {"start": start_text, "end": _when(gap.end, tz)}
                body = gettext(
                    "%(team)s has no %(role)s on call %(span)s (%(zone)s). Please add a shift or an override."
                ) % {"team": team.name, "role": role_name(role), "span": span, "zone": tz.key}
                if gap.reason == rota.TIME_OFF:
                    body = _time_off_gap_text(team, role, span, tz, members.get(gap.absent_member_id), suggestions, gap)
            messages.append(
                _Sms(
                    member=lead,
                    team=team,
                    kind=OutboundMessage.Kind.GAP_ALERT,
                    dedupe_key=f"gap:{team_id}:{role}:{start_key}:{lead.pk}",
                    body=body,
                )
            )
    _send_new(messages, result)
    return result


def _covers_for_new_time_off_gaps(found, leads, now: dt.datetime) -> dict:
    """{(team_id, start, end): suggested Member or None} for the time-off gaps not alerted yet: a few
    queries per team with such a gap, none on a scan without one."""
    pending = [(team_id, role, gap) for team_id, role, gap in found if gap.reason == rota.TIME_OFF]
    if not pending:
        return {}
    keys = {
        f"gap:{team_id}:{role}:timeoff{gap.ref_id}:{lead.pk}"
        for team_id, role, gap in pending
        for lead in leads[team_id]
    }
    known = set(OutboundMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    by_team: dict[int, list[rota.Segment]] = {}
    for team_id, role, gap in pending:
        if any(f"gap:{team_id}:{role}:timeoff{gap.ref_id}:{lead.pk}" not in known for lead in leads[team_id]):
            by_team.setdefault(team_id, []).append(gap)
    suggestions = {}
    for team_id, gaps in by_team.items():
        for (start, end), member in cover_suggestions(team_id=team_id, gaps=gaps, now=now).items():
            suggestions[(team_id, start, end)] = member
    return suggestions


def _time_off_gap_text(team: Team, role: str, span: str, tz: ZoneInfo, absent, suggestions: dict, gap) -> str:
    """The gap alert for a gap that time off made: who is away, and who could cover."""
    text = gettext("%(team)s has no %(role)s on call %(span)s (%(zone)s): %(member)s is on time off.") % {
        "team": team.name,
        "role": role_name(role),
        "span": span,
        "zone": tz.key,
        "member": absent.name if absent else gettext("someone"),
    }
    cover = suggestions.get((team.pk, gap.start, gap.end))
    if cover is not None:
        text += " " + gettext(
            "Suggested cover: %(member)s (fewest hours on call in the last 30 days, free then). Add an override."
        ) % {"member": cover.name}
    else:
        text += " " + gettext("Nobody else is free then: please add a shift or an override.")
    return text


# --- Rota change notices -----------------------------------------------------------------------------------

ROTA_CHANGE_ITEMS = 3  # stretches named per direction; more are counted ("and 2 more")


def _stretch_list(stretches: list[rota.Change], tz: ZoneInfo) -> str:
    named = [f"{_when(c.start, tz)}-{_when(c.end, tz)}" for c in stretches[:ROTA_CHANGE_ITEMS]]
    more = len(stretches) - len(named)
    return ", ".join(named) + (" " + gettext("and %(count)d more") % {"count": more} if more > 0 else "")


def rota_changes_notify(*, team_id: int, role: str, changes: list[rota.Change]) -> ScanResult:
    """One SMS to each person whose time on call a rotation change moved: what they gained and lost.

    The dedupe key carries the changes themselves, so the same change is told once and a later one anew.
    """
    result = ScanResult()
    team = teams_by_id(team_ids=[team_id]).get(team_id)
    member_ids = {c.before_member_id for c in changes} | {c.after_member_id for c in changes}
    members = members_by_id(member_ids=[m for m in member_ids if m is not None])
    if team is None or not members:
        return result
    messages = []
    for member_id, member in members.items():
        gained = [c for c in changes if c.after_member_id == member_id]
        lost = [c for c in changes if c.before_member_id == member_id]
        tz = _tz_of(member, team)
        with translation.override(member.language_for(team)):
            parts = [gettext("[%(team)s] The %(role)s rota changed.") % {"team": team.name, "role": role_name(role)}]
            if gained:
                parts.append(gettext("You are now on call %(stretches)s.") % {"stretches": _stretch_list(gained, tz)})
            if lost:
                parts.append(gettext("No longer on call %(stretches)s.") % {"stretches": _stretch_list(lost, tz)})
        parts.append(f"({tz.key})")
        fingerprint = hashlib.sha256(
            repr([(c.start, c.end, c.before_member_id, c.after_member_id) for c in gained + lost]).encode()
        ).hexdigest()[:24]
        messages.append(
            _Sms(
                member=member,
                team=team,
                kind=OutboundMessage.Kind.ROTA_CHANGE,
                dedupe_key=f"rotachange:{team.pk}:{role}:{member_id}:{fingerprint}",
                body=" ".join(parts),
            )
        )
    _send_new(messages, result)
    return result


__all__ = ["ScanResult", "gaps_alert", "handoffs_notify", "reminders_send", "rota_changes_notify"]
