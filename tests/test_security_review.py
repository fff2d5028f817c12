"""Security review: the "Security" and "Access is scoped" bars of PRODUCT.md, tested the way an attacker tries.

- every Twilio webhook (the five public ones and the app's own URLs reached through TwiML) answers an unsigned,
  tampered or wrongly signed POST with 403 and writes nothing, whatever DEBUG says;
- only an explicit TWILIO_VALIDATE_SIGNATURES=false switches the check off (an empty or misspelt value does not),
  with a warning at start-up;
- CSRF is exempt only on the webhooks (and on DRF views, which enforce CSRF for session logins themselves);
- a lead of team A sees nothing of team B through any API endpoint or filter the schema declares, nor in the
  admin; alerts-only tokens do nothing else; revoked tokens fail;
- secrets (the Twilio Auth Token, API tokens) never reach the logs; calendar tokens are compared in constant time;
- a spoofed SMS `From` gets no more than ACK/RESOLVE for the alerts of that member's own teams;
- production settings: secure cookies, `check --deploy` clean with .env.example's own (empty) values.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.contrib import admin
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.views import APIView
from twilio.request_validator import RequestValidator

from teams import services
from teams.models import ApiToken, Member, Override, Rotation, Shift, SupportNumber, Team, TeamMembership
from telephony import urls as telephony_urls
from telephony.models import Alert, Call, DialAttempt, OutboundMessage, Voicemail
from telephony.sms import sms_send
from tests.factories import MemberFactory, MembershipFactory, SupportNumberFactory, TeamFactory, UserFactory
from tests.fake_twilio import FakeTwilio, TwilioError
from tests.twilio_helpers import signature

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
# Everything of team bravo carries one of these; none may ever show up in an answer to alpha's lead.
BRAVO_MARKERS = ("bravo", "99990")
AUTH_TOKEN = "tw-auth-" + "s3cr3t" * 5


@pytest.fixture(autouse=True)
def _clean_throttle_and_token(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    cache.clear()
    yield
    cache.clear()


# --- A world with two teams ----------------------------------------------------------------------------------


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


@pytest.fixture
def world(db):
    with time_machine.travel(NOW, tick=False):
        yield World(alpha=build_side("alpha", "Alpha", "1111"), bravo=build_side("bravo", "Bravo", "9999"))


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


# --- Webhooks: every telephony URL is signed ----------------------------------------------------------------


def telephony_paths() -> list[str]:
    paths = []
    for pattern in telephony_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), "nested telephony URL confs: extend this test"
        paths.append(reverse(f"telephony:{pattern.name}"))
    return paths


def test_the_twelve_telephony_urls_are_all_covered():
    """The five public webhooks and every internal one; a new URL is picked up by the tests below."""
    paths = telephony_paths()
    assert len(paths) == len(set(paths)) >= 11
    for public in ("voice/incoming/", "voice/fallback/", "voice/status/", "sms/incoming/", "sms/status/"):
        assert f"/telephony/{public}" in paths


def twilio_params(side: Side) -> dict[str, str]:
    """Everything any of our webhooks reads, with values that would make each of them write something."""
    return {
        "CallSid": side.call.call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": side.member.phone,
        "To": side.number.phone_number,
        "CallStatus": "completed",
        "CallDuration": "42",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "ParentCallSid": side.call.call_sid,
        "Digits": "1",
        "DialCallStatus": "no-answer",
        "DialCallSid": "CA" + "d" * 32,
        "DialCallDuration": "0",
        "RecordingSid": "RE" + "e" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": "12",
        "TranscriptionText": "forged transcription",
        "TranscriptionStatus": "completed",
        "MessageSid": "SM" + "f" * 32,
        "MessageStatus": "delivered",
        "Body": f"ACK {side.alert.pk}",
        "NumMedia": "0",
    }


def empty_key_signature(url: str, params: dict) -> str:
    return RequestValidator("").compute_signature(url, params)


def forged_requests(path: str, params: dict):
    """(description, query string, headers) of requests that must all be refused."""
    url = "https://roulette.example.com" + path
    good = signature(url, params, AUTH_TOKEN)
    yield "no signature", "", {}
    yield "empty signature", "", {"HTTP_X_TWILIO_SIGNATURE": ""}
    yield "garbage signature", "", {"HTTP_X_TWILIO_SIGNATURE": "not-base64!!"}
    yield "non-ascii signature", "", {"HTTP_X_TWILIO_SIGNATURE": "é" * len(good)}
    yield "signed with another token", "", {"HTTP_X_TWILIO_SIGNATURE": signature(url, params, "other-token")}
    yield "signed with an empty key", "", {"HTTP_X_TWILIO_SIGNATURE": empty_key_signature(url, params)}
    tampered = {**params, "From": "+4915100000000"}
    yield "params tampered after signing", "", {"HTTP_X_TWILIO_SIGNATURE": signature(url, tampered, AUTH_TOKEN)}
    yield "query string added after signing", "attempt=1", {"HTTP_X_TWILIO_SIGNATURE": good}
    yield (
        "signed over http, not the public https",
        "",
        {"HTTP_X_TWILIO_SIGNATURE": signature(url.replace("https://", "http://"), params, AUTH_TOKEN)},
    )


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_every_telephony_url_refuses_forged_posts_and_writes_nothing(world, client, settings, debug):
    settings.DEBUG = debug
    params = twilio_params(world.alpha)
    before = row_counts()
    for path in telephony_paths():
        for query in ("", f"attempt={world.alpha.attempt.pk}"):
            full = f"{path}?{query}" if query else path
            for what, extra_query, headers in forged_requests(full, params):
                target = full + (("&" if query else "?") + extra_query if extra_query else "")
                if what == "query string added after signing" and query:
                    target = path + "?attempt=999999"  # the attempt id swapped after signing
                response = client.post(target, params, **headers)
                assert response.status_code == 403, (target, what, response.status_code)
                assert b"Invalid Twilio signature" in response.content
    assert row_counts() == before


def test_no_auth_token_configured_refuses_everything(world, client, settings):
    """Without TWILIO_AUTH_TOKEN nothing can be valid: a signature made with an empty key must not pass."""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_AUTH_TOKEN_SECONDARY = ""
    params = twilio_params(world.alpha)
    before = row_counts()
    for path in telephony_paths():
        sig = empty_key_signature("https://roulette.example.com" + path, params)
        assert client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sig).status_code == 403, path
    assert row_counts() == before


def test_every_telephony_url_is_post_only(world, client):
    for path in telephony_paths():
        for method in ("get", "put", "delete"):
            assert getattr(client, method)(path).status_code == 405, (method, path)


def test_signed_posts_pass_on_every_url_with_either_token(world, client, settings):
    """The control for the tests above: the same requests, correctly signed, are served (not 403), with the
    primary and with the secondary token (rotation), and a signed incoming call does write its Call."""
    settings.TWILIO_AUTH_TOKEN_SECONDARY = "the-next-token"
    params = {**twilio_params(world.alpha), "CallSid": "CA" + "7" * 32}
    for token in (AUTH_TOKEN, "the-next-token"):
        for path in telephony_paths():
            full = f"{path}?attempt={world.alpha.attempt.pk}"
            sig = signature("https://roulette.example.com" + full, params, token)
            response = client.post(full, params, HTTP_X_TWILIO_SIGNATURE=sig)
            assert response.status_code in (200, 204), (path, response.status_code)
    assert Call.objects.filter(call_sid="CA" + "7" * 32).exists()


def test_bad_signature_is_logged_without_any_secret(world, client, caplog):
    caplog.set_level(logging.DEBUG)
    params = twilio_params(world.alpha)
    sig = signature("https://roulette.example.com/telephony/voice/incoming/", params, "wrong")
    response = client.post(
        "/telephony/voice/incoming/", params, HTTP_X_TWILIO_SIGNATURE=sig, HTTP_AUTHORIZATION=f"Token {world.alpha.key}"
    )
    assert response.status_code == 403
    assert "Rejected a Twilio webhook" in caplog.text
    for secret in (AUTH_TOKEN, world.alpha.key):
        assert secret not in caplog.text
        assert secret not in response.content.decode()


# --- CSRF: exempt only on the webhooks --------------------------------------------------------------------------


def all_url_callbacks(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from all_url_callbacks(pattern, route)
        else:
            yield route, pattern.callback


def test_csrf_is_exempt_only_on_the_twilio_webhooks():
    """Django views that skip CSRF: only under telephony/. (DRF views are exempt at Django's level and check
    CSRF themselves for session logins.)"""
    seen_webhooks = 0
    for route, callback in all_url_callbacks():
        if not getattr(callback, "csrf_exempt", False):
            continue
        view_class = getattr(callback, "cls", None)
        if view_class is not None and issubclass(view_class, APIView):
            continue
        assert route.startswith("telephony/"), f"{route} is CSRF-exempt"
        seen_webhooks += 1
    assert seen_webhooks == len(telephony_paths())


def test_api_with_a_session_login_still_needs_csrf(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.alpha.lead.user)
    response = client.post("/api/v1/teams/alpha/alerts/", {"summary": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert Alert.objects.filter(team=world.alpha.team).count() == 1


# --- The switch: only TWILIO_VALIDATE_SIGNATURES=false, never DEBUG ------------------------------------------------


def run_python(code: str, env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "roulette.settings",
        "ROULETTE_VAR_DIR": str(tmp_path),
        **env_extra,
    }
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


SHOW_SWITCH = (
    "import django; django.setup(); from django.conf import settings; print(settings.TWILIO_VALIDATE_SIGNATURES)"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "True"), ("", "True"), ("true", "True"), ("false", "False")],
    ids=["unset", "empty", "true", "false"],
)
def test_only_an_explicit_false_switches_the_signature_check_off_even_with_debug(tmp_path, value, expected):
    env = {"DJANGO_DEBUG": "true"}
    if value is not None:
        env["TWILIO_VALIDATE_SIGNATURES"] = value
    result = run_python(SHOW_SWITCH, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
    warned = "TWILIO_VALIDATE_SIGNATURES=false" in result.stderr
    assert warned == (expected == "False"), result.stderr


def test_a_misspelt_switch_stops_start_up_instead_of_opening_the_webhooks(tmp_path):
    result = run_python(SHOW_SWITCH, {"DJANGO_DEBUG": "true", "TWILIO_VALIDATE_SIGNATURES": "flase"}, tmp_path)
    assert result.returncode != 0
    assert "TWILIO_VALIDATE_SIGNATURES must be true or false" in result.stderr


def test_env_example_as_shipped_passes_check_deploy_with_secure_cookies(tmp_path):
    """.env.example leaves most variables empty (`NAME=`): with DEBUG off and a secret, that must start, use
    the defaults, pass `check --deploy` without a warning and serve secure, HTTP-only cookies."""
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            env[name.strip()] = value.strip()
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "roulette.example.com",
            "PUBLIC_BASE_URL": "https://roulette.example.com",
            "DJANGO_SECURE_SSL_REDIRECT": "true",
        }
    )
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings as s\n"
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\n"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS > 0,"
        " s.TWILIO_VALIDATE_SIGNATURES, s.SMS_BACKEND, s.DATABASES['default']['ENGINE'])\n"
    )
    result = run_python(code, env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True True True True True console django.db.backends.sqlite3"


# --- API: team A's lead sees nothing of team B, through any endpoint or filter ------------------------------------


def schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            yield method, path, query


def bravo_values(world: World) -> list[str]:
    b = world.bravo
    ids = [b.team.pk, b.lead.pk, b.member.pk, b.number.pk, b.rotation.pk, b.shift.pk, b.override.pk]
    ids += [b.call.pk, b.voicemail.pk, b.message.pk, b.alert.pk]
    return ["bravo", b.member.phone, *sorted({str(i) for i in ids})]


def fill(path: str, world: World, slug: str = "alpha", object_id: int | None = None) -> str:
    path = path.replace("{slug}", slug)
    return path.replace("{id}", str(object_id or 0)).replace("{alert_id}", str(object_id or 0))


BRAVO_OBJECT_BY_RESOURCE = {
    "members": "member",
    "numbers": "number",
    "rotations": "rotation",
    "shifts": "shift",
    "overrides": "override",
    "calls": "call",
    "voicemails": "voicemail",
    "messages": "message",
    "alerts": "alert",
}


def bravo_object_for(path: str, world: World):
    for resource, attribute in BRAVO_OBJECT_BY_RESOURCE.items():
        if f"/{resource}/" in path:
            return getattr(world.bravo, attribute)
    return None


def test_every_get_endpoint_with_bravo_ids_in_every_filter_shows_nothing_of_bravo(world, settings):
    """As alpha's lead: every GET the schema declares, each query parameter (and ?team=, ?member=, which it does
    not declare) set to each of bravo's ids, its slug and a phone: the answer never contains a bravo row."""
    client = api(world.alpha.key)
    gets = [(path, query) for method, path, query in schema_operations() if method == "get"]
    assert len(gets) >= 20
    with time_machine.travel(NOW, tick=False):
        for path, query in gets:
            if "{id}" in path or "{alert_id}" in path:
                continue  # detail pages: next test
            url = fill(path, world)
            control = client.get(url)
            assert control.status_code == 200, (url, control.status_code)
            text = control.content.decode().lower()
            assert "alpha" in text or "1111" in text or url.endswith("/gaps/"), url  # alpha's rows are there
            for name in sorted({*query, "team", "member", "team_id", "slug"}):
                for value in bravo_values(world):
                    response = client.get(url, {name: value})
                    # 404: a page number past the end.
                    assert response.status_code in (200, 400, 404), (url, name, value, response.status_code)
                    assert_no_bravo(response, f"GET {url}?{name}={value}", echoed=value)
                    cache.clear()  # keep under the per-token rate limit


