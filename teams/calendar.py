"""iCal feeds of the merged schedule: one per team, one per member (their own stretches across teams).

Subscribed to by calendar apps with a secret token in the URL; a wrong or missing token is a 404. Events are
TRANSP:TRANSPARENT (being on call does not make you busy) and in UTC. UIDs come from the shift or override
behind a segment, so an edited shift updates its event instead of adding another.
"""

from __future__ import annotations

import datetime as dt
import secrets

import icalendar
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from teams import rota, selectors
from teams.models import Member, Team

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=180)
UID_DOMAIN = "support-roulette"


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
    calendar.add("x-wr-calname", name)
    # Ask subscribing apps to refresh hourly; the default for some is a week.
    calendar.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    return calendar


def _events(
    *, feed: str, team: Team, role: str, segments: list[rota.Segment], members: dict[int, Member], now: dt.datetime
):
    """One event per covered segment. The first segment of a shift or override takes its plain UID; later
    pieces of the same row (split by an override) add their start, so UIDs never repeat within a feed."""
    seen: set[str] = set()
    for segment in segments:
        if segment.member_id is None:
            continue
        member = members[segment.member_id]
        if segment.ref_id is None:
            # Beyond the generated horizon (a shift the rotation will generate): keyed by its start.
            uid = f"{feed}-team{team.pk}-{role}-planned-{int(segment.start.timestamp())}"
        else:
            uid = f"{feed}-team{team.pk}-{role}-{segment.source}{segment.ref_id}"
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


def _response(calendar: icalendar.Calendar, filename: str) -> HttpResponse:
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # The URL carries a secret: keep it out of shared caches.
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def team_feed(request, slug: str) -> HttpResponse:
    team = Team.objects.filter(slug=slug).first()
    if team is None or not _token_matches(request.GET.get("token"), team.calendar_token):
        raise Http404("No such calendar.")
    now = timezone.now()
    start, end = feed_window(now)
    schedule, members = selectors.team_schedule_with_members(team=team, start=start, end=end)
    calendar = _calendar(f"{team.name} on call")
    for role, segments in schedule.items():
        for event in _events(feed="t", team=team, role=role, segments=segments, members=members, now=now):
            calendar.add_component(event)
    return _response(calendar, f"{team.slug}.ics")


@require_GET
def member_feed(request, member_id: int) -> HttpResponse:
    member = Member.objects.filter(pk=member_id).first()
    if member is None or not _token_matches(request.GET.get("token"), member.calendar_token):
        raise Http404("No such calendar.")
    now = timezone.now()
    start, end = feed_window(now)
    teams = {team.pk: team for team in member.teams.all()}
    schedules, members = selectors.schedules_for_teams(team_ids=list(teams), start=start, end=end)
    calendar = _calendar(f"{member.name}: on call")
    for (team_id, role), segments in schedules.items():
        own = [segment for segment in segments if segment.member_id == member.pk]
        for event in _events(
            feed=f"m{member.pk}", team=teams[team_id], role=role, segments=own, members=members, now=now
        ):
            calendar.add_component(event)
    return _response(calendar, "on-call.ics")
