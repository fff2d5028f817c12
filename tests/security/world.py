"""Plain helpers of the security tests: a world of two complete teams, alpha and bravo, and the ways to walk
every URL, endpoint and table (fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.urls import URLPattern, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from teams import services
from teams.models import ApiToken, Member, Override, Rotation, Shift, SupportNumber, Team, TeamMembership
from telephony import urls as telephony_urls
from telephony.models import Alert, Call, DialAttempt, OutboundMessage, Swap, Voicemail
from tests.factories import MemberFactory, MembershipFactory, SupportNumberFactory, TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


# Everything of team bravo carries one of these; none may ever show up in an answer to alpha's lead.
BRAVO_MARKERS = ("bravo", "99990")


AUTH_TOKEN = "tw-auth-" + "s3cr3t" * 5


@dataclass
class Side:
    team: Team
    lead: Member
    member: Member
    number: SupportNumber
    rotation: Rotation
    shift: Shift
    override: Override
    call: Call
    attempt: DialAttempt
    voicemail: Voicemail
    message: OutboundMessage
    alert: Alert
    key: str
    alerts_key: str
    alerts_token: ApiToken


def build_side(slug: str, name: str, digits: str) -> Side:
    """A complete team: a lead with a login and a token, a member, a number, a rotation with its shifts, an
    override, a call with a dial attempt, a voicemail, a message, an alert and an alerts-only token."""
    team = TeamFactory(slug=slug, name=name, timezone="Europe/Berlin", greeting=f"{name} greeting")
    user = UserFactory(username=f"lead-{slug}", is_staff=True)
    lead = MemberFactory(name=f"{name} Lead", phone=f"+49152{digits}01", user=user)
    MembershipFactory(team=team, member=lead, role=TeamMembership.Role.LEAD)
    member = MemberFactory(name=f"{name} Member", phone=f"+49152{digits}02")
    MembershipFactory(team=team, member=member)
    number = SupportNumberFactory(team=team, phone_number=f"+4930{digits}03")
    rotation = services.rotation_create(
        team=team,
        name=f"{name} weekly",
        role="primary",
        member_ids=[member.pk, lead.pk],
        start_local=dt.datetime(2026, 11, 30, 9, 0),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    shift = Shift.objects.filter(team=team).order_by("start").first()
    override = services.override_create(
        team=team,
        role="secondary",
        member=member,
        start=NOW - dt.timedelta(hours=1),
        end=NOW + dt.timedelta(hours=5),
        reason=f"{name} cover",
    )
    call = Call.objects.create(
        call_sid=f"CA{digits * 4}".ljust(34, "0"),
        team=team,
        from_number=f"+49151{digits}09",
        to_number=number.phone_number,
    )
    attempt = DialAttempt.objects.create(call=call, position=1, target="primary", member=member, phone=member.phone)
    voicemail = Voicemail.objects.create(
        call=call,
        team=team,
        recording_sid=f"RE{digits * 4}".ljust(34, "0"),
        recording_url=f"https://api.twilio.com/rec/{slug}",
        transcription=f"{name} voicemail",
    )
    message = OutboundMessage.objects.create(
        to=member.phone, body=f"{name} reminder", kind="reminder", team=team, dedupe_key=f"{slug}-1"
    )
    alert = Alert.objects.create(team=team, summary=f"{name} is down", source=f"{slug}-monitor")
    services.time_off_create(
        team=team,
        member=lead,
        start=NOW + dt.timedelta(days=20),
        end=NOW + dt.timedelta(days=21),
        reason=f"{name} away",
    )
    later = Shift.objects.filter(team=team, start__gt=NOW).order_by("start").first()
    Swap.objects.create(
        team=team,
        shift=later,
        role=later.role,
        start=later.start,
        end=later.end,
        asker=later.member,
        reason=f"{name} swap",
    )
    key, _ = services.token_create(user=user, name=f"{slug} lead token")
    alerts_key, alerts_token = services.token_create(team=team, scope=ApiToken.Scope.ALERTS, name=f"{slug} monit")
    return Side(
        team, lead, member, number, rotation, shift, override, call, attempt, voicemail, message, alert, key,
        alerts_key, alerts_token,
    )  # fmt: skip


@dataclass
class World:
    alpha: Side
    bravo: Side


def api(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def row_counts() -> dict[str, int]:
    """Rows of every table of the project (and Django's own: sessions, users, admin log)."""
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def assert_no_bravo(response, where: str, echoed: str = "") -> None:
    """No bravo marker in the answer (an error message may repeat the value we sent, `echoed`)."""
    text = response.content.decode(errors="replace").lower()
    if echoed:
        text = text.replace(echoed.lower(), "")
    for marker in BRAVO_MARKERS:
        assert marker not in text, f"{where} leaks team bravo ({marker!r}): {text[:500]}"


def telephony_paths() -> list[str]:
    paths = []
    for pattern in telephony_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), "nested telephony URL confs: extend this test"
        paths.append(reverse(f"telephony:{pattern.name}"))
    return paths


def schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            yield method, path, query


def fill(path: str, world: World, slug: str = "alpha", object_id: int | None = None) -> str:
    path = path.replace("{slug}", slug)
    return path.replace("{id}", str(object_id or 0)).replace("{alert_id}", str(object_id or 0))


def run_python(code: str, env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "roulette.settings",
        "ROULETTE_VAR_DIR": str(tmp_path),
        **env_extra,
    }
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
