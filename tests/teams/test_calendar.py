"""iCal feeds, parsed back with icalendar and compared with the schedule the API shows."""

import datetime as dt

import icalendar
import pytest
import time_machine
from icalendar.parser import Contentlines
from icalendar.prop import vCategory, vDatetime, vDuration, vText
from rest_framework.test import APIClient

from teams import services
from teams.models import Shift
from tests.factories import MemberFactory, MembershipFactory, TeamFactory, UserFactory, rotation_of
from tests.teams.world import WORLD_NOW as NOW


def events(response) -> list:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    return list(calendar.walk("VEVENT"))


def utc(value) -> dt.datetime:
    assert value.dt.tzinfo is not None and value.dt.utcoffset() == dt.timedelta(0)
    return value.dt.astimezone(dt.UTC)


def test_team_feed_matches_the_merged_schedule(world, client):
    url = f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}"
    with time_machine.travel(NOW, tick=False):
        feed = events(client.get(url))
        api = APIClient()
        api.force_authenticate(UserFactory(username="root", is_superuser=True))
        schedule = api.get(
            "/api/v1/teams/alpha/schedule/",
            {"start": (NOW - dt.timedelta(days=30)).isoformat(), "end": (NOW + dt.timedelta(days=180)).isoformat()},
        ).json()
    expected = sorted(
        (segment["start"], segment["end"], segment["member"]["name"])
        for segment in schedule["primary"] + schedule["secondary"]
        if segment["member"]
    )
    got = sorted(
        (
            utc(event["DTSTART"]).isoformat().replace("+00:00", "Z"),
            utc(event["DTEND"]).isoformat().replace("+00:00", "Z"),
            str(event["SUMMARY"]).rsplit(": ", 1)[1],
        )
        for event in feed
    )
    assert got == expected
    assert len(got) >= 10  # twelve weeks of a weekly rotation, split by the override
    assert all(str(event["TRANSP"]) == "TRANSPARENT" for event in feed)
    uids = [str(event["UID"]) for event in feed]
    assert len(uids) == len(set(uids))
    assert b"DTSTART:2026" in client.get(url).content  # written in UTC ("Z"), no floating times


def test_events_stay_within_30_days_back_and_180_ahead(db, client):
    team = TeamFactory(slug="long", timezone="UTC")
    ana = MemberFactory(name="Ana")
    MembershipFactory(team=team, member=ana)
    Shift.objects.bulk_create(
        Shift(
            team=team, role="primary", member=ana, start=NOW + dt.timedelta(days=d), end=NOW + dt.timedelta(days=d + 1)
        )
        for d in (-40, -10, 100, 179, 200)
    )
    with time_machine.travel(NOW, tick=False):
        feed = events(client.get(f"/calendar/teams/long.ics?token={team.calendar_token}"))
    starts = sorted((utc(event["DTSTART"]) - NOW).days for event in feed)
    assert starts == [-10, 100, 179]


def test_an_edited_shift_updates_its_event_instead_of_adding_one(world, client):
    url = f"/calendar/members/{world.reader.pk}.ics?token={world.reader.calendar_token}"
    with time_machine.travel(NOW, tick=False):
        assert events(client.get(url)) == []
        services.shift_update(shift=world.shift, member=world.reader)
        first = events(client.get(url))
        services.shift_update(shift=world.shift, end=world.shift.end - dt.timedelta(days=2))
        second = events(client.get(url))
    assert len(first) == len(second) == 1
    assert first[0]["UID"] == second[0]["UID"]
    assert utc(second[0]["DTEND"]) == world.shift.end

    team_url = f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}"
    with time_machine.travel(NOW, tick=False):
        before = {str(e["UID"]): str(e["SUMMARY"]) for e in events(client.get(team_url))}
        services.shift_update(shift=world.shift, member=world.lead)
        after = {str(e["UID"]): str(e["SUMMARY"]) for e in events(client.get(team_url))}
    changed = [uid for uid in after if before.get(uid) != after[uid]]
    assert len(changed) == 1 and changed[0] in before
    assert after[changed[0]].endswith(": Lead")
    assert len(after) == len(before)


def test_member_feed_holds_only_their_own_stretches_across_teams(world, client):
    other = TeamFactory(slug="other", name="Other", timezone="UTC")
    MembershipFactory(team=other, member=world.lead)
    Shift.objects.create(
        team=other,
        role="secondary",
        member=world.lead,
        start=NOW + dt.timedelta(days=3),
        end=NOW + dt.timedelta(days=4),
    )
    with time_machine.travel(NOW, tick=False):
        feed = events(client.get(f"/calendar/members/{world.lead.pk}.ics?token={world.lead.calendar_token}"))
    summaries = sorted(str(event["SUMMARY"]) for event in feed)
    assert summaries == ["Alpha primary override: Lead", "Other secondary on call: Lead"]
    override = next(e for e in feed if "Alpha" in str(e["SUMMARY"]))
    assert utc(override["DTSTART"]) == world.override.start
    assert utc(override["DTEND"]) == world.override.end