def test_every_endpoint_of_team_bravo_is_a_404_for_alphas_lead_and_writes_nothing(world):
    """Every method of every path, with bravo's slug, or alpha's slug and a bravo object's id: 404, nothing
    written, nothing of bravo in the answer (for schema, docs and the all-teams lists this is not a 404)."""
    client = api(world.alpha.key)
    before = row_counts()
    body = {"summary": "x", "name": "x", "phone": "+4915200000077", "dedupe_key": "bravo-monitor"}
    with time_machine.travel(NOW, tick=False):
        for method, path, _ in schema_operations():
            if "{slug}" not in path:
                continue
            targets = [fill(path, world, slug="bravo", object_id=getattr(bravo_object_for(path, world), "pk", 1))]
            bravo_object = bravo_object_for(path, world)
            if bravo_object is not None and ("{id}" in path or "{alert_id}" in path):
                targets.append(fill(path, world, slug="alpha", object_id=bravo_object.pk))
            for url in targets:
                response = getattr(client, method)(url, body, format="json")
                assert response.status_code == 404, (method, url, response.status_code)
                assert_no_bravo(response, f"{method.upper()} {url}")
                cache.clear()
    after = row_counts()
    # Authenticating refreshes last_used_at; that is an UPDATE, not a row.
    assert after == before


