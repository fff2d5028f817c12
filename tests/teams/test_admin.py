"""The admin as a lead uses it: only their teams, 404 elsewhere, no picking another team's members."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from teams import services
from teams.models import Member, Override, Role, Shift, Team, TeamMembership
from tests.factories import SupportNumberFactory, UserFactory, team_with_members

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


@pytest.fixture
def two_teams():
    lead_a = UserFactory(username="lead-a")
    lead_b = UserFactory(username="lead-b")
    team_a, members_a = team_with_members(3, lead_user=lead_a, name="Alpha", slug="alpha", timezone="Europe/Berlin")
    team_b, members_b = team_with_members(3, lead_user=lead_b, name="Beta", slug="beta")
    for team, members in ((team_a, members_a), (team_b, members_b)):
        services.rotation_create(
            team=team,
            name="P",
            role=Role.PRIMARY,
            member_ids=[m.pk for m in members],
            start_local=dt.datetime(2026, 11, 23, 9),
            shift_length=dt.timedelta(days=7),
            now=NOW,
        )
        SupportNumberFactory(team=team)
    return lead_a, team_a, members_a, team_b, members_b


def test_lead_lists_only_their_teams_objects(client, two_teams):
    lead_a, team_a, members_a, team_b, members_b = two_teams
    client.force_login(lead_a)
    for model in ("team", "member", "shift", "rotation", "supportnumber", "override"):
        response = client.get(reverse(f"admin:teams_{model}_changelist"))
        assert response.status_code == 200, model
    teams_page = client.get(reverse("admin:teams_team_changelist")).content.decode()
    assert "Alpha" in teams_page and "Beta" not in teams_page
    members_page = client.get(reverse("admin:teams_member_changelist")).content.decode()
    assert members_a[1].name in members_page and members_b[1].name not in members_page


@pytest.mark.parametrize("model", ["team", "member", "shift", "rotation", "supportnumber"])
def test_another_teams_object_is_a_404(client, two_teams, model):
    lead_a, team_a, members_a, team_b, members_b = two_teams
    objects = {
        "team": team_b,
        "member": members_b[1],
        "shift": Shift.objects.filter(team=team_b).first(),
        "rotation": team_b.rotations.first(),
        "supportnumber": team_b.numbers.first(),
    }
    client.force_login(lead_a)
    target = objects[model]
    assert client.get(reverse(f"admin:teams_{model}_change", args=[target.pk])).status_code == 404
    assert client.post(reverse(f"admin:teams_{model}_delete", args=[target.pk]), {"post": "yes"}).status_code == 404
    assert type(target).objects.filter(pk=target.pk).exists()


def test_lead_cannot_assign_another_teams_member(client, two_teams):
    lead_a, team_a, members_a, team_b, members_b = two_teams
    client.force_login(lead_a)
    response = client.post(
        reverse("admin:teams_override_add"),
        {
            "team": team_a.pk,
            "role": "primary",
            "member": members_b[1].pk,
            "start_0": "2026-12-01",
            "start_1": "08:00:00",
            "end_0": "2026-12-01",
            "end_1": "12:00:00",
        },
    )
    assert response.status_code == 200  # the form again, with an error
    assert "Select a valid choice" in response.content.decode()
    assert not Override.objects.exists()
    # Nor put an override into another team.
    response = client.post(
        reverse("admin:teams_override_add"),
        {
            "team": team_b.pk,
            "role": "primary",
            "member": members_a[1].pk,
            "start_0": "2026-12-01",
            "start_1": "08:00:00",
            "end_0": "2026-12-01",
            "end_1": "12:00:00",
        },
    )
    assert not Override.objects.exists()
    # Their own member works, and records who made it.
    response = client.post(
        reverse("admin:teams_override_add"),
        {
            "team": team_a.pk,
            "role": "primary",
            "member": members_a[1].pk,
            "reason": "Dentist",
            "start_0": "2026-12-01",
            "start_1": "08:00:00",
            "end_0": "2026-12-01",
            "end_1": "12:00:00",
        },
    )
    assert response.status_code == 302
    override = Override.objects.get()
    assert override.created_by == lead_a and override.member == members_a[1]


def test_overlapping_override_in_admin_shows_an_error_and_saves_nothing(client, two_teams):
    lead_a, team_a, members_a, *_ = two_teams
    client.force_login(lead_a)
    data = {
        "team": team_a.pk,
        "role": "primary",
        "member": members_a[1].pk,
        "start_0": "2026-12-01",
        "start_1": "08:00:00",
        "end_0": "2026-12-01",
        "end_1": "12:00:00",
    }
    assert client.post(reverse("admin:teams_override_add"), data).status_code == 302
    data["member"] = members_a[2].pk
    data["start_1"] = "11:00:00"
    data["end_1"] = "15:00:00"
    response = client.post(reverse("admin:teams_override_add"), data)
    assert "overlaps" in response.content.decode()
    assert Override.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_team_page_shows_who_is_on_call_in_local_time(client, two_teams):
    lead_a, team_a, members_a, *_ = two_teams
    client.force_login(lead_a)
    page = client.get(reverse("admin:teams_team_change", args=[team_a.pk])).content.decode()
    current = Shift.objects.get(team=team_a, start__lte=NOW, end__gt=NOW)
    assert f"Primary: {current.member.name}" in page
    assert "until Mon 30 Nov 2026 09:00" in page  # 09:00 Berlin, not 08:00 UTC
    assert "Secondary: nobody on call" in page
    assert "GAP: nobody" in page


def test_team_and_member_pages_show_the_full_feed_url_as_a_link_with_a_copy_button(client, two_teams):
    lead_a, team_a, members_a, *_ = two_teams
    client.force_login(lead_a)
    pages = {
        f"https://roulette.example.com/calendar/teams/alpha.ics?token={team_a.calendar_token}": reverse(
            "admin:teams_team_change", args=[team_a.pk]
        ),
        f"https://roulette.example.com/calendar/members/{members_a[0].pk}.ics?token={members_a[0].calendar_token}": (
            reverse("admin:teams_member_change", args=[members_a[0].pk])
        ),
    }
    for url, page in pages.items():
        html = client.get(page).content.decode()
        assert f'<a href="{url}" class="calendar-feed">{url}</a>' in html
        assert f'data-url="{url}"' in html and ">Copy</button>" in html


def test_lead_edits_a_shift_member_and_it_is_kept_on_regeneration(client, two_teams):
    lead_a, team_a, members_a, *_ = two_teams
    client.force_login(lead_a)
    shift = Shift.objects.filter(team=team_a, start__gt=NOW).order_by("start").first()
    other = next(m for m in members_a if m != shift.member)
    response = client.post(
        reverse("admin:teams_shift_change", args=[shift.pk]),
        {
            "team": team_a.pk,
            "role": "primary",
            "member": other.pk,
            "start_0": shift.start.strftime("%Y-%m-%d"),
            "start_1": shift.start.strftime("%H:%M:%S"),
            "end_0": shift.end.strftime("%Y-%m-%d"),
            "end_1": shift.end.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shift.refresh_from_db()
    assert shift.member == other and shift.is_edited
    services.shifts_generate(rotations=[team_a.rotations.get()], now=NOW)
    shift.refresh_from_db()
    assert shift.member == other


@time_machine.travel(NOW, tick=False)
def test_generate_shifts_action(client, two_teams):
    lead_a, team_a, *_ = two_teams
    Shift.objects.filter(team=team_a, start__gt=NOW + dt.timedelta(days=30)).delete()
    client.force_login(lead_a)
    response = client.post(
        reverse("admin:teams_team_changelist"),
        {"action": "generate_shifts_now", "_selected_action": [team_a.pk]},
        follow=True,
    )
    assert "Shifts generated" in response.content.decode()
    assert Shift.objects.filter(team=team_a, start__gt=NOW + dt.timedelta(days=60)).exists()


def _rotation_form(rotation, shift_length: str) -> dict:
    participants = list(rotation.participants.all())
    data = {
        "team": rotation.team_id,
        "name": rotation.name,
        "role": rotation.role,
        "start_date": rotation.start_date.isoformat(),
        "start_time": rotation.start_time.isoformat(),
        "shift_length": shift_length,
        "participants-TOTAL_FORMS": str(len(participants)),
        "participants-INITIAL_FORMS": str(len(participants)),
        "participants-MIN_NUM_FORMS": "0",
        "participants-MAX_NUM_FORMS": "1000",
    }
    for i, p in enumerate(participants):
        data.update(
            {
                f"participants-{i}-id": p.pk,
                f"participants-{i}-rotation": rotation.pk,
                f"participants-{i}-position": p.position,
                f"participants-{i}-member": p.member_id,
            }
        )
    return data


@time_machine.travel(NOW, tick=False)
def test_rotation_shift_length_reads_and_is_typed_in_iso_8601(client, two_teams):
    lead_a, team_a, *_ = two_teams
    rotation = team_a.rotations.get()
    client.force_login(lead_a)
    url = reverse("admin:teams_rotation_change", args=[rotation.pk])
    assert 'name="shift_length" value="P7D"' in client.get(url).content.decode()
    listing = client.get(reverse("admin:teams_rotation_changelist")).content.decode()
    assert "P7D" in listing and "7 days" not in listing

    response = client.post(url, _rotation_form(rotation, "P1DT12H"))
    assert response.status_code == 302, response.content.decode()[:2000]
    rotation.refresh_from_db()
    assert rotation.shift_length == dt.timedelta(days=1, hours=12)
    assert 'value="P1DT12H"' in client.get(url).content.decode()


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("7 00:00:00", "is not an ISO-8601 duration such as P7D"),
        ("P1M", "Months and years have no fixed length"),
        ("PT5M", "at least 15 minutes"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_a_shift_length_that_is_not_iso_8601_is_refused_with_a_reason(client, two_teams, typed, error):
    lead_a, team_a, *_ = two_teams
    rotation = team_a.rotations.get()
    client.force_login(lead_a)
    response = client.post(reverse("admin:teams_rotation_change", args=[rotation.pk]), _rotation_form(rotation, typed))
    assert response.status_code == 200
    assert error in response.content.decode()
    rotation.refresh_from_db()
    assert rotation.shift_length == dt.timedelta(days=7)


def test_a_lead_cannot_create_teams_but_a_superuser_can(client, two_teams):
    lead_a, *_ = two_teams
    client.force_login(lead_a)
    assert client.get(reverse("admin:teams_team_add")).status_code == 403
    admin = UserFactory(username="root", is_superuser=True)
    client.force_login(admin)
    assert client.get(reverse("admin:teams_team_add")).status_code == 200
    assert "Beta" in client.get(reverse("admin:teams_team_changelist")).content.decode()


def test_staff_without_teams_sees_nothing(client, two_teams):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("admin:teams_team_changelist")).status_code == 403


def test_member_added_by_a_lead_joins_their_team(client, two_teams):
    lead_a, team_a, *_ = two_teams
    client.force_login(lead_a)
    response = client.post(
        reverse("admin:teams_member_add"),
        {
            "name": "Nova",
            "phone": "+4915199990001",
            "email": "",
            "timezone": "",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-team": team_a.pk,
            "memberships-0-role": "member",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    nova = Member.objects.get(name="Nova")
    assert TeamMembership.objects.filter(team=team_a, member=nova).exists()
    bad = client.post(
        reverse("admin:teams_member_add"),
        {
            "name": "Bad",
            "phone": "12345",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert "E.164" in bad.content.decode() and not Member.objects.filter(name="Bad").exists()


def test_healthz(client, monkeypatch):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"

    def broken(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "down"


def test_team_list_in_admin_does_not_query_per_team(client, django_assert_max_num_queries):
    admin = UserFactory(username="root2", is_superuser=True)
    for _ in range(30):
        team_with_members(1)
    client.force_login(admin)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("admin:teams_team_changelist")).status_code == 200
    assert Team.objects.count() == 30
