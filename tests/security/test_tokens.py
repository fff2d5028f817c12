"""Tokens: alerts-only tokens do nothing else, revoked and inactive ones fail, calendar tokens are compared
in constant time."""

from __future__ import annotations

import secrets

import time_machine
from django.core.cache import cache

from teams import services
from teams.models import ApiToken, TeamMembership
from telephony.models import Alert
from tests.factories import MemberFactory, MembershipFactory, UserFactory
from tests.security.world import NOW, api, assert_no_bravo, fill, row_counts, schema_operations

# --- Tokens: alerts-only tokens do nothing else; revoked and inactive tokens fail ---------------------------


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


# --- Calendar tokens ----------------------------------------------------------------------------------------


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
