"""The alerts API: raising, folding, listing, acknowledging, resolving, and who may do which."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.test import APIClient

from teams.models import ApiToken, Role, TeamMembership
from teams.services import token_create
from telephony import alerts
from telephony.models import Alert, OutboundMessage
from telephony.sms import sms_outbox_sweep
from tests.factories import MemberFactory, MembershipFactory, ShiftFactory, UserFactory, team_with_members
from tests.telephony.world import NOW


@pytest.fixture(autouse=True)
def _fresh_throttle(settings):
    # The per-token rate limit counts in the cache, which outlives a test's database.
    cache.clear()
    # Users are made with a password; the production hasher would take most of the test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    cache.clear()


def _client(key: str | None = None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def world(db, clock):
    """Team web (a lead, a member with a login, a primary on call), team billing (its own lead), a superuser,
    and an integration token per team."""
    lead_user = UserFactory(username="lea")
    web, (lead, primary) = team_with_members(2, lead_user=lead_user, name="Web", slug="web")
    ShiftFactory(team=web, role=Role.PRIMARY, member=primary)
    member_user = UserFactory(username="milo", is_staff=False)
    MembershipFactory(team=web, member=MemberFactory(user=member_user), role=TeamMembership.Role.MEMBER)
    other_lead_user = UserFactory(username="olga")
    billing, _ = team_with_members(1, lead_user=other_lead_user, name="Billing", slug="billing")
    superuser = UserFactory(username="root", is_superuser=True)
    keys = {
        "lead": token_create(user=lead_user)[0],
        "member": token_create(user=member_user)[0],
        "other_lead": token_create(user=other_lead_user)[0],
        "superuser": token_create(user=superuser)[0],
        "integration": token_create(team=web, scope=ApiToken.Scope.ALERTS, name="monit")[0],
        "other_integration": token_create(team=billing, scope=ApiToken.Scope.ALERTS)[0],
    }
    return SimpleNamespace(web=web, billing=billing, primary=primary, lead_user=lead_user, keys=keys)


def test_raising_an_alert_answers_201_and_pages_the_primary(world):
    response = _client(world.keys["integration"]).post(
        "/api/v1/teams/web/alerts/",
        {"summary": "website is down", "details": "HTTP 502 on /", "source": "monit", "dedupe_key": "web-http"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "open"
    assert body["team"] == "web"
    assert (body["summary"], body["details"], body["source"], body["dedupe_key"]) == (
        "website is down",
        "HTTP 502 on /",
        "monit",
        "web-http",
    )
    assert body["occurrences"] == 1
    messages = list(OutboundMessage.objects.filter(kind="alert"))
    assert [m.to for m in messages] == [world.primary.phone]
    assert messages[0].body == f"[Web] ALERT {body['id']}: website is down - reply ACK {body['id']}"
    assert Alert.objects.get().events.get(action="raised").actor == "monit"


def test_the_same_dedupe_key_folds_into_the_open_alert_with_200(world):
    client = _client(world.keys["integration"])
    first = client.post("/api/v1/teams/web/alerts/", {"summary": "down", "dedupe_key": "k"}, format="json").json()

    response = client.post("/api/v1/teams/web/alerts/", {"summary": "down", "dedupe_key": "k"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert response.json()["occurrences"] == 2
    assert OutboundMessage.objects.filter(kind="alert").count() == 1


def test_a_monitor_resolves_its_own_alert_by_dedupe_key(world, clock):
    client = _client(world.keys["integration"])
    alert_id = client.post("/api/v1/teams/web/alerts/", {"summary": "down", "dedupe_key": "k"}, format="json").json()[
        "id"
    ]

    response = client.post("/api/v1/teams/web/alerts/resolve/", {"dedupe_key": "k"}, format="json")

    assert response.status_code == 200
    assert response.json()["id"] == alert_id
    assert response.json()["state"] == "resolved"
    assert response.json()["resolved_by"] == "monit"
    clock.move_to(NOW + dt.timedelta(minutes=30))
    alerts.alerts_escalate_due()
    sent = OutboundMessage.objects.filter(kind="alert").order_by("pk")
    assert [m.to for m in sent] == [world.primary.phone, world.primary.phone]
    assert sent.last().body == f"[Web] ALERT {alert_id} resolved by monit: down"
    again = client.post("/api/v1/teams/web/alerts/resolve/", {"dedupe_key": "k"}, format="json")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


def test_ack_through_the_api_stops_the_escalation(world, clock):
    alert, _ = alerts.alert_raise(team=world.web, summary="down")

    response = _client(world.keys["lead"]).post(f"/api/v1/teams/web/alerts/{alert.pk}/ack/")

    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_by"] == "lea"
    for minutes in (5, 10, 15):
        clock.move_to(NOW + dt.timedelta(minutes=minutes))
        alerts.alerts_escalate_due()
    # The page, then the notice to the paged primary that the lead has it; no escalation.
    sent = OutboundMessage.objects.filter(kind="alert").order_by("pk")
    assert [m.to for m in sent] == [world.primary.phone, world.primary.phone]
    assert "acknowledged by lea" in sent.last().body
    event = Alert.objects.get().events.get(action="acknowledged")
    assert event.user == world.lead_user
    # Acknowledging again is harmless and answers the alert as it is.
    again = _client(world.keys["lead"]).post(f"/api/v1/teams/web/alerts/{alert.pk}/ack/")
    assert again.status_code == 200
    assert Alert.objects.get().events.filter(action="acknowledged").count() == 1


def test_list_filters_by_state_and_detail_shows_the_history(world):
    open_alert, _ = alerts.alert_raise(team=world.web, summary="open one")
    done, _ = alerts.alert_raise(team=world.web, summary="done one")
    alerts.alert_resolve(alert=done, actor="lea")
    alerts.alert_raise(team=world.billing, summary="billing's")
    client = _client(world.keys["member"])

    listed = client.get("/api/v1/teams/web/alerts/?state=open").json()
    everything = client.get("/api/v1/teams/web/alerts/").json()
    detail = client.get(f"/api/v1/teams/web/alerts/{done.pk}/").json()

    assert [a["id"] for a in listed["results"]] == [open_alert.pk]
    assert {a["id"] for a in everything["results"]} == {open_alert.pk, done.pk}
    assert [e["action"] for e in detail["events"]] == ["raised", "paged", "resolved"]


def test_list_queries_do_not_grow_with_the_alerts(world, django_assert_max_num_queries):
    for n in range(30):
        Alert.objects.create(team=world.web, summary=f"alert {n}")
    client = _client(world.keys["member"])
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/teams/web/alerts/")
    assert response.json()["count"] == 30


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "summary"), ({"summary": "   "}, "summary"), ({"summary": "x", "source": "s" * 101}, "source")],
)
def test_invalid_alerts_answer_400_in_the_one_error_shape(world, body, field):
    response = _client(world.keys["integration"]).post("/api/v1/teams/web/alerts/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["fields"]
    assert not Alert.objects.exists()


def test_an_unknown_state_filter_is_400(world):
    response = _client(world.keys["lead"]).get("/api/v1/teams/web/alerts/?state=sleeping")
    assert response.status_code == 400
    assert "state" in response.json()["error"]["fields"]


def test_a_long_summary_still_pages_and_is_kept_whole_in_details(world):
    text = "website is down " * 30
    response = _client(world.keys["integration"]).post("/api/v1/teams/web/alerts/", {"summary": text}, format="json")

    assert response.status_code == 201
    assert len(response.json()["summary"]) == 200
    assert response.json()["details"] == text.strip()


def test_an_alert_of_another_team_under_ones_own_slug_is_404(world):
    theirs, _ = alerts.alert_raise(team=world.billing, summary="billing's")

    client = _client(world.keys["lead"])
    assert client.get(f"/api/v1/teams/web/alerts/{theirs.pk}/").status_code == 404
    assert client.post(f"/api/v1/teams/web/alerts/{theirs.pk}/ack/").status_code == 404
    assert Alert.objects.get(pk=theirs.pk).state == Alert.State.OPEN


def test_the_cap_holds_under_a_burst_of_200_alerts(world, clock):
    client = _client(world.keys["integration"])
    for n in range(200):
        response = client.post(
            "/api/v1/teams/web/alerts/", {"summary": f"check {n} failed", "dedupe_key": f"check-{n}"}, format="json"
        )
        assert response.status_code == 201
    assert OutboundMessage.objects.filter(kind="alert").count() == world.web.alert_pages_per_hour == 20
    assert sum(Alert.objects.values_list("pages_held_back", flat=True)) == 180

    # Escalation ticks within the hour are capped too.
    clock.move_to(NOW + dt.timedelta(minutes=5))
    alerts.alerts_escalate_due()
    assert OutboundMessage.objects.filter(kind="alert").count() == 20

    clock.move_to(NOW + dt.timedelta(minutes=61))
    response = client.post("/api/v1/teams/web/alerts/", {"summary": "website is down"}, format="json")
    assert OutboundMessage.objects.filter(kind="alert").count() == 21
    latest = OutboundMessage.objects.filter(kind="alert").order_by("-pk").first()
    assert latest.body.endswith("(+380 pages held back by the 20/h cap)")


WHO = ["anonymous", "integration", "other_integration", "member", "lead", "other_lead", "superuser"]
EXPECTED = {
    #                anon integ other member lead other_lead super
    "create": (401, 201, 404, 403, 201, 404, 201),
    "list": (401, 403, 404, 200, 200, 404, 200),
    "detail": (401, 403, 404, 200, 200, 404, 200),
    "ack": (401, 403, 404, 200, 200, 404, 200),
    "resolve": (401, 403, 404, 200, 200, 404, 200),
    "resolve_by_key": (401, 200, 404, 200, 200, 404, 200),
}


@pytest.mark.parametrize("operation", list(EXPECTED))
@pytest.mark.parametrize("who", WHO)
def test_permissions(world, operation, who):
    alert, _ = alerts.alert_raise(team=world.web, summary="down", dedupe_key="k")
    client = _client(world.keys.get(who))
    base = "/api/v1/teams/web/alerts/"
    response = {
        "create": lambda: client.post(base, {"summary": "new"}, format="json"),
        "list": lambda: client.get(base),
        "detail": lambda: client.get(f"{base}{alert.pk}/"),
        "ack": lambda: client.post(f"{base}{alert.pk}/ack/"),
        "resolve": lambda: client.post(f"{base}{alert.pk}/resolve/"),
        "resolve_by_key": lambda: client.post(f"{base}resolve/", {"dedupe_key": "k"}, format="json"),
    }[operation]()

    expected = EXPECTED[operation][WHO.index(who)]
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
        alert.refresh_from_db()
        assert alert.state == Alert.State.OPEN
        assert Alert.objects.count() == 1


def test_curl_style_form_posts_raise_and_resolve(world):
    """`curl -d summary=... -d dedupe_key=...` (form-encoded), as in the README's Monit and cron lines."""
    client = _client(world.keys["integration"])
    form = "application/x-www-form-urlencoded"

    raised = client.post(
        "/api/v1/teams/web/alerts/", "summary=website+is+down&source=monit&dedupe_key=website-https", content_type=form
    )
    resolved = client.post("/api/v1/teams/web/alerts/resolve/", "dedupe_key=website-https", content_type=form)

    assert raised.status_code == 201
    assert raised.json()["summary"] == "website is down"
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"


