"""iCal feeds of the merged schedule: one per team, one per member (their own stretches across teams).

Subscribed to by calendar apps with a secret token in the URL; a wrong or missing token is a 404. Events are
TRANSP:TRANSPARENT (being on call does not make you busy) and in UTC; time off is an event of its own.
UIDs come from the shift or override behind a segment, so an edited shift updates its event instead of
adding another. A rotation's shift is known by its rotation and start: the same UID while it is only planned
(beyond the generated horizon, which is shorter than the feed), once it is stored, and after a lead gives it
to someone else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlencode

import icalendar
from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from teams import rota, selectors
from teams.models import Member, Team

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=180)
UID_DOMAIN = "support-roulette"
REFRESH = dt.timedelta(hours=1)


def team_feed_url(team: Team) -> str:
    """The absolute URL calendar apps subscribe to (it carries the secret token)."""
    path = reverse("calendar-team", kwargs={"slug": team.slug})
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'token': team.calendar_token})}"


def member_feed_url(member: Member) -> str:
    path = reverse("calendar-member", kwargs={"member_id": member.pk})
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'token': member.calendar_token})}"


def _token_matches(given: str | None, expected: str) -> bool:
    return bool(given) and secrets.compare_digest(given.encode(), expected.encode())


def feed_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return now - PAST, now + AHEAD


def _calendar(name: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Support Roulette//On-call schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)  # RFC 7986
    calendar.add("x-wr-calname", name)  # the same, for clients that predate RFC 7986
    # Ask subscribing apps to refresh hourly; the default for some is a week. icalendar does not know
    # REFRESH-INTERVAL's type (RFC 7986 section 5.7) and would write str(timedelta), "1:00:00".
    calendar.add("refresh-interval", icalendar.vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH))
    return calendar


class ShiftKeys:
    """The lasting identity of the row behind a segment, for its UID (two queries for a whole feed).

    An override: its id. A shift a rotation made: the rotation and the shift's start, whether the shift is
    stored or still a projection beyond the horizon, and whoever it was given to. A hand-made shift: its id.
    """

    def __init__(self, *, team_ids: list[int], segments: list[rota.Segment]):
        ids = {s.ref_id for s in segments if s.source == rota.SHIFT and s.ref_id is not None}
        self.stored = selectors.shift_rotation_starts(shift_ids=ids)
        self.rotations = {
            (rotation.team_id, rotation.role): rotation
            for rotation in selectors.rotations_of_teams(teams=selectors.teams_among(team_ids=team_ids))
        }

    def key(self, *, team: Team, role: str, segment: rota.Segment) -> str:
        if segment.source == rota.OVERRIDE:
            return f"override{segment.ref_id}"
        if segment.ref_id is not None:
            rotation_id, start = self.stored.get(segment.ref_id, (None, None))
            if rotation_id is None:
                return f"shift{segment.ref_id}"
            return f"rotation{rotation_id}-{int(start.timestamp())}"
        rotation = self.rotations.get((team.pk, role))
        if rotation is None:  # pragma: no cover - projections come from a rotation
            return f"planned-{int(segment.start.timestamp())}"
        # A projected shift: the hand-off at or before the segment's start (an override may have cut its head).
        tz = rotation.team.tz
        n = rota.first_index_at_or_before(rotation.start_local, rotation.shift_length, tz, segment.start)
        start = rota.handoff(rotation.start_local, rotation.shift_length, n, tz)
        return f"rotation{rotation.pk}-{int(start.timestamp())}"


def _events(
    *,
    feed: str,
    team: Team,
    role: str,
    segments: list[rota.Segment],
    members: dict[int, Member],
    keys: ShiftKeys,
    now: dt.datetime,
):
    """One event per covered segment. The first segment of a shift or override takes its plain UID; later
    pieces of the same row (split by an override) add their start, so UIDs never repeat within a feed."""
    seen: set[str] = set()
    for segment in segments:
        if segment.member_id is None:
            continue
        member = members[segment.member_id]
        uid = f"{feed}-team{team.pk}-{role}-{keys.key(team=team, role=role, segment=segment)}"
        if uid in seen:
            uid = f"{uid}-{int(segment.start.timestamp())}"
        seen.add(uid)
        event = icalendar.Event()
        event.add("uid", f"{uid}@{UID_DOMAIN}")
        event.add("dtstamp", now)
        event.add("dtstart", segment.start.astimezone(dt.UTC))
        event.add("dtend", segment.end.astimezone(dt.UTC))
        what = "override" if segment.source == rota.OVERRIDE else "on call"
        event.add("summary", f"{team.name} {role} {what}: {member.name}")
        event.add("description", f"{member.name} ({member.phone}) is {role} on call for {team.name}.")
        event.add("transp", "TRANSPARENT")
        event.add("categories", [team.name, role])
        yield event


def _time_off_events(*, feed: str, rows, now: dt.datetime):
    """One event per time off (whole, not cut to shifts): who is away, when, and why if they said."""
    for row in rows:
        event = icalendar.Event()
        event.add("uid", f"{feed}-timeoff{row.pk}@{UID_DOMAIN}")
        event.add("dtstamp", now)
        event.add("dtstart", row.start.astimezone(dt.UTC))
        event.add("dtend", row.end.astimezone(dt.UTC))
        event.add(
            "summary", gettext("%(team)s time off: %(member)s") % {"team": row.team.name, "member": row.member.name}
        )
        description = gettext("%(member)s is away: not rung, reminded or on call for %(team)s.") % {
            "member": row.member.name,
            "team": row.team.name,
        }
        event.add("description", f"{description} {row.reason}".strip())
        event.add("transp", "TRANSPARENT")
        event.add("categories", [row.team.name, "time off"])
        yield event


def _response(calendar: icalendar.Calendar, filename: str) -> HttpResponse:
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # The URL carries a secret: keep it out of shared caches.
    response["Cache-Control"] = "private, max-age=300"
    return response


def _feed(*, feed: str, title: str, teams: dict[int, Team], member_id: int | None, filename: str) -> HttpResponse:
    """The on-call stretches and time off of `teams` over feed_window (PAST back, AHEAD ahead): every member's, or
    only `member_id`'s."""
    now = timezone.now()
    start, end = feed_window(now)
    schedules, members = selectors.schedules_for_teams(team_ids=list(teams), start=start, end=end)
    if member_id is not None:
        schedules = {key: [s for s in segments if s.member_id == member_id] for key, segments in schedules.items()}
    calendar = _calendar(title)
    keys = ShiftKeys(team_ids=list(teams), segments=[s for segments in schedules.values() for s in segments])
    for (team_id, role), segments in schedules.items():
        for event in _events(
            feed=feed, team=teams[team_id], role=role, segments=segments, members=members, keys=keys, now=now
        ):
            calendar.add_component(event)
    time_off = [
        row
        for row in selectors.time_off_between(team_ids=list(teams), start=start, end=end)
        if member_id is None or row.member_id == member_id
    ]
    for event in _time_off_events(feed=feed, rows=time_off, now=now):
        calendar.add_component(event)
    return _response(calendar, filename)


@require_safe
def team_feed(request, slug: str) -> HttpResponse:
    team = selectors.team_by_slug(slug=slug)
    if team is None or not _token_matches(request.GET.get("token"), team.calendar_token):
        raise Http404("No such calendar.")
    return _feed(
        feed="t", title=f"{team.name} on call", teams={team.pk: team}, member_id=None, filename=f"{team.slug}.ics"
    )


@require_safe
def member_feed(request, member_id: int) -> HttpResponse:
    member = selectors.member_by_id(member_id=member_id)
    if member is None or not _token_matches(request.GET.get("token"), member.calendar_token):
        raise Http404("No such calendar.")
    teams = {team.pk: team for team in member.teams.all()}
    return _feed(
        feed=f"m{member.pk}", title=f"{member.name}: on call", teams=teams, member_id=member.pk, filename="on-call.ics"
    )