def test_alpha_writes_cannot_reference_bravo_members(world):
    client = api(world.alpha.key)
    b = world.bravo.member.pk
    with time_machine.travel(NOW, tick=False):
        cases = [
            ("/api/v1/teams/alpha/shifts/", {"member": b, "role": "secondary", "start": "2026-12-20T08:00Z",
                                             "end": "2026-12-21T08:00Z"}),
            ("/api/v1/teams/alpha/overrides/", {"member": b, "role": "primary", "start": "2026-12-20T08:00Z",
                                                "end": "2026-12-20T20:00Z"}),
            ("/api/v1/teams/alpha/rotations/", {"name": "x", "role": "secondary", "members": [b],
                                                "start": "2026-12-07T09:00:00", "shift_length": "P7D"}),
        ]  # fmt: skip
        for url, data in cases:
            response = client.post(url, data, format="json")
            assert response.status_code == 400, (url, response.json())
        shift = world.alpha.shift
        assert client.patch(f"/api/v1/teams/alpha/shifts/{shift.pk}/", {"member": b}, format="json").status_code == 400
    assert not Shift.objects.filter(team=world.alpha.team, member_id=b).exists()
    assert not Override.objects.filter(team=world.alpha.team, member_id=b).exists()
    assert not Rotation.objects.filter(team=world.alpha.team, role="secondary").exists()


