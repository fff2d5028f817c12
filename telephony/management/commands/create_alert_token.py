"""`python manage.py create_alert_token <team-slug> [--name NAME]`: a team integration token for monitors.

The token can only raise (and resolve by dedupe_key) alerts of that one team. It is printed once, alone on
stdout (what it is goes to stderr), so `TOKEN=$(python manage.py create_alert_token web)` takes it and an
error still shows; only its hash is stored.
"""

from django.core.management.base import BaseCommand, CommandError

from teams import selectors
from teams.models import ApiToken
from teams.services import token_create


class Command(BaseCommand):
    help = "Create an alerts-only integration token for a team (for Monit, cron jobs, uptime checkers)."

    def add_arguments(self, parser):
        parser.add_argument("team_slug")
        parser.add_argument("--name", default="", help="What uses the token, e.g. 'monit on web-1'.")

    def handle(self, *args, team_slug, name="", **options):
        team = selectors.team_by_slug(slug=team_slug)
        if team is None:
            raise CommandError(f"No team with slug '{team_slug}'.")
        key, row = token_create(team=team, scope=ApiToken.Scope.ALERTS, name=name or f"alerts for {team.slug}")
        self.stderr.write(f"Alerts-only token {row.prefix}... for team {team.name} ({team.slug}).")
        self.stderr.write("Shown once; revoke it in the admin (API tokens). Send it as 'Authorization: Token <key>'.")
        self.stdout.write(key)
