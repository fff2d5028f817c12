"""`python manage.py oncall <team-slug> [--at ISO-8601]`: who is on call, in the team's time zone."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from teams import rota, selectors


class Command(BaseCommand):
    help = "Show who is on call for a team now or at --at (naive times are read in the team's time zone)."

    def add_arguments(self, parser):
        parser.add_argument("team_slug")
        parser.add_argument("--at", help="ISO-8601 instant, e.g. 2026-12-24T03:00 or 2026-12-24T03:00+01:00")

    def handle(self, *args, team_slug, at=None, **options):
        team = selectors.team_by_slug(slug=team_slug)
        if team is None:
            raise CommandError(f"No team with slug '{team_slug}'.")
        instant = timezone.now()
        if at:
            try:
                parsed = dt.datetime.fromisoformat(at)
            except ValueError as exc:
                raise CommandError(f"--at '{at}' is not an ISO-8601 date and time.") from exc
            instant = rota.localize(parsed, team.tz) if parsed.tzinfo is None else parsed
        tz = team.tz
        self.stdout.write(f"{team.name} at {rota.format_local(instant, tz)}")
        result = selectors.oncall_with_next(team_ids=[team.pk], at=instant)[team.pk]
        for role, entry in result.items():
            cover = entry.current
            if cover.member is None:
                line = f"  {role}: nobody on call"
            else:
                line = (
                    f"  {role}: {cover.member.name} {cover.member.phone} ({cover.source}) "
                    f"until {rota.format_local(cover.end, tz, year=False, zone=False)}"
                )
            if entry.next is not None:
                starts = rota.format_local(entry.next.start, tz, year=False, zone=False)
                line += f"; next {entry.next.member.name} from {starts}"
            self.stdout.write(line)
