"""The admin as a lead uses it: only their teams, 404 elsewhere, no picking another team's members."""

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from teams import services
from teams.models import Member, Override, Role, Shift, SupportNumber, Team, TeamMembership
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
            "start": "2026-12-01T08:00",
            "end": "2026-12-01T12:00",
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
            "start": "2026-12-01T08:00",
            "end": "2026-12-01T12:00",
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
            "start": "2026-12-01T08:00",
            "end": "2026-12-01T12:00",
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
        "start": "2026-12-01T08:00",
        "end": "2026-12-01T12:00",
    }
    assert client.post(reverse("admin:teams_override_add"), data).status_code == 302
    data["member"] = members_a[2].pk
    data["start"] = "2026-12-01T11:00"
    data["end"] = "2026-12-01T15:00"
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
    assert "Gap: nobody on call" in page


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
            "start": shift.start.astimezone(team_a.tz).strftime("%Y-%m-%dT%H:%M"),
            "end": shift.end.astimezone(team_a.tz).strftime("%Y-%m-%dT%H:%M"),
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


# --- Local time: typed and read in the team's zone ----------------------------------------------------------


@pytest.fixture
def sao_paulo(client):
    lead = UserFactory(username="lead-sp")
    team, members = team_with_members(2, lead_user=lead, name="Suporte", slug="suporte", timezone="America/Sao_Paulo")
    client.force_login(lead)
    return team, members


def _override_form(team, member, start, end):
    return {"team": team.pk, "role": "primary", "member": member.pk, "start": start, "end": end, "reason": "x"}


@time_machine.travel(NOW, tick=False)
def test_an_override_typed_in_the_admin_starts_at_the_typed_wall_time_in_the_team_zone(client, sao_paulo):
    team, (ana, bruno) = sao_paulo
    add = client.get(reverse("admin:teams_override_add")).content.decode()
    assert "In America/Sao_Paulo" in add and 'type="datetime-local"' in add
    assert "server time" not in add
    response = client.post(
        reverse("admin:teams_override_add"), _override_form(team, ana, "2026-12-11T09:00", "2026-12-11T18:00")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    override = Override.objects.get()
    assert override.start == dt.datetime(2026, 12, 11, 12, tzinfo=dt.UTC)  # 09:00 at UTC-3
    assert override.end == dt.datetime(2026, 12, 11, 21, tzinfo=dt.UTC)
    listing = client.get(reverse("admin:teams_override_changelist")).content.decode()
    assert "Fri 11 Dec 2026 09:00 -03 (America/Sao_Paulo)" in listing
    change = client.get(reverse("admin:teams_override_change", args=[override.pk])).content.decode()
    assert 'value="2026-12-11T09:00"' in change and 'value="2026-12-11T18:00"' in change


@time_machine.travel(NOW, tick=False)
def test_a_prefilled_override_form_shows_the_local_times_it_was_given(client, sao_paulo):
    team, _ = sao_paulo
    url = reverse("admin:teams_override_add") + f"?team={team.pk}&role=secondary&start=2026-12-10T09:00"
    page = client.get(url).content.decode()
    assert 'value="2026-12-10T09:00"' in page and "In America/Sao_Paulo" in page


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("typed", "saved_utc", "said"),
    [
        ("2027-03-28T02:30", dt.datetime(2027, 3, 28, 1, tzinfo=dt.UTC), "does not exist in Europe/Berlin"),
        ("2027-10-31T02:30", dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC), "happens twice in Europe/Berlin"),
    ],
)
def test_a_skipped_or_repeated_wall_time_follows_the_rota_rule_and_says_what_it_became(
    client, two_teams, typed, saved_utc, said
):
    lead_a, team_a, members_a, *_ = two_teams
    client.force_login(lead_a)
    end = typed[:11] + "12:00"
    response = client.post(
        reverse("admin:teams_override_add"), _override_form(team_a, members_a[1], typed, end), follow=True
    )
    assert response.status_code == 200
    assert Override.objects.get().start == saved_utc
    page = response.content.decode()
    assert said in page


@time_machine.travel(NOW, tick=False)
def test_a_bad_date_time_names_the_field_and_saves_nothing(client, sao_paulo):
    team, (ana, _) = sao_paulo
    response = client.post(reverse("admin:teams_override_add"), _override_form(team, ana, "tomorrow 9", "x"))
    assert response.status_code == 200
    assert "Enter a date and time such as" in response.content.decode()
    assert not Override.objects.exists()


def test_logs_read_in_the_team_zone_and_the_day_filter_cuts_at_local_midnight(client, sao_paulo):
    from telephony.models import Call

    team, _ = sao_paulo
    now = dt.datetime(2026, 12, 2, 15, tzinfo=dt.UTC)  # 12:00 in São Paulo
    with time_machine.travel(now, tick=False):
        late = Call.objects.create(call_sid="CA" + "1" * 32, team=team, from_number="+5511999990001")
        today = Call.objects.create(call_sid="CA" + "2" * 32, team=team, from_number="+5511999990002")
        # 02:00 UTC on 2 Dec is still 1 Dec, 23:00 in São Paulo; 04:00 UTC is 01:00 on 2 Dec there.
        Call.objects.filter(pk=late.pk).update(started_at=dt.datetime(2026, 12, 2, 2, tzinfo=dt.UTC))
        Call.objects.filter(pk=today.pk).update(started_at=dt.datetime(2026, 12, 2, 4, tzinfo=dt.UTC))
        url = reverse("admin:telephony_call_changelist")
        listing = client.get(url).content.decode()
        assert "Tue 1 Dec 2026 23:00 -03 (America/Sao_Paulo)" in listing
        filtered = client.get(url + "?started_at_day=today").content.decode()
        assert "+5511999990002" in filtered and "+5511999990001" not in filtered
        page = client.get(reverse("admin:telephony_call_change", args=[late.pk])).content.decode()
        assert "Times on this page are in America/Sao_Paulo" in page
        assert "11 p.m." in page or "23:00" in page


