"""Demo data: three teams in three time zones, with members, numbers, rotations and a lead. Idempotent."""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from teams import selectors, services
from teams.models import Role, TeamMembership
from telephony.beat import beat_schedule_install

DEMO_PASSWORD = "roulette-demo"  # noqa: S105 - demo data only, printed on purpose

TEAMS = [
    {
        "slug": "web",
        "name": "Web",
        "timezone": "America/Sao_Paulo",
        "greeting": "Thanks for calling Web support.",
        "number": "+551130040001",
        "sms_enabled": False,  # Brazilian landlines cannot send SMS: the global sender is used
        "members": [
            ("Ana Souza", "+5511987650001"),
            ("Bruno Lima", "+5511987650002"),
            ("Carla Dias", "+5511987650003"),
        ],
        "start": dt.datetime(2026, 11, 2, 9),
        "length": dt.timedelta(days=7),
    },
    {
        "slug": "platform",
        "name": "Platform",
        "timezone": "Europe/Berlin",
        "greeting": "Platform on-call, one moment.",
        "number": "+493012340001",
        "sms_enabled": True,
        "members": [
            ("Dana Weber", "+4915112340001"),
            ("Emil Braun", "+4915112340002"),
            ("Frida Koch", "+4915112340003"),
        ],
        "start": dt.datetime(2026, 11, 2, 10),
        "length": dt.timedelta(days=1),
    },
    {
        "slug": "billing",
        "name": "Billing",
        "timezone": "America/New_York",
        "greeting": "Billing support, connecting you now.",
        "number": "+12127360001",
        "sms_enabled": True,
        "members": [("Gus Miller", "+16465550101"), ("Hana Park", "+16465550102"), ("Ivan Cruz", "+16465550103")],
        "start": dt.datetime(2026, 11, 2, 8),
        "length": dt.timedelta(hours=12),
    },
]


class Command(BaseCommand):
    help = "Load demo teams, members, numbers and rotations (safe to run again) and print the logins."

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            admin, created = User.objects.get_or_create(
                username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
            )
            if created:
                admin.set_password(DEMO_PASSWORD)
                admin.save()
            lead, created = User.objects.get_or_create(
                username="lead", defaults={"is_staff": True, "email": "lead@example.com", "first_name": "Ana"}
            )
            if created:
                lead.set_password(DEMO_PASSWORD)
                lead.save()
            for spec in TEAMS:
                self._team(spec, lead)
        self._beat_defaults()
        self.stdout.write(
            "Demo data ready.\n"
            f"  Admin: {settings.PUBLIC_BASE_URL}/admin/\n"
            f"  Lead login (sees Web and Platform only): lead / {DEMO_PASSWORD}\n"
            f"  Superuser login: admin / {DEMO_PASSWORD}"
        )

    def _team(self, spec, lead_user):
        team = selectors.team_by_slug(slug=spec["slug"])
        if team is None:
            team = services.team_create(
                slug=spec["slug"], name=spec["name"], timezone=spec["timezone"], greeting=spec["greeting"]
            )
        if not selectors.support_numbers_among(phones=[spec["number"]]):
            services.support_number_create(team=team, phone_number=spec["number"], sms_enabled=spec["sms_enabled"])
        members = []
        for index, (name, phone) in enumerate(spec["members"]):
            member = selectors.member_by_phone(phone=phone)
            if member is None:
                member = services.member_create(team=team, name=name, phone=phone)
            # The demo lead leads Web and Platform, not Billing: the admin shows the scoping.
            if index == 0 and spec["slug"] in ("web", "platform"):
                if member.user_id is None and selectors.member_of_user(user=lead_user) is None:
                    services.member_update(member=member, user=lead_user)
                if member.user_id == lead_user.pk:
                    services.membership_add(team=team, member=member, role=TeamMembership.Role.LEAD)
            members.append(member)
        if spec["slug"] == "platform":
            # The lead is Ana from Web; make her lead of Platform too.
            ana = selectors.member_of_user(user=lead_user)
            if ana:
                services.membership_add(team=team, member=ana, role=TeamMembership.Role.LEAD)
        ids = [m.pk for m in members]
        staffed = selectors.rotation_roles(team_ids=[team.pk])
        for role, order in ((Role.PRIMARY, ids), (Role.SECONDARY, ids[1:] + ids[:1])):
            if (team.pk, role) not in staffed:
                services.rotation_create(
                    team=team,
                    name=f"{spec['name']} {role}",
                    role=role,
                    member_ids=order,
                    start_local=spec["start"],
                    shift_length=spec["length"],
                )

    def _beat_defaults(self):
        beat_schedule_install()
