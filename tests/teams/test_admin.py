"""The admin as a lead uses it: only their teams, 404 elsewhere, no picking another team's members."""

import datetime as dt
import re
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from teams import services
from teams.models import ApiToken, Member, Override, Role, Rotation, Shift, SupportNumber, Team, TeamMembership, TimeOff
from telephony.backends import locmem_outbox
from telephony.models import Call, OutboundMessage
from tests.factories import SupportNumberFactory, UserFactory, rotation_of, team_with_members
from tests.teams.world import NO_INLINE_ROWS

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


@pytest.fixture
def two_teams():
    lead_a = UserFactory(username="lead-a")
    lead_b = UserFactory(username="lead-b")
    team_a, members_a = team_with_members(3, lead_user=lead_a, name="Alpha", slug="alpha", timezone="Europe/Berlin")
    team_b, members_b = team_with_members(3, lead_user=lead_b, name="Beta", slug="beta")
    for team, members in ((team_a, members_a), (team_b, members_b)):
        rotation_of(
            team,
            members,
            name="P",
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


def test_the_feed_of_a_person_also_in_a_team_the_lead_does_not_lead_is_theirs_to_keep(client, two_teams):
    lead_a, team_a, members_a, team_b, members_b = two_teams
    shared = members_b[1]
    TeamMembership.objects.create(team=team_a, member=shared, role=TeamMembership.Role.MEMBER)
    client.force_login(lead_a)
    html = client.get(reverse("admin:teams_member_change", args=[shared.pk])).content.decode()
    assert shared.calendar_token not in html
    assert "Shown to the member and to the leads of each of their teams." in html
    tokens = {member.pk: member.calendar_token for member in (members_a[1], shared)}
    response = client.post(
        reverse("admin:teams_member_changelist"),
        {"action": "regenerate_calendar_token", "_selected_action": list(tokens), "index": "0"},
        follow=True,
    )
    page = response.content.decode()
    assert "New calendar tokens for 1 member(s)." in page and "kept their token" in page
    assert Member.objects.get(pk=members_a[1].pk).calendar_token != tokens[members_a[1].pk]
    assert Member.objects.get(pk=shared.pk).calendar_token == tokens[shared.pk]
    # One's own feed stays one's own, whatever teams one is in.
    own = Member.objects.get(user=lead_a)
    TeamMembership.objects.create(team=team_b, member=own, role=TeamMembership.Role.MEMBER)
    html = client.get(reverse("admin:teams_member_change", args=[own.pk])).content.decode()
    assert own.calendar_token in html


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
        ("PT5M", "at least an hour"),
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
        self._textarea = None

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
            self._textarea = len(self.fields) - 1

    def handle_data(self, data):
        if self._textarea is not None:
            name, text = self.fields[self._textarea]
            self.fields[self._textarea] = (name, text + data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _submitted(page: str) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(page)
    data: dict[str, list[str]] = {}
    for name, value in parser.fields:
        data.setdefault(name, []).append(value)
    return data


@pytest.mark.usefixtures("celery_eager")
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


# --- A lead's afternoon, logged in like a browser, across Berlin's spring change ----------------------------
# Logged in through /admin/login/ like a browser (CSRF enforced), in Europe/Berlin across the spring change of
# 2027-03-28: the team page must show hand-offs at 09:00 local on both sides of it. Also regressions: the
# API-token add page answered 500 to every lead, the team filters listed every team's name, "Set webhooks on
# Twilio" answered 500 when Twilio could not be reached, and the time inputs did not name their zone.


SPRING_NOW = dt.datetime(2027, 3, 24, 12, tzinfo=dt.UTC)  # Wednesday; Berlin springs forward on Sunday the 28th


PASSWORD = "correct horse battery staple"  # the UserFactory password


@pytest.fixture
def spring_clock():
    """The clock at SPRING_NOW, the Wednesday before Berlin springs forward."""
    with time_machine.travel(SPRING_NOW, tick=False):
        yield


@pytest.fixture
def platform(spring_clock):
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


@pytest.mark.usefixtures("celery_eager")
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
    return rotation_of(
        team,
        [ana, bruno],
        name="Platform primary",
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
    assert Shift.objects.filter(team=platform["team"], start__gt=SPRING_NOW).exists()
    response = browser.post(reverse("admin:teams_rotation_delete", args=[rotation.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Rotation.objects.exists()
    assert not Shift.objects.filter(team=platform["team"], start__gt=SPRING_NOW).exists()  # nobody left on call by it
    assert Shift.objects.filter(team=platform["team"], start__lte=SPRING_NOW).exists()  # history stays


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


def _inline_row(data: dict, prefix: str, pk: int) -> str:
    """The prefix of the inline row showing the object `pk` in a submitted change form."""
    rows = (key.removesuffix("-id") for key, values in data.items() if values == [str(pk)] and key.endswith("-id"))
    return next(row for row in rows if row.startswith(prefix))


def test_moving_a_membership_to_another_team_is_refused_while_its_person_is_still_rung(client, platform):
    # The membership inline saves through the services: moving a row off its team is a removal from it.
    team, other, bruno = platform["team"], platform["other"], platform["bruno"]
    _rotation(platform)
    membership = TeamMembership.objects.get(team=team, member=bruno)
    client.force_login(UserFactory(username="root", is_superuser=True))
    change = reverse("admin:teams_member_change", args=[bruno.pk])
    data = _submitted(client.get(change).content.decode())
    data[f"{_inline_row(data, 'memberships-', membership.pk)}-team"] = [str(other.pk)]
    response = client.post(change, data)
    assert response.status_code == 200
    assert "rotations: take them out of it first" in response.content.decode()
    membership.refresh_from_db()
    assert membership.team == team


def test_a_membership_moved_or_taken_out_in_the_admin_keeps_its_row_and_its_person(client, platform):
    team, other, ana, bruno = platform["team"], platform["other"], platform["ana"], platform["bruno"]
    client.force_login(UserFactory(username="root", is_superuser=True))
    membership = TeamMembership.objects.get(team=team, member=bruno)
    change = reverse("admin:teams_member_change", args=[bruno.pk])
    data = _submitted(client.get(change).content.decode())
    data[f"{_inline_row(data, 'memberships-', membership.pk)}-team"] = [str(other.pk)]
    assert client.post(change, data).status_code == 302
    membership.refresh_from_db()
    assert membership.team == other and membership.member == bruno  # the same row, moved
    # Taken out of a team on the team's page: the membership goes, the person stays.
    ana_row = TeamMembership.objects.get(team=team, member=ana)
    team_change = reverse("admin:teams_team_change", args=[team.pk])
    data = _submitted(client.get(team_change).content.decode())
    data[f"{_inline_row(data, 'memberships-', ana_row.pk)}-DELETE"] = ["on"]
    assert client.post(team_change, data).status_code == 302
    assert not TeamMembership.objects.filter(pk=ana_row.pk).exists()
    assert Member.objects.filter(pk=ana.pk).exists()


def test_the_team_pages_number_rows_are_validated_and_save_only_what_changed(client, platform):
    team, ana = platform["team"], platform["ana"]
    number = SupportNumberFactory(team=team, sms_enabled=True, menu=[{"digit": "1", "team": "platform"}])
    client.force_login(platform["lead"])
    change = reverse("admin:teams_team_change", args=[team.pk])
    data = _submitted(client.get(change).content.decode())
    row = _inline_row(data, "numbers-", number.pk)
    data.pop(f"{row}-sms_enabled")
    with CaptureQueriesContext(connection) as queries:
        assert client.post(change, data).status_code == 302
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "teams_supportnumber"')]
    assert len(updates) == 1 and '"sms_enabled"' in updates[0] and '"menu"' not in updates[0]
    number.refresh_from_db()
    assert number.sms_enabled is False and number.menu == [{"digit": "1", "team": "platform"}]
    # A new row with a member's own phone: an error on the form, nothing saved, the typed number still there.
    data = _submitted(client.get(change).content.decode())
    total = int(data["numbers-TOTAL_FORMS"][0])
    data.update({"numbers-TOTAL_FORMS": [str(total + 1)], f"numbers-{total}-phone_number": [ana.phone]})
    response = client.post(change, data)
    assert response.status_code == 200
    assert "a member&#x27;s own phone" in response.content.decode() and ana.phone in response.content.decode()
    assert not SupportNumber.objects.filter(phone_number=ana.phone).exists()
    data[f"numbers-{total}-phone_number"] = ["+493077776666"]
    assert client.post(change, data).status_code == 302
    assert SupportNumber.objects.get(phone_number="+493077776666").team == team


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
        "language": "en",
        "ring_strategy": "sequential",
        **NO_INLINE_ROWS,
    }
    response = browser.post(reverse("admin:teams_team_change", args=[team.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    future = Shift.objects.filter(team=team, start__gt=timezone.now() + dt.timedelta(days=2))
    assert future.exists()
    assert {s.start.astimezone(ZoneInfo("America/New_York")).hour for s in future} == {9}


# --- Time off ------------------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_time_off_is_typed_in_the_team_zone_and_refused_over_the_same_persons_override(client, sao_paulo):
    team, (ana, bruno) = sao_paulo
    add = client.get(reverse("admin:teams_timeoff_add")).content.decode()
    assert "In America/Sao_Paulo" in add
    form = {
        "team": team.pk,
        "member": ana.pk,
        "start": "2026-12-14T00:00",
        "end": "2026-12-19T00:00",
        "reason": "Férias",
    }
    assert client.post(reverse("admin:teams_timeoff_add"), form).status_code == 302
    away = TimeOff.objects.get()
    assert away.start == dt.datetime(2026, 12, 14, 3, tzinfo=dt.UTC) and away.member == ana
    listing = client.get(reverse("admin:teams_timeoff_changelist")).content.decode()
    assert "Mon 14 Dec 2026 00:00 -03 (America/Sao_Paulo)" in listing
    # An override for Ana inside her time off is refused with the reason, and nothing is saved.
    response = client.post(
        reverse("admin:teams_override_add"), _override_form(team, ana, "2026-12-15T09:00", "2026-12-15T18:00")
    )
    assert "is on time off from Mon 14 Dec 2026 00:00" in response.content.decode()
    assert not Override.objects.exists()


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("model", ["shift", "override", "timeoff"])
def test_a_lead_adds_then_moves_the_end_of_each_kind_of_interval_in_local_time(client, sao_paulo, model):
    team, (ana, bruno) = sao_paulo
    form = {"team": team.pk, "member": ana.pk, "start": "2026-12-21T09:00", "end": "2026-12-21T18:00"}
    if model != "timeoff":
        form["role"] = "primary"
    if model != "shift":
        form["reason"] = "cover"
    added = client.post(reverse(f"admin:teams_{model}_add"), form)
    assert added.status_code == 302, added.content.decode()[:2000]
    row = {"shift": Shift, "override": Override, "timeoff": TimeOff}[model].objects.get(member=ana, team=team)
    assert row.end == dt.datetime(2026, 12, 21, 21, tzinfo=dt.UTC)  # 18:00 at UTC-3
    if model != "shift":
        assert row.created_by.username == "lead-sp"
    moved = client.post(reverse(f"admin:teams_{model}_change", args=[row.pk]), {**form, "end": "2026-12-21T20:00"})
    assert moved.status_code == 302, moved.content.decode()[:2000]
    row.refresh_from_db()
    assert row.start == dt.datetime(2026, 12, 21, 12, tzinfo=dt.UTC)
    assert row.end == dt.datetime(2026, 12, 21, 23, tzinfo=dt.UTC)
    if model == "shift":
        assert row.is_edited


@time_machine.travel(NOW, tick=False)
def test_a_lead_deletes_intervals_and_numbers_in_the_admin_one_by_one_or_selected(client, sao_paulo):
    team, (ana, bruno) = sao_paulo
    at = dt.datetime(2026, 12, 21, 12, tzinfo=dt.UTC)
    shift = services.shift_create(team=team, role=Role.PRIMARY, member=ana, start=at, end=at + dt.timedelta(hours=8))
    overrides = [
        services.override_create(team=team, role=Role.SECONDARY, member=bruno, start=at + dt.timedelta(days=d),
                                 end=at + dt.timedelta(days=d, hours=4))
        for d in (1, 2)
    ]  # fmt: skip
    number = SupportNumberFactory(team=team)
    assert client.post(reverse("admin:teams_shift_delete", args=[shift.pk]), {"post": "yes"}).status_code == 302
    assert (
        client.post(reverse("admin:teams_supportnumber_delete", args=[number.pk]), {"post": "yes"}).status_code == 302
    )
    selected = {"action": "delete_selected", "_selected_action": [o.pk for o in overrides], "post": "yes"}
    assert client.post(reverse("admin:teams_override_changelist"), selected).status_code == 302
    assert not Shift.objects.filter(pk=shift.pk).exists()
    assert not SupportNumber.objects.filter(pk=number.pk).exists()
    assert not Override.objects.filter(team=team).exists()


def test_a_superuser_deletes_a_team_in_the_admin_and_its_calls_stay_in_the_log(client):
    from telephony.models import Call

    team, _ = team_with_members(1, name="Gone", slug="gone")
    call = Call.objects.create(team=team, call_sid="CA" + "1" * 32, from_number="+4915112345678", to_number="+4930")
    client.force_login(UserFactory(username="root-del", is_superuser=True))
    assert client.post(reverse("admin:teams_team_delete", args=[team.pk]), {"post": "yes"}).status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()
    call.refresh_from_db()
    assert call.team_id is None


def test_a_lead_cannot_delete_a_person_also_in_a_team_they_do_not_lead(client, two_teams):
    """Deleting the person would take the other team's shifts and rotation places with them."""
    lead_a, team_a, members_a, team_b, members_b = two_teams
    shared = members_b[1]
    TeamMembership.objects.create(team=team_a, member=shared, role=TeamMembership.Role.MEMBER)
    beta_shifts = Shift.objects.filter(team=team_b, member=shared).count()
    assert beta_shifts
    client.force_login(lead_a)
    page = client.get(reverse("admin:teams_member_delete", args=[shared.pk]))
    assert page.status_code == 403
    assert client.post(reverse("admin:teams_member_delete", args=[shared.pk]), {"post": "yes"}).status_code == 403
    # The bulk action refuses too, and lists none of the other team's rows.
    chosen = {"action": "delete_selected", "_selected_action": [shared.pk, members_a[2].pk]}
    html = client.post(reverse("admin:teams_member_changelist"), chosen).content.decode()
    assert "members also in a team you do not lead" in html
    assert "Beta" not in html and "Yes, I’m sure" not in html
    assert client.post(reverse("admin:teams_member_changelist"), {**chosen, "post": "yes"}).status_code == 403
    assert Member.objects.filter(pk__in=[shared.pk, members_a[2].pk]).count() == 2
    assert Shift.objects.filter(team=team_b, member=shared).count() == beta_shifts
    # A superuser still may.
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    assert client.get(reverse("admin:teams_member_delete", args=[shared.pk])).status_code == 200