# --- A monitor's huge alert ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_monitor_alert_with_a_huge_summary_and_details_still_pages(client):
    from teams.services import token_create
    from telephony.models import Alert as _Alert
    from telephony.models import OutboundMessage as _Message
    from tests.factories import ShiftFactory as _Shift
    from tests.factories import team_with_members as _team

    team, (ana,) = _team(1, slug="huge", name="Huge")
    now = dt.datetime.now(dt.UTC)
    _Shift(team=team, member=ana, start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1))
    key, _ = token_create(team=team, scope="alerts")
    response = client.post(
        f"/api/v1/teams/{team.slug}/alerts/",
        {"summary": "disk full " * 1000, "details": "x" * 50_000},
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 201, response.content[:500]
    alert = _Alert.objects.get()
    assert len(alert.summary) <= 200 and alert.details.startswith("disk full")
    assert _Message.objects.filter(kind="alert", to=ana.phone).count() == 1


# --- Redis (cache and broker) is down ---------------------------------------------------------------------


def test_an_alert_raised_while_redis_is_down_is_stored_and_paged_once_redis_is_back(
    world, clock, redis_server, caplog, django_capture_on_commit_callbacks
):
    redis_server.stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(world.keys["integration"]).post(
            "/api/v1/teams/web/alerts/", {"summary": "raised while redis is down"}, format="json"
        )

    assert response.status_code == 201, response.content
    alert = Alert.objects.get()
    assert alert.summary == "raised while redis is down"
    page = OutboundMessage.objects.get(kind="alert")
    assert (page.to, page.status) == (world.primary.phone, "queued")
    assert "rate limits are counted per process" in caplog.text
    assert "left for the sweep" in caplog.text

    redis_server.start()
    assert APIClient().get("/healthz").json()["broker"] == "up"
    clock.shift(dt.timedelta(minutes=2))
    assert sms_outbox_sweep()["enqueued"] == 1
    assert redis_server.queued() == 1  # the delivery task is on its way to a worker


def test_the_rate_limit_still_holds_per_process_while_the_cache_is_down(world, redis_server, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/hour"}}
    LocMemCache("throttle-fallback", {}).clear()  # the process-local counts the throttle falls back to
    redis_server.stop()
    client = _client(world.keys["lead"])
    answers = [client.get("/api/v1/teams/web/alerts/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
