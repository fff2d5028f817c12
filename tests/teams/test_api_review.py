"""What an outside integrator found: huge ids, Django's own 404s, unencoded "+" offsets in query strings,
calendar apps that ask with HEAD, and iCal UIDs that changed when the generated horizon caught up."""

import datetime as dt

import icalendar
import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from teams import services
from tests.teams.test_api import NOW, build_world, error_fields
from tests.teams.test_calendar import utc

HUGE = 10**20  # beyond any database integer


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    with time_machine.travel(NOW, tick=False):
        yield build_world()


def raw_client(world, who: str) -> APIClient:
    """A client that returns a 500 as a response, as an integrator sees it, instead of raising."""
    client = world.client(who)
    client.raise_request_exception = False
    return client


# --- Ids too large for the database ----------------------------------------------------------------------


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


# --- Every 404 speaks the one error shape with the same code ---------------------------------------------


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


# --- "+05:45" typed into a URL without encoding -----------------------------------------------------------


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


# --- iCal --------------------------------------------------------------------------------------------------


def test_calendar_feeds_answer_head_like_get_without_a_body(world, client):
    for url in (
        f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}",
        f"/calendar/members/{world.lead.pk}.ics?token={world.lead.calendar_token}",
    ):
        with time_machine.travel(NOW, tick=False):
            head = client.head(url)
        assert head.status_code == 200
        assert head["Content-Type"].startswith("text/calendar")
        assert head.content == b""
        assert client.post(url).status_code == 405
    assert client.head("/calendar/teams/alpha.ics?token=wrong").status_code == 404


def feed_events(client, url: str) -> dict[str, tuple]:
    response = client.get(url)
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.content)
    return {
        str(event["UID"]): (utc(event["DTSTART"]), utc(event["DTEND"]), str(event["SUMMARY"]))
        for event in calendar.walk("VEVENT")
    }


def test_event_uids_survive_the_horizon_catching_up_and_a_new_member(world, client):
    """The feed reaches 180 days ahead, the stored shifts 12 weeks: events past the horizon are projections.
    When beat generates them (and a lead then hands one to someone else) their UIDs must not change."""
    url = f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}"
    with time_machine.travel(NOW, tick=False):
        before = feed_events(client, url)
    later = NOW + dt.timedelta(days=21)
    with time_machine.travel(later, tick=False):
        services.shifts_generate(now=later)
        # The last shift that was a projection three weeks ago is now stored; give it to the lead.
        shift = world.alpha.shifts.filter(role="primary").order_by("-start").first()
        assert shift.start > NOW + dt.timedelta(weeks=12)
        services.shift_update(shift=shift, member=world.lead)
        after = feed_events(client, url)
    by_start_before = {start: uid for uid, (start, _end, _summary) in before.items()}
    by_start_after = {start: uid for uid, (start, _end, _summary) in after.items()}
    common = set(by_start_before) & set(by_start_after)
    assert len(common) >= 20
    assert {by_start_before[s] for s in common} == {by_start_after[s] for s in common}
    uid = by_start_after[shift.start]
    assert before[uid][2].endswith(": Bruno") or before[uid][2].endswith(": Ana")
    assert after[uid][2].endswith(": Lead")
    assert len(after) == len(set(after))


def test_member_feed_uids_are_stable_across_two_teams(world, client):
    """A member in two teams, one of them weekly across Berlin's spring forward: times in UTC, UIDs kept."""
    other = services.team_create(slug="nyc", name="NYC", timezone="America/New_York")
    ana = world.others[0]
    services.membership_add(team=other, member=ana)
    with time_machine.travel(NOW, tick=False):
        services.rotation_create(
            team=other,
            name="Daily",
            role="secondary",
            member_ids=[ana.pk],
            start_local=dt.datetime(2026, 12, 1, 9, 0),
            shift_length=dt.timedelta(days=1),
            now=NOW,
        )
    url = f"/calendar/members/{ana.pk}.ics?token={ana.calendar_token}"
    with time_machine.travel(NOW, tick=False):
        first = feed_events(client, url)
    later = NOW + dt.timedelta(days=7)
    with time_machine.travel(later, tick=False):
        services.shifts_generate(now=later)
        second = feed_events(client, url)
    assert any("NYC" in summary for _s, _e, summary in first.values())
    assert any("Alpha" in summary for _s, _e, summary in first.values())
    shared = set(first) & set(second)
    # The same UID is the same stretch (its end may move with the feed's 180-day edge).
    assert len(shared) >= 10
    assert all(first[uid][0] == second[uid][0] and first[uid][2] == second[uid][2] for uid in shared)
    # Berlin's hand-off stays 09:00 local: 08:00Z in winter, 07:00Z after 2027-03-28.
    alpha_starts = sorted(start for start, _e, summary in first.values() if summary.startswith("Alpha"))
    assert dt.datetime(2027, 3, 22, 8, tzinfo=dt.UTC) in alpha_starts  # Ana's week before the change
    assert dt.datetime(2027, 4, 5, 7, tzinfo=dt.UTC) in alpha_starts  # and her week after it


@pytest.mark.django_db
def test_all_teams_oncall_reads_a_naive_at_in_each_teams_time_zone(client):
    import datetime as _dt

    from teams import services as _services
    from teams.models import Role as _Role
    from tests.factories import UserFactory as _User
    from tests.factories import team_with_members as _team

    admin = _User(username="tz-root", is_superuser=True)
    berlin, (ana, bruno) = _team(2, timezone="Europe/Berlin", slug="tz-berlin", name="TZ Berlin")
    sao, (carla, dora) = _team(2, timezone="America/Sao_Paulo", slug="tz-sao", name="TZ Sao")
    now = _dt.datetime(2026, 11, 26, 12, tzinfo=_dt.UTC)
    for team, members in ((berlin, (ana, bruno)), (sao, (carla, dora))):
        # Daily hand-off at 09:00 local: at 09:30 local the second person is on, at 08:30 still the first.
        _services.rotation_create(
            team=team,
            name="P",
            role=_Role.PRIMARY,
            member_ids=[m.pk for m in members],
            start_local=_dt.datetime(2026, 12, 1, 9),
            shift_length=_dt.timedelta(days=1),
            now=now,
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
