"""A team lead's afternoon in the admin, logged in through /admin/login/ like a browser (CSRF enforced).

Europe/Berlin across the spring change of 2027-03-28: the team page must show hand-offs at 09:00 local on
both sides of it. Also the regressions found by the review: the API-token add page answered 500 to every
lead, the team filters listed every team's name, the "Set webhooks on Twilio" action answered 500 when
Twilio could not be reached, and the shift/override time inputs did not say which time zone they are in.
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from teams import services
from teams.models import ApiToken, Member, Override, Role, Rotation, Shift, TeamMembership
from telephony.backends import locmem_outbox
from telephony.models import OutboundMessage
from tests.factories import SupportNumberFactory, UserFactory, team_with_members

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2027, 3, 24, 12, tzinfo=dt.UTC)  # Wednesday; Berlin springs forward on Sunday the 28th
PASSWORD = "correct horse battery staple"  # the UserFactory password


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def platform():
    lead = UserFactory(username="lena")
    team, (lena, ana, bruno) = team_with_members(3, lead_user=lead, name="Platform", slug="platform")
    Member.objects.filter(pk=ana.pk).update(name="Ana")
    Member.objects.filter(pk=bruno.pk).update(name="Bruno")
    other_lead = UserFactory(username="olaf")
    other, (olaf, stranger, _) = team_with_members(3, lead_user=other_lead, name="Other Desk", slug="other")
    Member.objects.filter(pk=stranger.pk).update(name="Stranger Sam")
    return {"lead": lead, "team": team, "ana": ana, "bruno": bruno, "other": other, "stranger": stranger}


class Browser:
    """The test client with CSRF checks on: every POST carries the token a form would."""

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)

    def get(self, url, **kwargs):
        response = self.client.get(url, **kwargs)
        assert response.status_code < 500, url
        return response

    def post(self, url, data, **kwargs):
        data = {**data, "csrfmiddlewaretoken": self.client.cookies["csrftoken"].value}
        response = self.client.post(url, data, **kwargs)
        assert response.status_code < 500, url
        return response

    def login(self, username, password):
        self.get(reverse("admin:login"))
        response = self.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"})
        assert response.status_code == 302 and response.url == "/admin/", response.content.decode()[:500]


@pytest.fixture
def browser(platform):
    browser = Browser()
    browser.login("lena", PASSWORD)
    return browser


def _formset(prefix, rows, initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


def _typed(wall: str, name: str) -> dict:
    """What a lead types into a date-time input: the wall-clock time in the team's zone."""
    return {name: wall}


def _rota_rows(page: str) -> list[tuple[str, str, str]]:
    """(from, to, who) rows of the primary table below the team page's timeline."""
    block = page[page.index('id="timeline-table"') :]
    block = block[: block.index('data-role="secondary"')]
    cells = re.findall(r"<tr[^>]*>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td[^>]*>(.*?)</td>", block, re.S)
    return [tuple(cell.strip() for cell in row) for row in cells]


