"""`python manage.py create_api_token <username> [--name NAME]`: the new token alone on stdout (its last line),
what it is on stderr, so `TOKEN=$(python manage.py create_api_token admin)` takes the token and shows errors."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from teams import services


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it alone on stdout (its last line). It is stored hashed: copy it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by in the admin.")

    def handle(self, *args, **options):
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["username"]})
        except user_model.DoesNotExist as exc:
            raise CommandError(f"No user named {options['username']!r}.") from exc
        if not user.is_active:
            raise CommandError(f"{options['username']!r} is inactive; activate them first.")
        key, token = services.token_create(user=user, name=options["name"])
        self.stderr.write(
            f"Token {token.prefix}… for {user.get_username()} created. It is shown only this once; "
            "send it as 'Authorization: Token <key>'. Revoke it in the admin."
        )
        self.stdout.write(key)
