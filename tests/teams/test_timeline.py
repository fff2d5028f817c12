"""The schedule timeline of the admin team page: its geometry (pure, no database) and the page a lead reads."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from teams import rota, timeline
from teams.admin.timeline import window_from_params
from teams.models import Role
from tests.factories import OverrideFactory, ShiftFactory, UserFactory, rotation_of, team_with_members

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)  # Thu 26 Nov 2026 13:00 in Berlin
UTC = dt.UTC


def segment(member_id, start, end, source=rota.SHIFT):
    return rota.Segment(member_id, start, end, source if member_id else None)


# --- Geometry ------------------------------------------------------------------------------------------


def test_four_weeks_from_the_monday_of_the_week_at_local_midnight():
    window = timeline.week_window(dt.date(2026, 11, 26), BERLIN)  # a Thursday
    assert window.first_day == dt.date(2026, 11, 23)
    assert window.start == dt.datetime(2026, 11, 22, 23, tzinfo=UTC)  # 00:00 CET
    assert window.end == dt.datetime(2026, 12, 20, 23, tzinfo=UTC)
    assert window.days == 28


def test_a_month_runs_from_the_first_to_the_first_across_the_new_year():
    window = timeline.month_window(2026, 12, BERLIN)
    assert (window.start, window.end) == (
        dt.datetime(2026, 11, 30, 23, tzinfo=UTC),
        dt.datetime(2026, 12, 31, 23, tzinfo=UTC),
    )
    assert window.days == 31 and window.month == dt.date(2026, 12, 1)


def test_bars_are_placed_in_percent_and_clipped_to_the_window():
    start = dt.datetime(2026, 12, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=4)
    bars = timeline.bars(
        [
            segment(1, start - dt.timedelta(days=1), start + dt.timedelta(days=1)),
            segment(None, start + dt.timedelta(days=1), start + dt.timedelta(days=2)),
            segment(2, start + dt.timedelta(days=2), end + dt.timedelta(days=3)),
            segment(3, end + dt.timedelta(days=3), end + dt.timedelta(days=4)),
        ],
        start,
        end,
    )
    assert [(bar.segment.member_id, bar.left, bar.width) for bar in bars] == [(1, 0, 25), (None, 25, 25), (2, 50, 50)]


def test_a_day_with_the_clocks_going_forward_is_an_hour_shorter_on_the_page():
    # Europe/Berlin springs forward on Sun 28 Mar 2027 at 02:00: these two weeks have 335 hours.
    window = timeline.week_window(dt.date(2027, 3, 24), BERLIN, weeks=2)
    assert window.end - window.start == dt.timedelta(hours=335)
    marks = dict(timeline.day_marks(window, BERLIN))
    assert marks[dt.date(2027, 3, 28)] == pytest.approx(100 * 6 * 24 / 335)
    assert marks[dt.date(2027, 3, 29)] == pytest.approx(100 * (7 * 24 - 1) / 335)


def test_the_current_instant_is_placed_only_inside_the_window():
    start = dt.datetime(2026, 12, 1, tzinfo=UTC)
    end = start + dt.timedelta(days=10)
    assert timeline.position(start + dt.timedelta(days=1), start, end) == pytest.approx(10)
    assert timeline.position(end, start, end) is None
    assert timeline.position(start - dt.timedelta(seconds=1), start, end) is None


def test_double_bookings_are_where_one_person_holds_both_roles():
    t = dt.datetime(2026, 12, 1, tzinfo=UTC)
    hours = [t + dt.timedelta(hours=n) for n in range(10)]
    primary = [segment(1, hours[0], hours[4]), segment(2, hours[4], hours[8])]
    secondary = [segment(1, hours[2], hours[3]), segment(1, hours[3], hours[6]), segment(None, hours[6], hours[9])]
    assert rota.double_bookings(primary, secondary) == [rota.Segment(1, hours[2], hours[4], None)]


@pytest.mark.parametrize(
    ("params", "first_day", "days"),
    [
        ({}, dt.date(2026, 11, 23), 28),
        ({"week": "2026-12-30"}, dt.date(2026, 12, 28), 28),
        ({"month": "2027-01"}, dt.date(2027, 1, 1), 31),
        ({"month": "2027-13"}, dt.date(2026, 11, 23), 28),
        ({"week": "yesterday"}, dt.date(2026, 11, 23), 28),
        ({"month": "9999-12"}, dt.date(2026, 11, 23), 28),
    ],
)
def test_the_window_follows_the_week_and_month_parameters(params, first_day, days):
    window = window_from_params(params, now=NOW, tz=BERLIN)
    assert (window.first_day, window.days) == (first_day, days)


# --- The team page -------------------------------------------------------------------------------------


@pytest.fixture
def alpha(db):
    lead = UserFactory(username="lead-a")
    team, members = team_with_members(3, lead_user=lead, name="Alpha", slug="alpha", timezone="Europe/Berlin")
    ana, bruno, carla = members
    ana.name, bruno.name, carla.name = "Ana", "Bruno", "Carla"
    for member in members:
        member.save()
    rotation_of(
        team,
        [ana, bruno, carla],
        name="Alpha primary",
        start_local=dt.datetime(2026, 11, 23, 9),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    return lead, team, members


def team_page(client, team, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    response = client.get(reverse("admin:teams_team_change", args=[team.pk]) + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_team_page_shows_four_weeks_of_shifts_overrides_gaps_and_now_in_local_time(client, alpha):
    lead, team, (ana, bruno, carla) = alpha
    # Carla covers Ana on Friday 09:00-18:00 Berlin time.
    OverrideFactory(
        team=team,
        member=carla,
        start=dt.datetime(2026, 11, 27, 8, tzinfo=UTC),
        end=dt.datetime(2026, 11, 27, 17, tzinfo=UTC),
    )
    client.force_login(lead)

    page = team_page(client, team)

    assert 'id="timeline"' in page
    assert "Times in Europe/Berlin" in page
    assert "Schedule from Mon 23 Nov 2026 00:00 CET (Europe/Berlin) to Mon 21 Dec 2026 00:00 CET" in page
    assert '<div class="timeline-row" data-role="primary">' in page
    assert '<div class="timeline-row" data-role="secondary">' in page
    assert 'title="Bruno: Mon 30 Nov 2026 09:00 CET (Europe/Berlin) to Mon 7 Dec 2026 09:00 CET' in page
    assert "Carla (override): Fri 27 Nov 2026 09:00 CET (Europe/Berlin) to Fri 27 Nov 2026 18:00 CET" in page
    assert 'class="segment override"' in page
    # Nobody is secondary: the whole row is one red gap.
    assert 'class="segment gap" data-member="" style="left: 0.0000%; width: 100.0000%;"' in page
    assert "#timeline .segment.gap { background-color: #ba2121" in page
    assert 'class="now-line"' in page and 'title="Now: Thu 26 Nov 2026 13:00 CET (Europe/Berlin)"' in page
    # The table below, for screen readers and printing.
    table = page[page.index('id="timeline-table"') :]
    assert (
        "<td>Fri 27 Nov 2026 09:00 CET (Europe/Berlin)</td><td>Fri 27 Nov 2026 18:00 CET (Europe/Berlin)</td>" in table
    )
    assert "Carla (override)" in table and "Gap: nobody on call" in table


@time_machine.travel(NOW, tick=False)
def test_the_timeline_moves_by_week_and_jumps_to_a_month(client, alpha):
    lead, team, (ana, bruno, carla) = alpha
    client.force_login(lead)

    page = team_page(client, team)
    assert 'href="?week=2026-11-30#timeline"' in page and 'href="?week=2026-11-16#timeline"' in page

    next_week = team_page(client, team, week="2026-11-30")
    assert "Schedule from Mon 30 Nov 2026 00:00 CET (Europe/Berlin) to Mon 28 Dec 2026 00:00 CET" in next_week
    assert 'class="now-line"' not in next_week  # now is outside that window

    january = team_page(client, team, month="2027-01")
    assert "Schedule from Fri 1 Jan 2027 00:00 CET (Europe/Berlin) to Mon 1 Feb 2027 00:00 CET" in january
    assert 'name="month" value="2027-01"' in january
    # The shift that started on 28 Dec is on call into January, so January starts with it.
    assert "Carla: Mon 28 Dec 2026 09:00 CET (Europe/Berlin) to Mon 4 Jan 2027 09:00 CET" in january


@time_machine.travel(NOW, tick=False)
def test_the_same_person_primary_and_secondary_is_flagged(client, alpha):
    lead, team, (ana, bruno, carla) = alpha
    # Ana is primary this week and also booked as secondary on Friday.
    ShiftFactory(
        team=team,
        role=Role.SECONDARY,
        member=ana,
        start=dt.datetime(2026, 11, 27, 8, tzinfo=UTC),
        end=dt.datetime(2026, 11, 27, 20, tzinfo=UTC),
    )
    client.force_login(lead)

    page = team_page(client, team)

    assert "Ana is primary and secondary at once: Fri 27 Nov 2026 09:00 CET (Europe/Berlin)" in page
    assert page.count('class="double-booking"') == 2  # marked on both rows
    assert "role=secondary&amp;start=2026-11-27T09%3A00&amp;end=2026-11-27T21%3A00" in page


@time_machine.travel(NOW, tick=False)
def test_the_timeline_costs_the_same_queries_whatever_the_history(client, alpha, django_assert_max_num_queries):
    lead, team, (ana, bruno, carla) = alpha
    client.force_login(lead)
    url = reverse("admin:teams_team_change", args=[team.pk])
    client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as baseline:
        client.get(url)

    for week in range(1, 60):
        start = dt.datetime(2025, 1, 6, 8, tzinfo=UTC) + dt.timedelta(days=7 * week)
        ShiftFactory(team=team, role=Role.SECONDARY, member=bruno, start=start, end=start + dt.timedelta(days=7))
        OverrideFactory(team=team, member=carla, start=start, end=start + dt.timedelta(hours=4))
    for day in range(10):  # and a busy window: an override every day
        start = dt.datetime(2026, 11, 30, 8, tzinfo=UTC) + dt.timedelta(days=day)
        OverrideFactory(team=team, member=carla, start=start, end=start + dt.timedelta(hours=2))

    with django_assert_max_num_queries(len(baseline.captured_queries)):
        page = team_page(client, team)
    assert "Carla (override): Mon 30 Nov 2026 09:00 CET" in page
