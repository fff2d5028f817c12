"""`python manage.py create_alert_token <team-slug> [--name NAME]`: a team integration token for monitors.

The token can only raise (and resolve by dedupe_key) alerts of that one team. It is printed once, on the
last line, so scripts can take it with `tail -n 1`; only its hash is stored.
"""

from django.core.management.base import BaseCommand, CommandError

from teams.models import ApiToken, Team
from teams.services import token_create


class Command(BaseCommand):
    help = "Create an alerts-only integration token for a team (for Monit, cron jobs, uptime checkers)."

    def add_arguments(self, parser):
        parser.add_argument("team_slug")
        parser.add_argument("--name", default="", help="What uses the token, e.g. 'monit on web-1'.")

    def handle(self, *args, team_slug, name="", **options):
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            raise CommandError(f"No team with slug '{team_slug}'.")
        key, row = token_create(team=team, scope=ApiToken.Scope.ALERTS, name=name or f"alerts for {team.slug}")
        self.stdout.write(f"Alerts-only token {row.prefix}... for team {team.name} ({team.slug}).")
        self.stdout.write("Shown once; revoke it in the admin (API tokens). Send it as 'Authorization: Token <key>'.")
        self.stdout.write(key)