def test_all_team_lists_show_only_alpha(world):
    client = api(world.alpha.key)
    with time_machine.travel(NOW, tick=False):
        for url in ("/api/v1/teams/", "/api/v1/oncall/", "/api/v1/oncall/?at=2026-12-02T12:00:00"):
            response = client.get(url)
            assert response.status_code == 200
            assert "alpha" in response.content.decode().lower()
            assert_no_bravo(response, url)


# --- Tokens: alerts-only tokens do nothing else; revoked and inactive tokens fail ----------------------------------

ALERTS_TOKEN_MAY = {
    ("post", "/api/v1/teams/{slug}/alerts/"),
    ("post", "/api/v1/teams/{slug}/alerts/resolve/"),
}


def test_an_alerts_only_token_can_do_nothing_but_raise_and_resolve_its_teams_alerts(world):
    client = api(world.alpha.alerts_key)
    body = {"summary": "disk full", "dedupe_key": "disk", "name": "x", "phone": "+4915200000078"}
    with time_machine.travel(NOW, tick=False):
        for method, path, _ in schema_operations():
            own = fill(path, world, object_id=world.alpha.alert.pk)
            response = getattr(client, method)(own, body, format="json")
            if (method, path) in ALERTS_TOKEN_MAY:
                assert response.status_code in (200, 201), (method, own, response.status_code)
            elif path.startswith("/api/v1/schema/") or path.startswith("/api/v1/docs/"):
                continue  # the public API description
            else:
                assert response.status_code in (403, 404), (method, own, response.status_code)
            cache.clear()
            if "{slug}" in path:
                other = fill(path, world, slug="bravo", object_id=world.bravo.alert.pk)
                before = row_counts()
                response = getattr(client, method)(other, body, format="json")
                assert response.status_code in (403, 404), (method, other, response.status_code)
                assert_no_bravo(response, other)
                assert row_counts() == before
                cache.clear()
    # Raised once, then resolved by its dedupe_key; nothing else was touched.
    assert Alert.objects.filter(team=world.alpha.team, dedupe_key="disk", state="resolved").count() == 1
    assert Alert.objects.filter(team=world.bravo.team).count() == 1