def test_a_leads_afternoon(browser, platform, django_capture_on_commit_callbacks):
    team, ana, bruno = platform["team"], platform["ana"], platform["bruno"]

    # Add a member to the team (the membership inline of the member form).
    response = browser.post(
        reverse("admin:teams_member_add"),
        {
            "name": "Carla",
            "phone": "+4915199990003",
            "email": "carla@example.com",
            "timezone": "",
            **_formset("memberships", [{"team": team.pk, "role": "member"}]),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    carla = Member.objects.get(name="Carla")
    assert TeamMembership.objects.filter(team=team, member=carla).exists()

    # The rotation form offers only this team's people, never another team's.
    add_page = browser.get(reverse("admin:teams_rotation_add")).content.decode()
    assert "Carla" in add_page and "Stranger Sam" not in add_page and "Other Desk" not in add_page

    # A daily primary rotation, hand-off 09:00 Berlin, participants in order Ana, Bruno, Carla.
    response = browser.post(
        reverse("admin:teams_rotation_add"),
        {
            "team": team.pk,
            "name": "Platform primary",
            "role": Role.PRIMARY,
            "start_date": "2027-03-22",
            "start_time": "09:00:00",
            "shift_length": "P1D",
            **_formset(
                "participants",
                [
                    {"position": "1", "member": ana.pk},
                    {"position": "2", "member": bruno.pk},
                    {"position": "3", "member": carla.pk},
                ],
            ),
        },
        follow=True,
    )
    assert "Future shifts regenerated" in response.content.decode()
    rotation = Rotation.objects.get(team=team, role=Role.PRIMARY)
    # Counted from Monday the 22nd (Ana), generated from the shift running now (Wednesday, Carla).
    shifts = list(Shift.objects.filter(rotation=rotation)[:6])
    assert [s.member.name for s in shifts] == ["Carla", "Ana", "Bruno", "Carla", "Ana", "Bruno"]
    assert shifts[0].start == dt.datetime(2027, 3, 24, 8, tzinfo=dt.UTC)
    assert shifts[3].start == dt.datetime(2027, 3, 27, 8, tzinfo=dt.UTC)  # 09:00 CET, before the change
    assert shifts[4].start == dt.datetime(2027, 3, 28, 7, tzinfo=dt.UTC)  # 09:00 CEST, after it

    # Edit Thursday's shift: Carla instead of Ana. The form shows and takes Berlin time, and says so.
    thursday = shifts[1]
    edit_url = reverse("admin:teams_shift_change", args=[thursday.pk])
    page = browser.get(edit_url).content.decode()
    assert 'value="2027-03-25T09:00"' in page  # 09:00 Berlin, as the lead plans it
    assert "In Europe/Berlin" in page  # the page says which zone the inputs are in
    assert "server time" not in page
    response = browser.post(
        edit_url,
        {
            "team": team.pk,
            "role": Role.PRIMARY,
            "member": carla.pk,
            **_typed("2027-03-25T09:00", "start"),
            **_typed("2027-03-26T09:00", "end"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    thursday.refresh_from_db()
    assert thursday.member == carla and thursday.is_edited

    # Ana covers Bruno on Friday: 09:00 to 09:00 Berlin, typed as Berlin wall-clock times.
    friday = shifts[2]
    assert friday.member == bruno
    response = browser.post(
        reverse("admin:teams_override_add"),
        {
            "team": team.pk,
            "role": Role.PRIMARY,
            "member": ana.pk,
            "reason": "Ana covers Bruno on Friday",
            **_typed("2027-03-26T09:00", "start"),
            **_typed("2027-03-27T09:00", "end"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    override = Override.objects.get()
    assert override.created_by == platform["lead"]
    assert (override.start, override.end) == (friday.start, friday.end)

    # The team page: who is on call now, and the next four weeks in Berlin time, across the change.
    page = browser.get(reverse("admin:teams_team_change", args=[team.pk])).content.decode()
    assert "Europe/Berlin" in page
    assert "Primary: Carla" in page and "until Thu 25 Mar 2027 09:00" in page
    rows = _rota_rows(page)
    cet, cest = "CET (Europe/Berlin)", "CEST (Europe/Berlin)"
    assert (f"Wed 24 Mar 2027 09:00 {cet}", f"Fri 26 Mar 2027 09:00 {cet}", "Carla") in rows  # now, then Thursday
    assert (f"Fri 26 Mar 2027 09:00 {cet}", f"Sat 27 Mar 2027 09:00 {cet}", "Ana (override)") in rows
    assert (f"Sat 27 Mar 2027 09:00 {cet}", f"Sun 28 Mar 2027 09:00 {cest}", "Carla") in rows
    assert (f"Sun 28 Mar 2027 09:00 {cest}", f"Mon 29 Mar 2027 09:00 {cest}", "Ana") in rows
    assert not any(who == "Bruno" and start.startswith("Fri 26") for start, _, who in rows)
    later = rows[rows.index((f"Wed 24 Mar 2027 09:00 {cet}", f"Fri 26 Mar 2027 09:00 {cet}", "Carla")) + 1 :]
    # Every hand-off at 09:00 local.
    assert later and all(re.match(r"\w{3} \d{1,2} \w{3} \d{4} 09:00 ", start) for start, *_ in later)

    # Regenerate the team's calendar token: the old feed link stops working, the new one works.
    old_token = team.calendar_token
    browser.post(
        reverse("admin:teams_team_changelist"),
        {"action": "regenerate_calendar_token", "_selected_action": [team.pk], "index": "0"},
    )
    team.refresh_from_db()
    assert team.calendar_token != old_token
    assert browser.get(f"/calendar/teams/{team.slug}.ics?token={old_token}").status_code == 404
    assert browser.get(f"/calendar/teams/{team.slug}.ics?token={team.calendar_token}").status_code == 200

    # Send a test SMS to Bruno.
    locmem_outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the delivery task is queued on commit
        response = browser.post(
            reverse("admin:teams_member_changelist"),
            {"action": "send_test_sms", "_selected_action": [bruno.pk], "index": "0"},
            follow=True,
        )
    assert "Test SMS queued for Bruno" in response.content.decode()
    message = OutboundMessage.objects.get(kind=OutboundMessage.Kind.TEST)
    assert message.to == bruno.phone and message.team == team
    assert [sent["to"] for sent in locmem_outbox] == [bruno.phone]


def test_a_lead_creates_and_revokes_an_api_token(browser, platform, client):
    # The add page answered 500 to every lead (the user choices were built from the lazy request.user).
    page = browser.get(reverse("admin:teams_apitoken_add"))
    assert page.status_code == 200
    assert "olaf" not in page.content.decode()  # only themselves to pick as the token's user
    response = browser.post(
        reverse("admin:teams_apitoken_add"),
        {"name": "laptop", "scope": "full", "user": platform["lead"].pk},
        follow=True,
    )
    key = re.search(r"copy it\): (\S+?)<", response.content.decode()).group(1)
    token = ApiToken.objects.get(name="laptop")
    assert token.user == platform["lead"]
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get("/api/v1/teams/", **headers).status_code == 200

    response = browser.post(
        reverse("admin:teams_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk], "index": "0"},
        follow=True,
    )
    assert "Revoked 1 token(s)." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/teams/", **headers).status_code == 401


def test_team_filters_offer_only_the_leads_teams(browser, platform):
    second, _ = team_with_members(1, name="Second Desk", slug="second")
    TeamMembership.objects.create(team=second, member=platform["lead"].member, role="lead")
    for model in ("member", "shift", "override", "rotation", "supportnumber"):
        page = browser.get(reverse(f"admin:teams_{model}_changelist")).content.decode()
        assert "Other Desk" not in page, model
    for model in ("call", "voicemail", "alert", "outboundmessage"):
        page = browser.get(reverse(f"admin:telephony_{model}_changelist")).content.decode()
        assert "Other Desk" not in page, model
    page = browser.get(reverse("admin:teams_shift_changelist")).content.decode()
    assert f"team__id__exact={second.pk}" in page and "Second Desk" in page  # the lead's own teams are offered


def test_setting_webhooks_with_twilio_unreachable_is_a_message_not_a_500(platform, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 2
    number = SupportNumberFactory(team=platform["team"])
    superuser = UserFactory(username="root", is_superuser=True)
    browser = Browser()
    browser.login(superuser.username, PASSWORD)
    response = browser.post(
        reverse("admin:teams_supportnumber_changelist"),
        {"action": "sync_numbers_action", "_selected_action": [number.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Could not list the account&#x27;s numbers" in response.content.decode()


def _rotation(platform):
    team, ana, bruno = platform["team"], platform["ana"], platform["bruno"]
    return services.rotation_create(
        team=team,
        name="Platform primary",
        role=Role.PRIMARY,
        member_ids=[ana.pk, bruno.pk],
        start_local=dt.datetime(2027, 3, 22, 9),
        shift_length=dt.timedelta(days=1),
    )


def test_swapping_two_people_in_a_rotation_reorders_it(browser, platform):
    # Saved row by row, the swap hit the (rotation, position) unique constraint: a 500.
    rotation = _rotation(platform)
    first, second = rotation.participants.all()
    response = browser.post(
        reverse("admin:teams_rotation_change", args=[rotation.pk]),
        {
            "team": platform["team"].pk,
            "name": rotation.name,
            "role": rotation.role,
            "start_date": "2027-03-22",
            "start_time": "09:00:00",
            "shift_length": "P1D",
            **_formset(
                "participants",
                [
                    {"id": first.pk, "rotation": rotation.pk, "position": second.position, "member": first.member_id},
                    {"id": second.pk, "rotation": rotation.pk, "position": first.position, "member": second.member_id},
                ],
                initial=2,
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert [p.member.name for p in rotation.participants.all()] == ["Bruno", "Ana"]
    thursday = Shift.objects.get(rotation=rotation, start=dt.datetime(2027, 3, 25, 8, tzinfo=dt.UTC))
    assert thursday.member.name == "Ana"  # n = 3 from Monday: Bruno, Ana, Bruno, Ana


def test_deleting_a_rotation_in_the_admin_takes_its_future_shifts_with_it(browser, platform):
    rotation = _rotation(platform)
    assert Shift.objects.filter(team=platform["team"], start__gt=NOW).exists()
    response = browser.post(reverse("admin:teams_rotation_delete", args=[rotation.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Rotation.objects.exists()
    assert not Shift.objects.filter(team=platform["team"], start__gt=NOW).exists()  # nobody left on call by it
    assert Shift.objects.filter(team=platform["team"], start__lte=NOW).exists()  # history stays


def test_a_lead_cannot_take_someone_still_on_call_out_of_the_team(platform):
    team, bruno = platform["team"], platform["bruno"]
    lead_user = platform["lead"]
    _rotation(platform)
    membership = TeamMembership.objects.get(team=team, member=bruno)
    browser = Browser()
    browser.login(lead_user.username, PASSWORD)
    page = browser.get(reverse("admin:teams_member_change", args=[bruno.pk]))
    assert page.status_code == 200
    data = {
        "name": bruno.name,
        "phone": bruno.phone,
        "email": "",
        "timezone": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": membership.pk,
        "memberships-0-member": bruno.pk,
        "memberships-0-team": team.pk,
        "memberships-0-role": "member",
        "memberships-0-DELETE": "on",
    }
    response = browser.post(reverse("admin:teams_member_change", args=[bruno.pk]), data)
    assert "rotations: take them out of it first" in response.content.decode()
    assert TeamMembership.objects.filter(pk=membership.pk).exists()


def test_changing_the_team_time_zone_in_the_admin_moves_future_hand_offs(platform):
    team = platform["team"]
    _rotation(platform)
    superuser = UserFactory(username="tz-root", is_superuser=True)
    browser = Browser()
    browser.login(superuser.username, PASSWORD)
    page = browser.get(reverse("admin:teams_team_change", args=[team.pk]))
    assert page.status_code == 200
    form = {
        "slug": team.slug,
        "name": team.name,
        "timezone": "America/New_York",
        "ring_timeout": team.ring_timeout,
        "greeting": team.greeting,
        "fallback_phone": "",
        "reminder_lead_minutes": 1440,
        "ack_timeout_minutes": 5,
        "alert_pages_per_hour": 20,
        "allowed_callers": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "numbers-TOTAL_FORMS": "0",
        "numbers-INITIAL_FORMS": "0",
        "numbers-MIN_NUM_FORMS": "0",
        "numbers-MAX_NUM_FORMS": "1000",
    }
    response = browser.post(reverse("admin:teams_team_change", args=[team.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    future = Shift.objects.filter(team=team, start__gt=timezone.now() + dt.timedelta(days=2))
    assert future.exists()
    assert {s.start.astimezone(ZoneInfo("America/New_York")).hour for s in future} == {9}