# --- Rotation changes: previewed, then announced ------------------------------------------------------------


class _FormFields(HTMLParser):
    """The fields a browser would submit from the page's forms (inputs, checked boxes, selected options)."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.append((name, attrs.get("value") or ""))
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields.append((self._select, attrs.get("value") or ""))
        elif tag == "textarea" and name:
            self.fields.append((name, ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def _submitted(page: str) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(page)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


@time_machine.travel(dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC), tick=False)
def test_a_rotation_edit_is_previewed_then_saved_and_everyone_it_moves_gets_one_sms(
    client, django_capture_on_commit_callbacks
):
    from telephony.models import OutboundMessage

    now = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)
    lead = UserFactory(username="lead-rot")
    team, (ana, bruno, carla) = team_with_members(3, lead_user=lead, name="Web", timezone="Europe/Berlin")
    for member, name in ((ana, "Ana"), (bruno, "Bruno"), (carla, "Carla")):
        Member.objects.filter(pk=member.pk).update(name=name)
    primary = services.rotation_create(
        team=team, name="Web primary", role=Role.PRIMARY, member_ids=[ana.pk, bruno.pk],
        start_local=dt.datetime(2026, 11, 30, 9), shift_length=dt.timedelta(days=7), now=now,
    )  # fmt: skip
    services.rotation_create(
        team=team, name="Web secondary", role=Role.SECONDARY, member_ids=[carla.pk],
        start_local=dt.datetime(2026, 11, 30, 9), shift_length=dt.timedelta(days=7), now=now,
    )  # fmt: skip
    shifts_before = list(Shift.objects.filter(team=team).values_list("start", "end", "member_id", "role"))
    client.force_login(lead)
    change_url = reverse("admin:teams_rotation_change", args=[primary.pk])
    page = client.get(change_url).content.decode()
    assert 'id="rotation-preview"' in page
    form = _submitted(page)
    # The lead puts Carla into the primary rotation after Ana: Ana, Carla, Bruno.
    positions = {form[f"participants-{i}-member"][0]: i for i in range(2)}
    form[f"participants-{positions[str(bruno.pk)]}-position"] = ["3"]
    form["participants-2-position"], form["participants-2-member"] = ["2"], [str(carla.pk)]
    form["participants-TOTAL_FORMS"] = ["3"]

    preview = client.post(reverse("admin:teams_rotation_preview", args=[primary.pk]), form)
    assert preview.status_code == 200
    text = preview.content.decode()
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", text)
    assert rows[0] == (
        "Mon 7 Dec 2026 09:00 CET (Europe/Berlin)", "Mon 14 Dec 2026 09:00 CET (Europe/Berlin)", "Bruno", "Carla",
    )  # fmt: skip
    assert (
        "Mon 14 Dec 2026 09:00 CET (Europe/Berlin)",
        "Mon 21 Dec 2026 09:00 CET (Europe/Berlin)",
        "Ana",
        "Bruno",
    ) in rows
    assert "Carla would be primary and secondary at once from Mon 7 Dec 2026 09:00" in text.replace("&#x27;", "'")
    # Nothing is saved by a preview: same people, same shifts, no message.
    assert list(primary.participants.order_by("position").values_list("member_id", flat=True)) == [ana.pk, bruno.pk]
    assert list(Shift.objects.filter(team=team).values_list("start", "end", "member_id", "role")) == shifts_before
    assert not OutboundMessage.objects.filter(kind="rota_change").exists()

    # "Save these changes" posts what the preview carried.
    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(change_url, _submitted(text.split('id="rotation-preview-result"')[1]))
    assert saved.status_code == 302
    assert list(primary.participants.order_by("position").values_list("member_id", flat=True)) == [
        ana.pk, carla.pk, bruno.pk,
    ]  # fmt: skip
    notices = OutboundMessage.objects.filter(kind="rota_change")
    assert sorted(notices.values_list("member__name", flat=True)) == sorted(["Ana", "Bruno", "Carla"])
    carla_sms = notices.get(member=carla).body
    assert "The primary rota changed" in carla_sms and "You are now on call Mon 7 Dec 09:00" in carla_sms
    assert "Europe/Berlin" in carla_sms
    # Saving the same form again moves nobody and sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(change_url, _submitted(client.get(change_url).content.decode()))
    assert OutboundMessage.objects.filter(kind="rota_change").count() == 3


def test_a_support_number_added_and_edited_in_the_admin_is_validated_like_the_api(client, two_teams):
    lead_a, team_a, *_ = two_teams
    client.force_login(lead_a)
    add = reverse("admin:teams_supportnumber_add")
    bad = client.post(add, {"team": team_a.pk, "phone_number": "12345", "sms_enabled": "on"})
    assert bad.status_code == 200 and not SupportNumber.objects.filter(team=team_a, phone_number="12345").exists()
    good = client.post(add, {"team": team_a.pk, "phone_number": "+493099998888", "sms_enabled": "on"})
    assert good.status_code == 302
    number = SupportNumber.objects.get(phone_number="+493099998888")
    change = reverse("admin:teams_supportnumber_change", args=[number.pk])
    assert client.post(change, {"team": team_a.pk, "phone_number": "+493099998888"}).status_code == 302
    number.refresh_from_db()
    assert number.team == team_a and number.sms_enabled is False
