"""Access is scoped: a lead of team A sees and changes nothing of team B, through any API endpoint or filter the
schema declares, in the admin, or by SMS from a member's phone."""

from __future__ import annotations

import secrets

import pytest
import time_machine
from django.contrib import admin
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from teams.models import Override, Rotation, Shift, TeamMembership
from tests.security.world import AUTH_TOKEN, NOW, World, api, assert_no_bravo, fill, row_counts, schema_operations
from tests.twilio_helpers import signature

# --- API: team A's lead sees nothing of team B, through any endpoint or filter ------------------------------


def bravo_values(world: World) -> list[str]:
    b = world.bravo
    ids = [b.team.pk, b.lead.pk, b.member.pk, b.number.pk, b.rotation.pk, b.shift.pk, b.override.pk]
    ids += [b.call.pk, b.voicemail.pk, b.message.pk, b.alert.pk]
    return ["bravo", b.member.phone, *sorted({str(i) for i in ids})]


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


# --- Admin: another team's objects are 404, lists and filters show only one's own teams ---------------------


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


# --- Inbound SMS: From identifies, it does not authorise ----------------------------------------------------


def post_sms(client, body: str, from_number: str, to_number: str):
    params = {"MessageSid": "SM" + secrets.token_hex(16), "From": from_number, "To": to_number, "Body": body}
    sig = signature("https://roulette.example.com/telephony/sms/incoming/", params, AUTH_TOKEN)
    return client.post("/telephony/sms/incoming/", params, HTTP_X_TWILIO_SIGNATURE=sig)


@pytest.mark.usefixtures("celery_eager")  # the ACK's notices to the people paged are a task
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
