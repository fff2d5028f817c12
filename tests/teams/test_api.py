"""The rota API: what an integrator sees. The permission matrix is in test_api_permissions.py, query
counts in test_api_queries.py; the `world` they share is built in tests/teams/world.py."""

import datetime as dt
import re
import threading
import time
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from teams import services
from teams.errors import RotaError
from teams.models import ApiToken, Member, Rotation, Shift, Team
from telephony.models import OutboundMessage
from tests.factories import MemberFactory, MembershipFactory, TeamFactory, UserFactory, rotation_of, team_with_members
from tests.teams.world import WORLD_NOW as NOW
from tests.teams.world import build_world, error_fields

pytestmark = pytest.mark.usefixtures("_fresh_throttle")
BERLIN = ZoneInfo("Europe/Berlin")


# --- The newcomer's walk: team, members, rotation, override, who is on call -----------------------------


def test_superuser_builds_a_team_from_scratch_and_asks_who_is_on_call(world):
    client = world.client("root")
    response = client.post(
        "/api/v1/teams/",
        {"slug": "ops", "name": "Ops", "timezone": "Europe/Berlin", "fallback_phone": "+4930987654321"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["ring_timeout"] == 20
    ids = []
    for name, phone in (("Ana", "+4915200000001"), ("Bo", "+4915200000002")):
        response = client.post("/api/v1/teams/ops/members/", {"name": name, "phone": phone}, format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    response = client.post(
        "/api/v1/teams/ops/rotations/",
        {"name": "Weekly", "role": "primary", "members": ids, "start": "2026-11-30T09:00:00", "shift_length": "P7D"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["members"] == ids
    assert response.json()["start"] == "2026-11-30T09:00:00"
    assert response.json()["shift_length"] == "P7D"
    response = client.post(
        "/api/v1/teams/ops/overrides/",
        {"member": ids[1], "role": "primary", "start": "2026-12-02T10:00:00+01:00", "end": "2026-12-02T18:00:00+01:00"},
        format="json",
    )
    assert response.status_code == 201, response.json()

    response = client.get("/api/v1/teams/ops/oncall/", {"at": "2026-12-01T12:00:00"})
    assert response.status_code == 200
    primary = response.json()["primary"]
    assert primary["member"] == {"id": ids[0], "name": "Ana", "phone": "+4915200000001"}
    assert primary["source"] == "shift"
    assert primary["end"] == "2026-12-02T09:00:00Z"
    assert primary["next"]["member"]["name"] == "Bo"
    assert primary["next"]["source"] == "override"
    assert response.json()["secondary"]["member"] is None

    response = client.get("/api/v1/teams/ops/oncall/", {"at": "2026-12-02T12:00:00+01:00"})
    assert response.json()["primary"]["member"]["name"] == "Bo"
    assert response.json()["primary"]["source"] == "override"


def test_oncall_across_berlin_spring_forward_hands_off_at_local_nine(db):
    team = TeamFactory(slug="berlin", timezone="Europe/Berlin")
    ana, bo = MemberFactory(name="Ana"), MemberFactory(name="Bo")
    for member in (ana, bo):
        MembershipFactory(team=team, member=member)
    root = UserFactory(username="root", is_superuser=True)
    now = dt.datetime(2027, 3, 20, 12, tzinfo=dt.UTC)
    services.rotation_create(
        team=team,
        name="Daily",
        role="primary",
        member_ids=[ana.pk, bo.pk],
        start_local=dt.datetime(2027, 3, 22, 9, 0),
        shift_length=dt.timedelta(days=1),
        now=now,
    )
    client = APIClient()
    client.force_authenticate(root)
    # 2027-03-28 is the spring-forward Sunday: 09:00 is 08:00Z before it and 07:00Z from that day on.
    before = client.get("/api/v1/teams/berlin/oncall/", {"at": "2027-03-28T08:59:00"}).json()
    after = client.get("/api/v1/teams/berlin/oncall/", {"at": "2027-03-28T09:00:00"}).json()
    assert before["primary"]["member"]["name"] != after["primary"]["member"]["name"]
    assert before["primary"]["end"] == "2027-03-28T07:00:00Z"
    assert after["primary"]["start"] == "2027-03-28T07:00:00Z"
    assert after["primary"]["end"] == "2027-03-29T07:00:00Z"
    day_before = client.get("/api/v1/teams/berlin/oncall/", {"at": "2027-03-27T09:30:00+01:00"}).json()
    assert day_before["primary"]["start"] == "2027-03-27T08:00:00Z"
    # The same instant given with an offset answers the same.
    aware = client.get("/api/v1/teams/berlin/oncall/", {"at": "2027-03-28T07:00:00Z"}).json()
    assert aware["primary"] == after["primary"]


def test_schedule_and_gaps_cover_exactly_the_window(world):
    client = world.client("reader")
    params = {"start": "2026-12-03T00:00:00", "end": "2026-12-04T00:00:00"}
    schedule = client.get("/api/v1/teams/alpha/schedule/", params).json()
    assert schedule["start"] == "2026-12-02T23:00:00Z"
    assert schedule["end"] == "2026-12-03T23:00:00Z"
    primary = schedule["primary"]
    assert primary[0]["start"] == schedule["start"]
    assert primary[-1]["end"] == schedule["end"]
    assert [s["member"]["name"] for s in primary] == ["Ana", "Lead", "Ana"]
    assert [s["source"] for s in primary] == ["shift", "override", "shift"]
    assert primary[1]["start"] == "2026-12-03T08:00:00Z"
    assert schedule["secondary"] == [
        {"start": schedule["start"], "end": schedule["end"], "member": None, "source": None}
    ]
    gaps = client.get("/api/v1/teams/alpha/gaps/", params).json()
    assert gaps["primary"] == []
    assert gaps["secondary"] == [{"start": schedule["start"], "end": schedule["end"]}]


def test_windows_are_bounded(world):
    client = world.client("reader")
    for path in ("schedule", "gaps"):
        ok = client.get(f"/api/v1/teams/alpha/{path}/", {"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00Z"})
        assert ok.status_code == 200
        too_long = client.get(
            f"/api/v1/teams/alpha/{path}/", {"start": "2026-01-01T00:00Z", "end": "2027-01-03T00:00Z"}
        )
        assert too_long.status_code == 400
        assert "end" in error_fields(too_long)
        backwards = client.get(f"/api/v1/teams/alpha/{path}/", {"start": "2026-12-05", "end": "2026-12-04"})
        assert backwards.status_code == 400
        malformed = client.get(f"/api/v1/teams/alpha/{path}/", {"start": "yesterday"})
        assert malformed.status_code == 400
        assert "start" in error_fields(malformed)


def test_default_schedule_window_is_the_coming_week(world):
    with time_machine.travel(NOW, tick=False):
        schedule = world.client("reader").get("/api/v1/teams/alpha/schedule/").json()
    assert schedule["start"] == "2026-12-02T12:00:00Z"
    assert schedule["end"] == "2026-12-09T12:00:00Z"


def test_all_teams_oncall_shows_only_visible_teams(world):
    with time_machine.travel(NOW, tick=False):
        reader = world.client("reader").get("/api/v1/oncall/").json()
        root = world.client("root").get("/api/v1/oncall/").json()
    assert [entry["team"]["slug"] for entry in reader] == ["alpha"]
    assert [entry["team"]["slug"] for entry in root] == ["alpha", "bravo"]
    assert reader[0]["primary"]["member"]["name"] == "Ana"
    assert reader[0]["at"] == "2026-12-02T12:00:00Z"


def test_shift_list_filters_by_window_role_and_member(world):
    client = world.client("reader")
    everything = client.get("/api/v1/teams/alpha/shifts/", {"page_size": 500}).json()
    assert everything["count"] == Shift.objects.filter(team=world.alpha).count()
    window = client.get("/api/v1/teams/alpha/shifts/", {"start": "2026-12-10T00:00", "end": "2026-12-20T00:00"}).json()
    assert [(s["member_name"], s["start"]) for s in window["results"]] == [
        ("Bruno", "2026-12-07T08:00:00Z"),
        ("Ana", "2026-12-14T08:00:00Z"),
    ]
    anas = client.get("/api/v1/teams/alpha/shifts/", {"member": world.others[0].pk, "page_size": 500}).json()
    assert {s["member_name"] for s in anas["results"]} == {"Ana"}
    assert client.get("/api/v1/teams/alpha/shifts/", {"role": "secondary"}).json()["count"] == 0
    assert client.get("/api/v1/teams/alpha/shifts/", {"role": "tertiary"}).status_code == 400


def test_pagination_has_a_maximum_page_size(world):
    response = world.client("reader").get("/api/v1/teams/alpha/shifts/", {"page_size": 1}).json()
    assert len(response["results"]) == 1
    assert response["next"]
    OutboundMessage.objects.bulk_create(
        OutboundMessage(to="+4915100000001", body="x", kind="test", team=world.alpha, dedupe_key=f"bulk-{i}")
        for i in range(505)
    )
    big = world.client("reader").get("/api/v1/teams/alpha/messages/", {"page_size": 100000}).json()
    assert big["count"] == 506
    assert len(big["results"]) == 500


def test_editing_a_shift_member_marks_it_edited_and_survives_regeneration(world):
    client = world.client("lead")
    url = f"/api/v1/teams/alpha/shifts/{world.shift.pk}/"
    response = client.patch(url, {"member": world.reader.pk}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["member"] == world.reader.pk
    assert response.json()["is_edited"] is True
    with time_machine.travel(NOW, tick=False):
        services.shifts_generate(rotations=[world.rotation], now=NOW)
    assert Shift.objects.get(pk=world.shift.pk).member == world.reader


def test_rotation_update_and_delete(world):
    client = world.client("lead")
    url = f"/api/v1/teams/alpha/rotations/{world.rotation.pk}/"
    with time_machine.travel(NOW, tick=False):
        response = client.patch(url, {"shift_length": "PT12H", "members": [world.others[1].pk]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["shift_length"] == "PT12H"
    assert response.json()["members"] == [world.others[1].pk]
    future = Shift.objects.filter(team=world.alpha, start__gt=NOW + dt.timedelta(days=1))
    assert set(future.values_list("member_id", flat=True)) == {world.others[1].pk}
    with time_machine.travel(NOW, tick=False):
        assert client.delete(url).status_code == 204
    assert not Shift.objects.filter(team=world.alpha, start__gt=NOW).exists()
    assert Shift.objects.filter(team=world.alpha, start__lte=NOW).exists()  # history stays


@pytest.mark.parametrize("kind", ["shifts", "overrides", "numbers"])
def test_a_lead_deletes_a_shift_an_override_or_a_number_and_a_member_may_not(world, kind):
    row = {"shifts": world.shift, "overrides": world.override, "numbers": world.alpha.numbers.get()}[kind]
    url = f"/api/v1/teams/alpha/{kind}/{row.pk}/"
    assert world.client("reader").delete(url).status_code == 403
    assert type(row).objects.filter(pk=row.pk).exists()
    assert world.client("lead").delete(url).status_code == 204
    assert not type(row).objects.filter(pk=row.pk).exists()
    assert world.client("lead").get(url).status_code == 404


@pytest.mark.usefixtures("celery_eager")
def test_a_rotation_change_through_the_api_tells_each_person_it_moves_once(world, django_capture_on_commit_callbacks):
    ana, bruno = world.others
    url = f"/api/v1/teams/alpha/rotations/{world.rotation.pk}/"
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = world.client("lead").patch(url, {"members": [bruno.pk, ana.pk]}, format="json")
    assert response.status_code == 200, response.json()
    notices = OutboundMessage.objects.filter(kind="rota_change")
    assert sorted(notices.values_list("member__name", flat=True)) == ["Ana", "Bruno"]
    assert "You are now on call" in notices.get(member=bruno).body
    assert "No longer on call" in notices.get(member=bruno).body
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        world.client("lead").patch(url, {"name": "Weekly (renamed)"}, format="json")
    assert notices.count() == 2  # nobody moved: nothing more is sent


def test_a_lead_sets_every_team_setting_the_admin_offers_through_the_api_too(world):
    response = world.client("lead").patch("/api/v1/teams/alpha/", {"alert_pages_per_hour": 3}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["alert_pages_per_hour"] == 3
    world.alpha.refresh_from_db()
    assert world.alpha.alert_pages_per_hour == 3


# --- Errors: one shape, 400 with the field named ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("members/", {"name": "X", "phone": "0151 123"}, "phone"),
        ("members/", {"name": "X", "phone": "+1555"}, "phone"),
        ("numbers/", {"phone_number": "12345"}, "phone_number"),
        ("rotations/", {"name": "R", "role": "tertiary", "members": [], "start": "x", "shift_length": "P1M"}, "role"),
        ("rotations/", {"name": "R", "role": "secondary", "members": [1], "start": "2026-13-01T09:00"}, "start"),
        (
            "overrides/",
            {"member": 0, "role": "primary", "start": "2026-12-10T08:00Z", "end": "2026-12-10T07:00Z"},
            None,
        ),
        ("overrides/", {"member": 0, "role": "primary", "start": "Friday", "end": "2026-12-10T07:00Z"}, "start"),
        ("shifts/", {"member": 0, "role": "chief", "start": "2026-12-10T08:00Z", "end": "2026-12-10T09:00Z"}, "role"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(world, path, body, field):
    body = {k: (world.lead.pk if k == "member" and v == 0 else v) for k, v in body.items()}
    response = world.client("lead").post(f"/api/v1/teams/alpha/{path}", body, format="json")
    assert response.status_code == 400, response.json()
    fields = error_fields(response)
    if field:
        assert field in fields
    else:
        assert fields["end"] == ["The end must be after the start."]
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("P7D", True),
        ("PT12H", True),
        ("P1DT6H", True),
        ("P2W", True),
        ("P1M", False),
        ("P1Y", False),
        ("7 days", False),
        ("P", False),
        ("PT", False),
        ("", False),
        ("PT5M", False),
    ],
)
def test_rotation_durations_are_iso_8601_without_months_or_years(world, value, accepted):
    body = {
        "name": "Back",
        "role": "secondary",
        "members": [world.lead.pk],
        "start": "2026-12-07T09:00:00",
        "shift_length": value,
    }
    with time_machine.travel(NOW, tick=False):
        response = world.client("lead").post("/api/v1/teams/alpha/rotations/", body, format="json")
    assert response.status_code == (201 if accepted else 400), response.json()
    if not accepted:
        assert "shift_length" in error_fields(response)


def test_months_are_refused_with_a_hint(world):
    body = {
        "name": "Back",
        "role": "secondary",
        "members": [world.lead.pk],
        "start": "2026-12-07T09:00:00",
        "shift_length": "P1M",
    }
    response = world.client("lead").post("/api/v1/teams/alpha/rotations/", body, format="json")
    assert "P28D" in error_fields(response)["shift_length"][0]


def test_rotation_with_a_member_of_another_team_is_refused(world):
    stranger = Member.objects.get(user__username="other_lead")
    body = {
        "name": "Back",
        "role": "secondary",
        "members": [world.lead.pk, stranger.pk],
        "start": "2026-12-07T09:00:00",
        "shift_length": "P7D",
    }
    response = world.client("lead").post("/api/v1/teams/alpha/rotations/", body, format="json")
    assert response.status_code == 400
    assert "members" in error_fields(response)
    assert not Rotation.objects.filter(team=world.alpha, role="secondary").exists()


def test_override_for_a_member_of_another_team_is_refused(world):
    stranger = Member.objects.get(user__username="other_lead")
    body = {"member": stranger.pk, "role": "primary", "start": "2026-12-10T08:00Z", "end": "2026-12-10T09:00Z"}
    response = world.client("lead").post("/api/v1/teams/alpha/overrides/", body, format="json")
    assert response.status_code == 400
    assert "member" in error_fields(response)


def test_overlapping_overrides_are_refused(world):
    body = {
        "member": world.reader.pk,
        "role": "primary",
        "start": "2026-12-03T19:00:00+00:00",
        "end": "2026-12-03T22:00:00+00:00",
    }
    response = world.client("lead").post("/api/v1/teams/alpha/overrides/", body, format="json")
    assert response.status_code == 400
    assert "overlaps" in response.json()["error"]["message"]
    body["role"] = "secondary"
    assert world.client("lead").post("/api/v1/teams/alpha/overrides/", body, format="json").status_code == 201


def test_naive_override_times_are_read_in_the_team_timezone(world):
    body = {
        "member": world.reader.pk,
        "role": "secondary",
        "start": "2026-12-10T09:00:00",
        "end": "2026-12-10T17:00:00",
        "reason": "Covering",
    }
    response = world.client("lead").post("/api/v1/teams/alpha/overrides/", body, format="json")
    assert response.status_code == 201
    assert response.json()["start"] == "2026-12-10T08:00:00Z"
    assert response.json()["end"] == "2026-12-10T16:00:00Z"


def test_unknown_timezone_and_malformed_at_are_400(world):
    response = world.client("lead").patch("/api/v1/teams/alpha/", {"timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert "timezone" in error_fields(response)
    response = world.client("reader").get("/api/v1/teams/alpha/oncall/", {"at": "2026-02-30T10:00"})
    assert response.status_code == 400
    assert "at" in error_fields(response)
    assert world.client("reader").get("/api/v1/oncall/", {"at": "soon"}).status_code == 400


def test_member_created_answers_with_an_id_and_joins_the_team(world):
    response = world.client("lead").post(
        "/api/v1/teams/alpha/members/", {"name": "Cleo", "phone": "+4915211111111"}, format="json"
    )
    assert response.status_code == 201
    member = Member.objects.get(pk=response.json()["id"])
    assert member.teams.get() == world.alpha
    assert response.json()["role"] == "member"


def test_a_person_of_one_of_your_teams_joins_another_by_phone_as_they_are(world):
    ana = world.others[0]
    gamma = TeamFactory(slug="gamma", name="Gamma")
    MembershipFactory(team=gamma, member=world.lead, role="lead")
    client = world.client("lead")
    response = client.post(
        "/api/v1/teams/gamma/members/", {"name": "Someone else", "phone": ana.phone, "role": "member"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["id"] == ana.pk and response.json()["name"] == "Ana"
    assert set(Member.objects.get(pk=ana.pk).teams.values_list("slug", flat=True)) == {"alpha", "gamma"}
    assert Member.objects.filter(phone=ana.phone).count() == 1
    listed = client.get("/api/v1/teams/gamma/members/").json()
    assert ana.pk in [row["id"] for row in listed["results"]]
    # Once more: she is in the team already, and nothing changes.
    again = client.post("/api/v1/teams/gamma/members/", {"name": "Ana", "phone": ana.phone}, format="json")
    assert again.status_code == 400
    assert error_fields(again) == {"phone": [f"Ana ({ana.phone}) is already a member of Gamma."]}
    # A lead who does not see her (bravo's) cannot take her in: the phone is simply taken.
    other = world.client("other_lead").post(
        "/api/v1/teams/bravo/members/", {"name": "Ana", "phone": ana.phone}, format="json"
    )
    assert other.status_code == 400 and list(error_fields(other)) == ["phone"]
    assert not world.bravo.memberships.filter(member=ana).exists()
    # A superuser sees everybody.
    root = world.client("root").post("/api/v1/teams/bravo/members/", {"name": "Ana", "phone": ana.phone}, format="json")
    assert root.status_code == 201 and root.json()["id"] == ana.pk
    # Now also in bravo, which the lead does not lead: her details are not theirs to change, her role in
    # gamma is (a PUT repeats her details unchanged).
    path = f"/api/v1/teams/gamma/members/{ana.pk}/"
    assert client.patch(path, {"name": "Ana B."}, format="json").status_code == 403
    unchanged = {"name": "Ana", "phone": ana.phone, "email": ana.email, "timezone": ana.timezone}
    put = client.put(path, {**unchanged, "language": ana.language, "role": "member"}, format="json")
    assert put.status_code == 200, put.json()


def test_a_lead_needs_a_login(world):
    response = world.client("lead").post(
        "/api/v1/teams/alpha/members/", {"name": "Cleo", "phone": "+4915211111111", "role": "lead"}, format="json"
    )
    assert response.status_code == 400
    assert not Member.objects.filter(phone="+4915211111111").exists()


def test_member_with_future_shifts_cannot_be_removed(world):
    response = world.client("lead").delete(f"/api/v1/teams/alpha/members/{world.others[0].pk}/")
    assert response.status_code == 400
    assert "rotation" in response.json()["error"]["message"]


def test_integration_token_may_not_use_the_rota_api(world):
    response = world.client("integration").get("/api/v1/teams/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_revoked_and_unknown_tokens_are_401(world):
    ApiToken.objects.filter(user__username="reader").update(revoked_at=NOW)
    assert world.client("reader").get("/api/v1/teams/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/v1/teams/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_session_login_works(world):
    client = APIClient()
    client.force_login(world.reader.user)
    assert client.get("/api/v1/teams/alpha/").json()["slug"] == "alpha"


def test_rate_limit_answers_429_per_token(world, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token": "3/minute"}}
    reader, lead = world.client("reader"), world.client("lead")
    statuses = [reader.get("/api/v1/teams/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert reader.get("/api/v1/teams/").json()["error"]["code"] == "throttled"
    assert lead.get("/api/v1/teams/").status_code == 200  # another token has its own budget


def test_create_api_token_prints_a_working_token_last(world):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "reader", "--name", "chat bot", stdout=out, stderr=err)
    # The token alone on stdout (`TOKEN=$(manage.py create_api_token reader)`), what it is on stderr.
    key = out.getvalue().strip()
    assert out.getvalue() == f"{key}\n" and "shown only this once" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/teams/").status_code == 200
    token = ApiToken.objects.get(name="chat bot")
    assert token.key_hash != key and key not in token.key_hash


class _References(HTMLParser):
    """Every URL a page makes the browser load or follow: src, href and ReDoc's spec-url attributes."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href", "spec-url") and value]


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_are_served_by_the_app_itself_and_name_no_other_host(world, settings, page):
    # The Swagger UI and ReDoc bundles come from drf-spectacular-sidecar through whitenoise, as with `make run`.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client = APIClient()
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.findall(r"https?://", html), "the page names another host"
    parser = _References()
    parser.feed(html)
    scripts = [url for url in parser.urls if url.endswith(".js")]
    assert scripts, "no script is loaded: the page would stay blank"
    for url in parser.urls:
        assert urlsplit(url).netloc == "", url
        if url.startswith("/static/"):
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert b"".join(asset.streaming_content if asset.streaming else [asset.content]), url


def test_docs_and_schema_are_served(world):
    client = APIClient()
    assert client.get("/api/v1/docs/").status_code == 200
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/teams/{slug}/oncall/" in schema.json()["paths"]


def test_logs_are_readable_by_members(world):
    client = world.client("reader")
    calls = client.get("/api/v1/teams/alpha/calls/").json()
    assert calls["results"][0]["call_sid"] == "CA" + "1" * 32
    voicemails = client.get("/api/v1/teams/alpha/voicemails/").json()
    assert voicemails["results"][0]["call_sid"] == "CA" + "1" * 32
    messages = client.get("/api/v1/teams/alpha/messages/", {"kind": "reminder"}).json()
    assert messages["count"] == 1
    assert client.get("/api/v1/teams/alpha/messages/", {"kind": "alert"}).json()["count"] == 0
    assert world.client("other_lead").get("/api/v1/teams/alpha/calls/").status_code == 404


def test_calendar_url_is_shown_to_the_member_themself_and_to_leads(world):
    path = f"/api/v1/teams/alpha/members/{world.reader.pk}/"
    own = world.client("reader").get(path).json()["calendar_url"]
    assert own == (
        f"https://roulette.example.com/calendar/members/{world.reader.pk}.ics?token={world.reader.calendar_token}"
    )
    assert world.client("lead").get(path).json()["calendar_url"] == own
    assert world.client("reader").get(f"/api/v1/teams/alpha/members/{world.lead.pk}/").json()["calendar_url"] is None
    with time_machine.travel(NOW, tick=False):
        assert APIClient().get(own.removeprefix("https://roulette.example.com")).status_code == 200


def test_a_lead_sees_no_feed_of_a_person_also_in_a_team_they_do_not_lead(world):
    # Ana joins bravo: her feed now lists bravo's shifts and time off, which alpha's lead may not read.
    MembershipFactory(team=world.bravo, member=world.others[0])
    ana, bruno = (f"/api/v1/teams/alpha/members/{member.pk}/" for member in world.others)
    assert world.client("lead").get(ana).json()["calendar_url"] is None
    assert world.client("lead").get(bruno).json()["calendar_url"] is not None
    listed = {
        row["id"]: row["calendar_url"]
        for row in world.client("lead").get("/api/v1/teams/alpha/members/").json()["results"]
    }
    assert listed[world.others[0].pk] is None and listed[world.others[1].pk] is not None
    assert world.client("root").get(ana).json()["calendar_url"] is not None


# --- Edges: huge ids, not-found codes, unencoded offsets, naive times per team ------------------------------


HUGE = 10**20  # beyond any database integer


def raw_client(world, who: str) -> APIClient:
    """A client that returns a 500 as a response, as an integrator sees it, instead of raising."""
    client = world.client(who)
    client.raise_request_exception = False
    return client


def test_rotation_with_a_member_id_too_large_for_the_database_is_a_400(world):
    a0 = world.others[0]
    body = {
        "name": "Backup",
        "role": "secondary",
        "members": [a0.pk, HUGE],
        "start": "2026-11-30T09:00:00",
        "shift_length": "P7D",
    }
    response = raw_client(world, "lead").post("/api/v1/teams/alpha/rotations/", body, format="json")
    assert response.status_code == 400
    assert "members" in error_fields(response)


@pytest.mark.parametrize("path", ["shifts", "overrides"])
def test_member_filter_with_an_id_too_large_for_the_database_finds_nothing(world, path):
    client = raw_client(world, "reader")
    response = client.get(f"/api/v1/teams/alpha/{path}/", {"member": str(HUGE)})
    assert response.status_code == 200
    assert response.json()["results"] == []
    # Ordinary ids still filter.
    member = world.others[0] if path == "shifts" else world.lead
    response = client.get(f"/api/v1/teams/alpha/{path}/", {"member": member.pk})
    assert response.json()["count"] >= 1
    assert {row["member"] for row in response.json()["results"]} == {member.pk}


@pytest.mark.parametrize("member", [HUGE, -1, 0])
def test_editing_a_shift_to_a_nonexistent_member_names_the_field(world, member):
    url = f"/api/v1/teams/alpha/shifts/{world.shift.pk}/"
    response = raw_client(world, "lead").patch(url, {"member": member}, format="json")
    assert response.status_code == 400
    assert "member" in error_fields(response)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("lead", "/api/v1/teams/alpha/shifts/999999/"),
        ("lead", "/api/v1/teams/alpha/members/999999/"),
        ("lead", "/api/v1/teams/alpha/calls/999999/"),
        ("other_lead", "/api/v1/teams/alpha/"),  # another team's team: not found, not forbidden
        ("reader", "/api/v1/teams/bravo/"),
        ("lead", "/api/v1/teams/alpha/oncall-nope/"),
    ],
)
def test_not_found_answers_carry_the_not_found_code(world, who, path):
    response = raw_client(world, who).get(path)
    assert response.status_code == 404
    assert error_fields(response) == {}
    assert response.json()["error"]["code"] == "not_found"


def test_a_member_of_another_team_reads_as_not_found_in_this_one(world):
    bravo_lead = world.bravo.memberships.get().member
    response = raw_client(world, "lead").get(f"/api/v1/teams/alpha/members/{bravo_lead.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unencoded_plus_offset_in_at_is_read_as_an_offset(world):
    client = world.client("reader")
    # curl "…/oncall/?at=2026-12-02T17:45:00+05:45": the "+" reaches the server as a space.
    unencoded = client.get("/api/v1/teams/alpha/oncall/?at=2026-12-02T17:45:00+05:45")
    assert unencoded.status_code == 200, unencoded.json()
    assert unencoded.json()["at"] == "2026-12-02T12:00:00Z"
    encoded = client.get("/api/v1/teams/alpha/oncall/?at=2026-12-02T17:45:00%2B05:45")
    assert encoded.json() == unencoded.json()
    everyone = client.get("/api/v1/oncall/?at=2026-12-02 17:45+05:45")
    assert everyone.status_code == 200
    assert everyone.json()[0]["at"] == "2026-12-02T12:00:00Z"
    # A negative offset and Z were never affected.
    assert client.get("/api/v1/teams/alpha/oncall/?at=2026-12-02T08:30:00-03:30").json()["at"] == "2026-12-02T12:00:00Z"


def test_unencoded_plus_offset_in_windows_and_log_filters(world):
    client = world.client("reader")
    response = client.get("/api/v1/teams/alpha/schedule/?start=2026-12-03T05:45:00+05:45&end=2026-12-04T05:45:00+05:45")
    assert response.status_code == 200, response.json()
    assert (response.json()["start"], response.json()["end"]) == ("2026-12-03T00:00:00Z", "2026-12-04T00:00:00Z")
    response = client.get("/api/v1/teams/alpha/shifts/?start=2026-12-08T05:45:00+05:45")
    assert response.status_code == 200
    assert all(row["end"] > "2026-12-08T00:00:00Z" for row in response.json()["results"])
    response = client.get("/api/v1/teams/alpha/calls/?since=2026-12-02T17:45:00+05:45")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    response = client.get("/api/v1/teams/alpha/calls/?since=2026-12-02T17:45:01+05:45")
    assert response.json()["count"] == 0


@pytest.mark.parametrize("value", ["2026-12-02 05:45", "2026-12-02T12:00:00 99:00", "12:00 05:45", "garbage 05:45"])
def test_a_space_is_not_a_licence_for_garbage(world, value):
    response = world.client("reader").get("/api/v1/teams/alpha/oncall/", {"at": value})
    if value == "2026-12-02 05:45":  # a date and a local time, as ISO-8601 allows
        assert response.status_code == 200
        assert response.json()["at"] == "2026-12-02T04:45:00Z"
    else:
        assert response.status_code == 400
        assert "at" in error_fields(response)


@pytest.mark.django_db
def test_all_teams_oncall_reads_a_naive_at_in_each_teams_time_zone(client):
    admin = UserFactory(username="tz-root", is_superuser=True)
    berlin, (ana, bruno) = team_with_members(2, timezone="Europe/Berlin", slug="tz-berlin", name="TZ Berlin")
    sao, (carla, dora) = team_with_members(2, timezone="America/Sao_Paulo", slug="tz-sao", name="TZ Sao")
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    for team, members in ((berlin, (ana, bruno)), (sao, (carla, dora))):
        # Daily hand-off at 09:00 local: at 09:30 local the second person is on, at 08:30 still the first.
        rotation_of(
            team, members, name="P", start_local=dt.datetime(2026, 12, 1, 9), shift_length=dt.timedelta(days=1), now=now
        )
    client.force_login(admin)
    body = client.get("/api/v1/oncall/", {"at": "2026-12-02T09:30"}).json()
    by_slug = {row["team"]["slug"]: row for row in body}
    assert by_slug["tz-berlin"]["primary"]["member"]["id"] == bruno.pk
    assert by_slug["tz-sao"]["primary"]["member"]["id"] == dora.pk
    assert by_slug["tz-berlin"]["at"] != by_slug["tz-sao"]["at"]
    # With an offset it is one instant for everyone: 09:30 in Berlin is 05:30 in Sao Paulo.
    body = client.get("/api/v1/oncall/", {"at": "2026-12-02T09:30:00+01:00"}).json()
    by_slug = {row["team"]["slug"]: row for row in body}
    assert by_slug["tz-berlin"]["primary"]["member"]["id"] == bruno.pk
    assert by_slug["tz-sao"]["primary"]["member"]["id"] == carla.pk


def test_team_calendar_url_is_shown_to_its_leads_only(world):
    url = f"https://roulette.example.com/calendar/teams/alpha.ics?token={world.alpha.calendar_token}"
    assert world.client("lead").get("/api/v1/teams/alpha/").json()["calendar_url"] == url
    assert world.client("root").get("/api/v1/teams/alpha/").json()["calendar_url"] == url
    listed = {
        team["slug"]: team["calendar_url"] for team in world.client("root").get("/api/v1/teams/").json()["results"]
    }
    assert listed["alpha"] == url
    assert (
        listed["bravo"] == f"https://roulette.example.com/calendar/teams/bravo.ics?token={world.bravo.calendar_token}"
    )
    assert world.client("reader").get("/api/v1/teams/alpha/").json()["calendar_url"] is None
    assert [t["calendar_url"] for t in world.client("reader").get("/api/v1/teams/").json()["results"]] == [None]
    # Read-only: a lead cannot set it, and the answer still carries the real one.
    patched = world.client("lead").patch(
        "/api/v1/teams/alpha/", {"calendar_url": "https://evil.example"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["calendar_url"] == url
    with time_machine.travel(NOW, tick=False):
        assert APIClient().get(url.removeprefix("https://roulette.example.com")).status_code == 200


def test_with_redis_down_the_api_answers_and_says_so_in_the_log(world, redis_server, caplog):
    redis_server.stop()
    reader = world.client("reader")
    with time_machine.travel(NOW, tick=False):
        oncall = reader.get("/api/v1/teams/alpha/oncall/")
        everyone = reader.get("/api/v1/oncall/")
    assert oncall.status_code == 200, oncall.content
    assert oncall.json()["team"]["slug"] == "alpha"
    assert everyone.status_code == 200
    assert "The cache is unreachable" in caplog.text


def test_errors_are_json_in_the_one_shape_whatever_went_wrong(world):
    lead = world.client("lead")
    deep = 50_000
    for body in ('{"name": ' + "[" * deep + "]" * deep + "}", "[" * deep + "]" * deep, "{not json"):
        response = lead.post("/api/v1/teams/alpha/members/", body, content_type="application/json")
        assert response.status_code == 400, response.content[:200]
        assert response.json()["error"]["code"] == "parse_error"
        assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/schema/"])
@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*", "application/vnd.oai.openapi"])
def test_docs_and_schema_answer_401_json_to_a_bad_token_whatever_the_accept_header(world, path, accept):
    revoked = world.client("reader")
    ApiToken.objects.filter(user=world.reader.user).update(revoked_at=NOW)
    inactive = world.client("lead")
    world.lead.user.is_active = False
    world.lead.user.save()
    garbage = APIClient()
    garbage.credentials(HTTP_AUTHORIZATION="Token garbage")
    for client in (garbage, revoked, inactive):
        response = client.get(path, HTTP_ACCEPT=accept)
        assert response.status_code == 401, (path, accept, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "authentication_failed"


def test_an_unexpected_error_answers_500_in_the_error_shape_not_an_html_page(world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("teams.selectors.oncall_with_next", broken)
    client = world.client("reader")
    client.raise_request_exception = False
    response = client.get("/api/v1/teams/alpha/oncall/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


# --- Input limits (teams/limits.py; README "Limits") -----------------------------------------------------


def test_a_rotation_of_more_than_100_places_is_refused_with_the_field_named(world):
    lead = world.client("lead")
    body = {"name": "Huge", "role": "secondary", "start": "2026-12-07T09:00:00", "shift_length": "P1D"}
    with time_machine.travel(NOW, tick=False):
        response = lead.post(
            "/api/v1/teams/alpha/rotations/", {**body, "members": [world.lead.pk] * 5000}, format="json"
        )
        assert response.status_code == 400
        assert "members" in response.json()["error"]["fields"]
        assert "100" in response.json()["error"]["fields"]["members"][0]
        fits = lead.post("/api/v1/teams/alpha/rotations/", {**body, "members": [world.lead.pk] * 100}, format="json")
        assert fits.status_code == 201, fits.content
    with pytest.raises(RotaError, match="at most 100 places"):
        services.rotation_update(rotation=Rotation.objects.get(name="Huge"), member_ids=[world.lead.pk] * 101)


def test_more_than_1000_allowed_callers_are_refused_with_the_field_named(world):
    lead = world.client("lead")
    numbers = [f"+4915{i:09d}" for i in range(10_000)]
    response = lead.patch("/api/v1/teams/alpha/", {"allowed_callers": numbers}, format="json")
    assert response.status_code == 400
    assert "allowed_callers" in response.json()["error"]["fields"]
    assert Team.objects.get(slug="alpha").allowed_callers == []
    assert lead.patch("/api/v1/teams/alpha/", {"allowed_callers": numbers[:1000]}, format="json").status_code == 200


def test_a_shift_shorter_than_an_hour_is_refused(world):
    body = {"name": "Fast", "role": "secondary", "members": [world.lead.pk], "start": "2026-12-07T09:00:00"}
    response = world.client("lead").post(
        "/api/v1/teams/alpha/rotations/", {**body, "shift_length": "PT30M"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["shift_length"] == ["A shift lasts at least an hour (PT1H)."]


def test_a_schedule_window_with_too_many_segments_is_refused_before_it_is_computed(world):
    lead = world.client("lead")
    with time_machine.travel(NOW, tick=False):
        services.rotation_update(rotation=world.rotation, shift_length=dt.timedelta(hours=1))
        for view in ("schedule", "gaps"):
            year = lead.get(f"/api/v1/teams/alpha/{view}/?start=2026-12-03T00:00Z&end=2027-12-03T00:00Z")
            assert year.status_code == 400
            assert "at most 208 days" in year.json()["error"]["fields"]["end"][0]
            fits = lead.get(f"/api/v1/teams/alpha/{view}/?start=2026-12-03T00:00Z&end=2027-06-29T00:00Z")
            assert fits.status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's concurrent transactions"
)
@pytest.mark.django_db(transaction=True)
def test_a_phone_stored_by_another_request_in_the_meantime_is_a_400_on_phone():
    world = build_world()
    phone = "+4915219999999"
    answers = []

    def create():
        try:
            client = world.client("lead")
            client.raise_request_exception = False
            answers.append(client.post("/api/v1/teams/alpha/members/", {"name": "Cleo", "phone": phone}, format="json"))
        finally:
            connection.close()

    thread = threading.Thread(target=create)
    # Another request has inserted the phone and not committed yet: this one's check cannot see it, its
    # INSERT waits for the other, and fails on the unique phone once the other commits.
    with transaction.atomic():
        MemberFactory(name="Cleo elsewhere", phone=phone)
        thread.start()
        for _ in range(200):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.05)
    thread.join(20)
    assert answers[0].status_code == 400, answers[0].content
    assert list(error_fields(answers[0])) == ["phone"]
    assert Member.objects.filter(phone=phone).count() == 1