def test_revoked_tokens_and_inactive_users_fail_everywhere(world):
    for key in (world.alpha.key, world.alpha.alerts_key):
        ApiToken.objects.filter(prefix=key[:8]).update(revoked_at=NOW)
    gone = UserFactory(username="gone", is_active=False)
    MembershipFactory(team=world.alpha.team, member=MemberFactory(user=gone), role=TeamMembership.Role.LEAD)
    inactive_key, _ = services.token_create(user=gone)
    before = row_counts()
    with time_machine.travel(NOW, tick=False):
        for key in (world.alpha.key, world.alpha.alerts_key, inactive_key, world.alpha.key + "x", "nonsense"):
            for method, path, _ in schema_operations():
                if path.startswith("/api/v1/schema/") or path.startswith("/api/v1/docs/"):
                    continue
                url = fill(path, world, object_id=world.alpha.alert.pk)
                response = getattr(api(key), method)(url, {"summary": "x"}, format="json")
                assert response.status_code == 401, (key[:8], method, url, response.status_code)
                assert key not in response.content.decode()
                cache.clear()
    assert row_counts() == before


# --- Admin: another team's objects are 404, lists and filters show only one's own teams ----------------------------


def bravo_admin_objects(world: World) -> list:
    b = world.bravo
    return [b.team, b.member, b.number, b.rotation, b.shift, b.override, b.call, b.voicemail, b.message, b.alert,
            b.alerts_token]  # fmt: skip