@pytest.mark.parametrize("token", ["", "?token=", "?token=wrong"])
def test_wrong_or_missing_token_is_404(world, client, token):
    assert client.get(f"/calendar/teams/alpha.ics{token}").status_code == 404
    assert client.get(f"/calendar/members/{world.lead.pk}.ics{token}").status_code == 404


def test_another_feeds_token_does_not_open_a_feed(world, client):
    assert client.get(f"/calendar/teams/bravo.ics?token={world.alpha.calendar_token}").status_code == 404
    assert client.get(f"/calendar/members/{world.reader.pk}.ics?token={world.lead.calendar_token}").status_code == 404
    assert client.get(f"/calendar/teams/nope.ics?token={world.alpha.calendar_token}").status_code == 404


# --- HEAD, and event UIDs that stay put ---------------------------------------------------------------------


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
        rotation_of(
            other,
            [ana],
            name="Daily",
            role="secondary",
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


# Every property a feed may carry, with its RFC 5545 / RFC 7986 value type. A property missing here fails the
# test below: a new one must say what it is.
PROPERTY_TYPES = {
    "VCALENDAR": {
        "PRODID": vText,
        "VERSION": vText,
        "CALSCALE": vText,
        "METHOD": vText,
        "NAME": vText,
        "X-WR-CALNAME": vText,
        "REFRESH-INTERVAL": vDuration,
        "X-PUBLISHED-TTL": vDuration,
    },
    "VEVENT": {
        "UID": vText,
        "DTSTAMP": vDatetime,
        "DTSTART": vDatetime,
        "DTEND": vDatetime,
        "SUMMARY": vText,
        "DESCRIPTION": vText,
        "TRANSP": vText,
        "CATEGORIES": vCategory,
    },
}
REQUIRED = {"VCALENDAR": {"PRODID", "VERSION"}, "VEVENT": {"UID", "DTSTAMP", "DTSTART", "DTEND"}}


def assert_valid_ical(content: bytes) -> dict[str, int]:
    """Parse every content line with icalendar and check each value against its property's type: it parses,
    is of the right Python type, and writes back to exactly the same text. Returns the count per component."""
    stack: list[tuple[str, set[str]]] = []
    counts: dict[str, int] = {}
    for line in Contentlines.from_ical(content.decode()):
        if not line:
            continue
        name, params, raw = line.parts()
        if name == "BEGIN":
            stack.append((raw, set()))
            counts[raw] = counts.get(raw, 0) + 1
            continue
        if name == "END":
            component, seen = stack.pop()
            assert component == raw
            assert REQUIRED[component] <= seen, f"{component} lacks {REQUIRED[component] - seen}"
            continue
        component, seen = stack[-1]
        kind = PROPERTY_TYPES[component].get(name)
        assert kind is not None, f"{component} carries {name}, whose type the test does not know"
        seen.add(name)
        value = kind.from_ical(raw)
        if kind is vDuration:
            assert isinstance(value, dt.timedelta) and value > dt.timedelta(0), (name, raw)
        if kind is vDatetime:
            assert isinstance(value, dt.datetime) and value.utcoffset() == dt.timedelta(0), (name, raw)
        assert kind(value).to_ical().decode() == raw, (name, raw)
        if name == "REFRESH-INTERVAL":
            assert params.get("VALUE") == "DURATION"  # RFC 7986 section 5.7: the parameter is required
    assert stack == []
    return counts


def test_every_feed_is_valid_rfc_5545_and_7986(world, client):
    feeds = [
        f"/calendar/teams/alpha.ics?token={world.alpha.calendar_token}",
        f"/calendar/members/{world.lead.pk}.ics?token={world.lead.calendar_token}",
        f"/calendar/members/{world.reader.pk}.ics?token={world.reader.calendar_token}",  # no events at all
    ]
    with time_machine.travel(NOW, tick=False):
        counts = [assert_valid_ical(client.get(url).content) for url in feeds]
        calendar = icalendar.Calendar.from_ical(client.get(feeds[0]).content)
    assert [c["VCALENDAR"] for c in counts] == [1, 1, 1]
    assert counts[0]["VEVENT"] >= 10 and counts[1]["VEVENT"] == 1 and "VEVENT" not in counts[2]
    assert vDuration.from_ical(calendar["REFRESH-INTERVAL"]) == dt.timedelta(hours=1)
    assert str(calendar["NAME"]) == "Alpha on call"
