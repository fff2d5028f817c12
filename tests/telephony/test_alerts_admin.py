"""Alerts in the admin (scoped to the lead's teams, acknowledge/resolve actions) and the token command."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from teams.models import ApiToken, Role
from telephony import alerts
from telephony.models import Alert, OutboundMessage
from tests.factories import ShiftFactory, UserFactory, team_with_members
from tests.telephony.world import NOW

CHANGELIST = "/admin/telephony/alert/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def two_teams(db, clock):
    lead_user = UserFactory(username="lea")
    web, (_, primary, secondary) = team_with_members(3, lead_user=lead_user, name="Web", slug="web")
    ShiftFactory(team=web, role=Role.PRIMARY, member=primary)
    ShiftFactory(team=web, role=Role.SECONDARY, member=secondary)
    other_lead_user = UserFactory(username="olga")
    billing, _ = team_with_members(1, lead_user=other_lead_user, name="Billing", slug="billing")
    ours, _ = alerts.alert_raise(team=web, summary="website is down")
    theirs, _ = alerts.alert_raise(team=billing, summary="invoices stuck")
    return lead_user, other_lead_user, ours, theirs


def test_a_lead_sees_only_their_teams_alerts(client, two_teams):
    lead_user, _, ours, theirs = two_teams
    client.force_login(lead_user)

    page = client.get(CHANGELIST).content.decode()

    assert "website is down" in page
    assert "invoices stuck" not in page
    assert client.get(f"{CHANGELIST}{ours.pk}/change/").status_code == 200
    assert client.get(f"{CHANGELIST}{theirs.pk}/change/").status_code in (302, 404)
    assert "invoices stuck" not in client.get(f"{CHANGELIST}{theirs.pk}/change/", follow=True).content.decode()


def test_a_superuser_sees_every_alert(client, two_teams):
    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(CHANGELIST).content.decode()
    assert "website is down" in page and "invoices stuck" in page


def test_a_staff_user_who_leads_nothing_gets_no_alerts(client, two_teams):
    client.force_login(UserFactory(username="stan"))
    assert client.get(CHANGELIST).status_code == 403


def test_acknowledge_in_the_admin_stops_the_escalation_and_records_the_user(client, two_teams, clock):
    lead_user, _, ours, _ = two_teams
    client.force_login(lead_user)

    response = client.post(CHANGELIST, {"action": "acknowledge", "_selected_action": [ours.pk]})

    assert response.status_code == 302
    ours.refresh_from_db()
    assert (ours.state, ours.acknowledged_by) == (Alert.State.ACKNOWLEDGED, "lea")
    event = ours.events.get(action="acknowledged")
    assert (event.user, event.detail) == (lead_user, "admin")
    clock.move_to(NOW + dt.timedelta(minutes=30))
    alerts.alerts_escalate_due()
    sent = OutboundMessage.objects.filter(kind="alert", team=ours.team).order_by("pk")
    assert [m.body.split(":")[0] for m in sent] == [
        f"[Web] ALERT {ours.pk}",
        f"[Web] ALERT {ours.pk} acknowledged by lea",
    ]


def test_an_action_cannot_reach_another_teams_alert(client, two_teams):
    lead_user, _, _, theirs = two_teams
    client.force_login(lead_user)

    client.post(CHANGELIST, {"action": "resolve", "_selected_action": [theirs.pk]})

    theirs.refresh_from_db()
    assert theirs.state == Alert.State.OPEN


def test_resolve_in_the_admin(client, two_teams):
    lead_user, _, ours, _ = two_teams
    client.force_login(lead_user)

    client.post(CHANGELIST, {"action": "resolve", "_selected_action": [ours.pk]})

    ours.refresh_from_db()
    assert (ours.state, ours.resolved_by) == (Alert.State.RESOLVED, "lea")


def test_create_alert_token_prints_a_token_that_raises_alerts_for_that_team_only(two_teams):
    out, err = StringIO(), StringIO()
    call_command("create_alert_token", "web", "--name", "monit on web-1", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert out.getvalue() == f"{key}\n" and "Alerts-only token" in err.getvalue()

    token = ApiToken.objects.get(name="monit on web-1")
    assert (token.scope, token.team.slug, token.user) == (ApiToken.Scope.ALERTS, "web", None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post("/api/v1/teams/web/alerts/", {"summary": "cron failed"}, format="json").status_code == 201
    assert client.post("/api/v1/teams/billing/alerts/", {"summary": "cron failed"}, format="json").status_code == 404
    assert client.get("/api/v1/teams/web/alerts/").status_code == 403


def test_create_alert_token_for_an_unknown_team_fails(db):
    with pytest.raises(CommandError, match="No team"):
        call_command("create_alert_token", "nope")


def test_the_alert_page_has_acknowledge_and_resolve_buttons_that_work(client, two_teams):
    lead_user, _, ours, _ = two_teams
    client.force_login(lead_user)
    change_url = f"{CHANGELIST}{ours.pk}/change/"

    page = client.get(change_url).content.decode()
    assert 'id="alert-buttons"' in page
    assert f'action="{CHANGELIST}{ours.pk}/acknowledge/"' in page and f'action="{CHANGELIST}{ours.pk}/resolve/"' in page

    response = client.post(f"{CHANGELIST}{ours.pk}/acknowledge/", {"next": change_url}, follow=True)
    ours.refresh_from_db()
    assert (ours.state, ours.acknowledged_by) == (Alert.State.ACKNOWLEDGED, "lea")
    assert ours.events.get(action="acknowledged").user == lead_user
    page = response.content.decode()
    assert f"Alert {ours.pk} acknowledged" in page
    assert f'action="{CHANGELIST}{ours.pk}/acknowledge/"' not in page and f'{ours.pk}/resolve/"' in page

    client.post(f"{CHANGELIST}{ours.pk}/resolve/", {"next": "https://evil.example.com/"})
    ours.refresh_from_db()
    assert ours.state == Alert.State.RESOLVED
    assert 'id="alert-buttons"' not in client.get(change_url).content.decode()


def test_another_teams_alert_cannot_be_acknowledged_with_a_crafted_post(client, two_teams):
    lead_user, _, ours, theirs = two_teams
    client.force_login(lead_user)

    for transition in ("acknowledge", "resolve"):
        assert client.post(f"{CHANGELIST}{theirs.pk}/{transition}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == Alert.State.OPEN and not theirs.events.filter(action="acknowledged").exists()


def test_the_buttons_answer_only_a_post_with_the_csrf_token(two_teams):
    from django.test import Client

    lead_user, _, ours, _ = two_teams
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(lead_user)

    assert browser.get(f"{CHANGELIST}{ours.pk}/acknowledge/").status_code == 405
    assert browser.post(f"{CHANGELIST}{ours.pk}/acknowledge/").status_code == 403
    ours.refresh_from_db()
    assert ours.state == Alert.State.OPEN


def test_a_user_who_is_not_staff_is_sent_to_log_in(client, two_teams):
    _, _, ours, _ = two_teams
    response = client.post(f"{CHANGELIST}{ours.pk}/acknowledge/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    ours.refresh_from_db()
    assert ours.state == Alert.State.OPEN