def test_admin_pages_of_bravo_objects_are_404_for_alphas_lead(world, client):
    client.force_login(world.alpha.lead.user)
    checked = 0
    for obj in bravo_admin_objects(world):
        model = type(obj)
        if model not in admin.site._registry:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        for page in ("change", "delete", "history"):
            url = reverse(f"admin:{info[0]}_{info[1]}_{page}", args=[obj.pk])
            response = client.get(url)
            assert response.status_code == 404, (url, response.status_code)
            if page != "history":
                before = row_counts()
                response = client.post(url, {"post": "yes", "name": "hijacked"})
                assert response.status_code == 404, (url, response.status_code)
                assert row_counts() == before
        checked += 1
    assert checked >= 10


def test_admin_lists_and_filters_show_only_alpha(world, client):
    client.force_login(world.alpha.lead.user)
    bravo = world.bravo.team.pk
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_module_permission(type("R", (), {"user": world.alpha.lead.user})()):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for params in ({}, {"team__id__exact": bravo}, {"memberships__team__id__exact": bravo}, {"q": "bravo"}):
            response = client.get(url, params)
            # 400: Django refuses a lookup the admin does not offer (DisallowedModelAdminLookup).
            assert response.status_code in (200, 302, 400), (url, params, response.status_code)
            if response.status_code == 200:
                assert_no_bravo(response, f"{url}?{params}", echoed=params.get("q", ""))


def test_admin_add_forms_refuse_bravo_as_team_or_member(world, client):
    """Forged add forms (bravo's team or member ids that the lead's choices never offer) create nothing."""
    client.force_login(world.alpha.lead.user)
    b = world.bravo
    interval = {"role": "primary", "start": "2027-01-04T08:00", "end": "2027-01-05T08:00", "reason": "forged"}
    forms = {
        "teams_shift": {**interval, "team": b.team.pk, "member": world.alpha.member.pk},
        "teams_override": {**interval, "team": world.alpha.team.pk, "member": b.member.pk},
        "teams_supportnumber": {"team": b.team.pk, "phone_number": "+493077777777", "sms_enabled": "on"},
        "teams_apitoken": {"name": "forged", "scope": "alerts", "team": b.team.pk},
    }
    before = row_counts()
    for name, data in forms.items():
        response = client.post(reverse(f"admin:{name}_add"), data)
        assert response.status_code in (200, 403), (name, response.status_code)
    assert row_counts() == before
    # The member page's membership inline cannot put someone into bravo either.
    member = world.alpha.member
    url = reverse("admin:teams_member_change", args=[member.pk])
    membership = TeamMembership.objects.get(team=world.alpha.team, member=member)
    data = {
        "name": member.name, "phone": member.phone, "email": "", "timezone": "",
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": membership.pk, "memberships-0-member": member.pk, "memberships-0-team": world.alpha.team.pk,
        "memberships-0-role": "member",
        "memberships-1-id": "", "memberships-1-member": member.pk, "memberships-1-team": b.team.pk,
        "memberships-1-role": "lead",
    }  # fmt: skip
    client.post(url, data)
    assert not TeamMembership.objects.filter(team=b.team, member=member).exists()


