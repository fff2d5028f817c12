"""Time off through the API: the person's shifts become gaps with reason time_off; who may add it; clashes."""

import datetime as dt

import icalendar
import pytest
import time_machine

from teams.models import TimeOff
from tests.teams.world import WORLD_NOW, build_world, error_fields

pytestmark = pytest.mark.django_db

# The world's Ana is primary from Mon 30 Nov 09:00 to Mon 7 Dec 09:00 (Europe/Berlin), the lead covers
# Thu 3 Dec 08:00-20:00 UTC by an override.
AWAY = {"start": "2026-12-04T09:00:00+01:00", "end": "2026-12-05T09:00:00+01:00", "reason": "Dentist"}


@pytest.fixture
def world():
    with time_machine.travel(WORLD_NOW, tick=False):
        yield build_world()


def post_time_off(world, who: str, member, **fields):
    return world.client(who).post(
        "/api/v1/teams/alpha/time-off/", {"member": member.pk, **AWAY, **fields}, format="json"
    )


def test_time_off_turns_the_shift_into_a_gap_with_its_reason(world):
    ana = world.others[0]
    created = post_time_off(world, "lead", ana)
    assert created.status_code == 201, created.content
    assert created.json()["member_name"] == "Ana"
    assert created.json()["start"] == "2026-12-04T08:00:00Z"

    window = "start=2026-12-04T00:00:00%2B01:00&end=2026-12-06T00:00:00%2B01:00"
    schedule = world.client("reader").get(f"/api/v1/teams/alpha/schedule/?{window}").json()
    assert [(s["start"], s["member"] and s["member"]["name"], s.get("reason")) for s in schedule["primary"]] == [
        ("2026-12-03T23:00:00Z", "Ana", None),
        ("2026-12-04T08:00:00Z", None, "time_off"),
        ("2026-12-05T08:00:00Z", "Ana", None),
    ]
    gaps = world.client("reader").get(f"/api/v1/teams/alpha/gaps/?{window}").json()
    assert gaps["primary"] == [{"start": "2026-12-04T08:00:00Z", "end": "2026-12-05T08:00:00Z", "reason": "time_off"}]
    # A role nobody planned is a gap without a reason, as before.
    assert "reason" not in gaps["secondary"][0]

    oncall = world.client("reader").get("/api/v1/teams/alpha/oncall/?at=2026-12-04T12:00:00%2B01:00").json()
    assert oncall["primary"]["member"] is None
    assert oncall["primary"]["next"]["member"]["name"] == "Ana"
    assert oncall["primary"]["next"]["start"] == "2026-12-05T08:00:00Z"


def test_an_override_still_covers_the_time_off(world):
    ana, bruno = world.others
    post_time_off(world, "lead", ana)
    cover = world.client("lead").post(
        "/api/v1/teams/alpha/overrides/",
        {"member": bruno.pk, "role": "primary", "start": AWAY["start"], "end": AWAY["end"]},
        format="json",
    )
    assert cover.status_code == 201, cover.content
    gaps = world.client("lead").get(
        "/api/v1/teams/alpha/gaps/?start=2026-12-04T00:00:00%2B01:00&end=2026-12-06T00:00:00%2B01:00"
    )
    assert gaps.json()["primary"] == []


def test_time_off_over_an_override_of_the_same_person_is_refused_both_ways(world):
    # The lead covers Thu 3 Dec 08:00-20:00 UTC.
    response = post_time_off(
        world, "lead", world.lead, start="2026-12-03T10:00:00+01:00", end="2026-12-04T10:00:00+01:00"
    )
    assert response.status_code == 400
    message = error_fields(response)["start"][0]
    assert "Lead covers primary by an override from Thu 3 Dec 2026 09:00 to Thu 3 Dec 2026 21:00" in message
    assert "(Europe/Berlin)" in message
    assert not TimeOff.objects.exists()

    ana = world.others[0]
    assert post_time_off(world, "lead", ana).status_code == 201
    override = world.client("lead").post(
        "/api/v1/teams/alpha/overrides/",
        {"member": ana.pk, "role": "secondary", "start": AWAY["start"], "end": AWAY["end"]},
        format="json",
    )
    assert override.status_code == 400
    assert "Ana is on time off from Fri 4 Dec 2026 09:00" in error_fields(override)["member"][0]


def test_a_member_adds_their_own_time_off_but_nobody_elses(world):
    own = post_time_off(world, "reader", world.reader, start="2026-12-10T00:00:00", end="2026-12-12T00:00:00")
    assert own.status_code == 201, own.content
    # Naive times are read in the team's zone.
    assert own.json()["start"] == "2026-12-09T23:00:00Z"
    assert post_time_off(world, "reader", world.others[0]).status_code == 403
    other = TimeOff.objects.create(
        team=world.alpha, member=world.others[0], start=WORLD_NOW, end=WORLD_NOW + dt.timedelta(hours=1)
    )
    assert world.client("reader").delete(f"/api/v1/teams/alpha/time-off/{other.pk}/").status_code == 403
    assert world.client("reader").delete(f"/api/v1/teams/alpha/time-off/{own.json()['id']}/").status_code == 204
    # Another team's lead neither sees nor adds.
    assert world.client("other_lead").get("/api/v1/teams/alpha/time-off/").status_code == 404
    assert post_time_off(world, "other_lead", world.others[0]).status_code == 404
    assert TimeOff.objects.count() == 1


def test_bad_time_off_input_names_the_field(world):
    ana = world.others[0]
    backwards = post_time_off(world, "lead", ana, start=AWAY["end"], end=AWAY["start"])
    assert backwards.status_code == 400 and "end" in error_fields(backwards)
    stranger = world.client("lead").post("/api/v1/teams/alpha/time-off/", {"member": 999999, **AWAY}, format="json")
    assert stranger.status_code == 400 and "member" in error_fields(stranger)
    assert post_time_off(world, "lead", ana).status_code == 201
    twice = post_time_off(world, "lead", ana)
    assert twice.status_code == 400 and "already away" in error_fields(twice)["start"][0]


def test_the_team_calendar_shows_time_off(world, client):
    post_time_off(world, "lead", world.others[0])
    feed = client.get(f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}")
    events = [e for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")]
    away = [e for e in events if "time off" in str(e["summary"])]
    assert [str(e["summary"]) for e in away] == ["Alpha time off: Ana"]
    assert away[0].decoded("dtstart") == dt.datetime(2026, 12, 4, 8, tzinfo=dt.UTC)
    assert "Dentist" in str(away[0]["description"])
    member_feed = client.get(f"/calendar/members/{world.others[0].pk}.ics?token={world.others[0].calendar_token}")
    assert b"time off: Ana" in member_feed.content
