"""The rota API: what an integrator sees. The permission matrix is in test_api_permissions.py, query
counts in test_api_queries.py; `World` here is shared by them."""

import datetime as dt
from dataclasses import dataclass
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from teams import services
from teams.errors import RotaError
from teams.models import ApiToken, Member, Override, Rotation, Shift, Team, TeamMembership
from telephony.models import Call, OutboundMessage, Voicemail
from tests.factories import MemberFactory, MembershipFactory, SupportNumberFactory, TeamFactory, UserFactory

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class World:
    """Team alpha (lead, member with a login, two more members), team bravo with its own lead, a superuser."""

    alpha: Team
    bravo: Team
    lead: Member
    reader: Member
    others: list[Member]
    keys: dict[str, str]
    rotation: Rotation
    shift: Shift
    override: Override

    def client(self, who: str | None) -> APIClient:
        client = APIClient()
        if who is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.keys[who]}")
        return client


def member_with_login(team: Team, username: str, role: str) -> Member:
    user = UserFactory(username=username, is_staff=role == TeamMembership.Role.LEAD)
    member = MemberFactory(user=user, name=username.title())
    MembershipFactory(team=team, member=member, role=role)
    return member


def build_world() -> World:
    alpha = TeamFactory(slug="alpha", name="Alpha", timezone="Europe/Berlin")
    bravo = TeamFactory(slug="bravo", name="Bravo", timezone="America/New_York")
    lead = member_with_login(alpha, "lead", TeamMembership.Role.LEAD)
    reader = member_with_login(alpha, "reader", TeamMembership.Role.MEMBER)
    member_with_login(bravo, "other_lead", TeamMembership.Role.LEAD)
    others = [MemberFactory(name=name) for name in ("Ana", "Bruno")]
    for member in others:
        MembershipFactory(team=alpha, member=member)
    root = UserFactory(username="root", is_superuser=True)
    SupportNumberFactory(team=alpha, phone_number="+493012345678")
    rotation = services.rotation_create(
        team=alpha,
        name="Weekly",
        role="primary",
        member_ids=[others[0].pk, others[1].pk],
        start_local=dt.datetime(2026, 11, 30, 9, 0),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    shift = Shift.objects.filter(team=alpha, start__gt=NOW).order_by("start").first()
    override = services.override_create(
        team=alpha,
        role="primary",
        member=lead,
        start=dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 3, 20, tzinfo=dt.UTC),
    )
    call = Call.objects.create(
        call_sid="CA" + "1" * 32, team=alpha, from_number="+4915100000001", to_number="+493012345678"
    )
    Voicemail.objects.create(
        call=call, team=alpha, recording_sid="RE" + "1" * 32, recording_url="https://api.twilio.com/rec/1"
    )
    OutboundMessage.objects.create(to=lead.phone, body="Reminder", kind="reminder", team=alpha, dedupe_key="k1")
    keys = {}
    for username in ("lead", "reader", "other_lead"):
        keys[username], _ = services.token_create(user=Member.objects.get(user__username=username).user)
    keys["root"], _ = services.token_create(user=root)
    keys["integration"], _ = services.token_create(team=alpha, scope=ApiToken.Scope.ALERTS)
    return World(alpha, bravo, lead, reader, others, keys, rotation, shift, override)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # The rate limit counts in the cache; start and leave every test with a clean slate.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    with time_machine.travel(NOW, tick=False):
        yield build_world()


def error_fields(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]["fields"]


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
    out = StringIO()
    call_command("create_api_token", "reader", "--name", "chat bot", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/teams/").status_code == 200
    token = ApiToken.objects.get(name="chat bot")
    assert token.key_hash != key and key not in token.key_hash


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