def test_admin_actions_posted_with_bravo_ids_touch_nothing_of_bravo(world, client):
    client.force_login(world.alpha.lead.user)
    b = world.bravo
    actions = [
        ("teams_team", "regenerate_calendar_token", b.team),
        ("teams_team", "generate_shifts_now", b.team),
        ("teams_member", "regenerate_calendar_token", b.member),
        ("teams_member", "send_test_sms", b.member),
        ("teams_apitoken", "revoke", b.alerts_token),
        ("telephony_alert", "acknowledge", b.alert),
        ("telephony_alert", "resolve", b.alert),
    ]
    team_token, member_token = b.team.calendar_token, b.member.calendar_token
    before = row_counts()
    for name, action, obj in actions:
        client.post(reverse(f"admin:{name}_changelist"), {"action": action, "_selected_action": [obj.pk]})
    assert row_counts() == before
    b.team.refresh_from_db()
    b.member.refresh_from_db()
    b.alerts_token.refresh_from_db()
    b.alert.refresh_from_db()
    assert (b.team.calendar_token, b.member.calendar_token) == (team_token, member_token)
    assert b.alerts_token.revoked_at is None
    assert b.alert.state == "open"
    # The control: the same posts with alpha's ids do act.
    client.post(
        reverse("admin:teams_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [world.alpha.alerts_token.pk]},
    )
    client.post(
        reverse("admin:telephony_alert_changelist"),
        {"action": "acknowledge", "_selected_action": [world.alpha.alert.pk]},
    )
    world.alpha.alerts_token.refresh_from_db()
    world.alpha.alert.refresh_from_db()
    assert world.alpha.alerts_token.revoked_at is not None
    assert world.alpha.alert.state == "acknowledged"


# --- Secrets never reach the logs ----------------------------------------------------------------------------------


def test_twilio_client_request_logging_is_off():
    """twilio-python logs every request and response at INFO; the project's LOGGING keeps that off."""
    assert logging.getLogger("twilio.http_client").getEffectiveLevel() >= logging.WARNING


@pytest.fixture
def fake_twilio(settings):
    fake = FakeTwilio(account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=AUTH_TOKEN, validate=False)
    fake.start()
    settings.TWILIO_API_BASE_URL = fake.url
    settings.SMS_BACKEND = "twilio"
    try:
        yield fake
    finally:
        fake.stop()


def secret_forms(sid: str) -> list[str]:
    basic = base64.b64encode(f"{sid}:{AUTH_TOKEN}".encode()).decode()
    return [AUTH_TOKEN, basic]


@pytest.mark.parametrize(
    "failure",
    [TwilioError(401, 20003, "Authenticate"), TwilioError(500), TwilioError(400, 21211, "bad To")],
    ids=["auth", "server-error", "permanent"],
)
def test_a_failed_twilio_send_logs_no_auth_token(db, fake_twilio, settings, caplog, failure,
                                                 django_capture_on_commit_callbacks):  # fmt: skip
    caplog.set_level(logging.DEBUG)
    for name in ("twilio", "twilio.http_client", "urllib3", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_twilio.script(failure, failure, failure, failure, failure, failure)
    team = TeamFactory()
    SupportNumberFactory(team=team, phone_number="+4930555111", sms_enabled=True)
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        sms_send(to=member.phone, body="hello", kind="reminder", dedupe_key="k-secret", team=team, member=member)
    message = OutboundMessage.objects.get(dedupe_key="k-secret")
    assert message.attempts >= 1
    stored = f"{message.error_message} {message.error_code}"
    for secret in secret_forms(settings.TWILIO_ACCOUNT_SID):
        assert secret not in caplog.text
        assert secret not in stored


def test_an_unreachable_twilio_logs_no_auth_token(db, settings, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="twilio")
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 2
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        sms_send(to=member.phone, body="hello", kind="reminder", dedupe_key="k-net", member=member)
    message = OutboundMessage.objects.get(dedupe_key="k-net")
    for secret in secret_forms(settings.TWILIO_ACCOUNT_SID):
        assert secret not in caplog.text
        assert secret not in message.error_message


def test_api_tokens_are_never_logged_or_echoed(world, caplog):
    caplog.set_level(logging.DEBUG)
    with time_machine.travel(NOW, tick=False):
        for key in (world.alpha.key, world.alpha.key[:-1] + "!", world.alpha.alerts_key):
            for url in ("/api/v1/teams/", "/api/v1/teams/bravo/", "/api/v1/teams/alpha/alerts/"):
                response = api(key).get(url)
                assert key not in response.content.decode()
                cache.clear()
    for key in (world.alpha.key, world.alpha.alerts_key):
        assert key not in caplog.text
    assert ApiToken.objects.filter(key_hash__contains=world.alpha.key).count() == 0  # stored hashed


# --- Calendar tokens ---------------------------------------------------------------------------------------------


def test_calendar_tokens_are_compared_in_constant_time_and_wrong_ones_are_404(world, client, monkeypatch):
    compared = []
    real = secrets.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(secrets, "compare_digest", spy)
    alpha, bravo = world.alpha, world.bravo
    team_url = f"/calendar/teams/{alpha.team.slug}.ics"
    member_url = f"/calendar/members/{alpha.member.pk}.ics"
    with time_machine.travel(NOW, tick=False):
        assert client.get(team_url, {"token": alpha.team.calendar_token}).status_code == 200
        assert client.get(member_url, {"token": alpha.member.calendar_token}).status_code == 200
        assert compared, "calendar tokens must be compared with secrets.compare_digest"
        wrong = [
            "",
            alpha.team.calendar_token[:-1],
            alpha.team.calendar_token + "x",
            bravo.team.calendar_token,
            alpha.member.calendar_token,
            "é" * 10,
        ]
        for token in wrong:
            assert client.get(team_url, {"token": token}).status_code == 404, token
        assert client.get(team_url).status_code == 404
        for token in ("", alpha.team.calendar_token, bravo.member.calendar_token, "é"):
            assert client.get(member_url, {"token": token}).status_code == 404, token
        # Another member's token never opens this member's feed, nor a huge or unknown id.
        assert client.get("/calendar/members/99999999999999999999.ics", {"token": "x"}).status_code == 404


# --- Inbound SMS: From identifies, it does not authorise --------------------------------------------------------


def post_sms(client, body: str, from_number: str, to_number: str):
    params = {"MessageSid": "SM" + secrets.token_hex(16), "From": from_number, "To": to_number, "Body": body}
    sig = signature("https://roulette.example.com/telephony/sms/incoming/", params, AUTH_TOKEN)
    return client.post("/telephony/sms/incoming/", params, HTTP_X_TWILIO_SIGNATURE=sig)


def test_sms_ack_and_resolve_only_for_members_of_the_alerts_team(world, client):
    alpha, bravo = world.alpha, world.bravo
    to = alpha.number.phone_number
    for body in (f"ACK {bravo.alert.pk}", f"RESOLVE {bravo.alert.pk}", f"ack #{bravo.alert.pk}"):
        response = post_sms(client, body, alpha.member.phone, to)
        assert response.status_code == 200
        assert_no_bravo(response, body)
    for body in (f"ACK {alpha.alert.pk}", f"RESOLVE {alpha.alert.pk}", "WHO", "HELP"):
        response = post_sms(client, body, "+4915100000123", to)  # nobody's phone
        assert response.status_code == 200
        assert b"<Message>" not in response.content
    bravo.alert.refresh_from_db()
    alpha.alert.refresh_from_db()
    assert (bravo.alert.state, alpha.alert.state) == ("open", "open")
    # The one thing a member's phone may do: acknowledge their own team's alert.
    response = post_sms(client, f"ACK {alpha.alert.pk}", alpha.member.phone, to)
    alpha.alert.refresh_from_db()
    assert alpha.alert.state == "acknowledged"
    bravo.alert.refresh_from_db()
    assert bravo.alert.state == "open"


@pytest.mark.django_db
def test_a_lead_cannot_change_the_phone_of_someone_shared_with_another_team(client):
    from rest_framework.test import APIClient

    from teams.models import Member as _Member
    from teams.models import TeamMembership as _Membership
    from tests.factories import UserFactory as _User
    from tests.factories import team_with_members as _team

    lead_a, lead_b = _User(username="sec-lead-a"), _User(username="sec-lead-b")
    team_a, (_, shared, solo) = _team(3, lead_user=lead_a, slug="sec-a", name="Sec A")
    team_b, _ = _team(1, lead_user=lead_b, slug="sec-b", name="Sec B")
    _Membership.objects.create(team=team_b, member=shared)
    api = APIClient()
    api.force_authenticate(lead_a)
    response = api.patch(f"/api/v1/teams/sec-a/members/{shared.pk}/", {"phone": "+4915177777777"}, format="json")
    assert response.status_code == 403
    assert _Member.objects.get(pk=shared.pk).phone == shared.phone
    # Their role in the lead's own team can still change.
    assert api.patch(f"/api/v1/teams/sec-a/members/{shared.pk}/", {"role": "member"}, format="json").status_code == 200
    # The admin shows the details read-only to that lead.
    client.force_login(lead_a)
    page = client.get(f"/admin/teams/member/{shared.pk}/change/").content.decode()
    assert 'name="phone"' not in page
    # Someone only in the lead's team stays editable.
    assert 'name="phone"' in client.get(f"/admin/teams/member/{solo.pk}/change/").content.decode()
