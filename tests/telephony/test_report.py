"""The fairness report through the API (JSON and CSV) and the leads' admin page with its server-drawn chart."""

import csv
import datetime as dt
import io

import pytest
import time_machine

from teams.models import Member
from telephony.models import Alert, AlertEvent, Call, OutboundMessage
from tests.teams.world import WORLD_NOW, build_world

pytestmark = pytest.mark.django_db

# Mon 30 Nov 09:00 to Mon 7 Dec 09:00 in Berlin: Ana's whole first week as primary, less the lead's
# 12-hour override on Thursday 3 Dec.
WINDOW = "start=2026-11-30T09:00:00&end=2026-12-07T09:00:00"
LATER = WORLD_NOW + dt.timedelta(days=6)


@pytest.fixture
def world():
    with time_machine.travel(WORLD_NOW, tick=False):
        world = build_world()
        ana, bruno = world.others
        Call.objects.create(
            call_sid="CA" + "7" * 32,
            team=world.alpha,
            from_number="+4915100000009",
            answered_by=ana,
            outcome="answered",
        )
        alert = Alert.objects.create(team=world.alpha, summary="down")
        AlertEvent.objects.create(alert=alert, action="acknowledged", actor="Ana", member=ana)
        OutboundMessage.objects.create(
            to=ana.phone, body="page", kind="alert", team=world.alpha, member=ana, dedupe_key="p1"
        )
        OutboundMessage.objects.create(
            to=ana.phone, body="page", kind="alert", team=world.alpha, member=ana, dedupe_key="p2"
        )
        OutboundMessage.objects.create(
            to=bruno.phone, body="vm", kind="voicemail", team=world.alpha, member=bruno, dedupe_key="v1"
        )
    with time_machine.travel(LATER, tick=False):
        yield world


def by_name(report: dict) -> dict:
    return {row["member"]["name"]: row for row in report["members"]}


def test_the_report_adds_up_to_the_window_and_counts_nights_weekends_and_the_phones(
    world, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = world.client("reader").get(f"/api/v1/teams/alpha/report/?{WINDOW}")
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["window_hours"] == 168
    rows = by_name(report)
    for role in ("primary", "secondary"):
        members = sum(row["oncall_hours"][role] for row in report["members"])
        assert members + report["gaps"]["oncall_hours"][role] == pytest.approx(168)
    assert rows["Ana"]["oncall_hours"] == {"primary": 156, "secondary": 0}
    assert rows["Lead"]["oncall_hours"] == {"primary": 12, "secondary": 0}
    assert report["gaps"]["oncall_hours"] == {"primary": 0, "secondary": 168}
    # Seven nights of 22:00-07:00 Berlin, and the whole weekend of 5-6 Dec; the lead covered a Thursday day.
    assert rows["Ana"]["night_hours"] == 63 and rows["Ana"]["weekend_hours"] == 48
    assert rows["Lead"]["night_hours"] == 0 and rows["Lead"]["weekend_hours"] == 0
    assert rows["Ana"]["holiday_hours"] == 0
    assert (rows["Ana"]["calls_answered"], rows["Ana"]["alerts_acknowledged"], rows["Ana"]["pages_received"]) == (
        1,
        1,
        2,
    )
    assert rows["Bruno"]["voicemails"] == 1 and rows["Bruno"]["oncall_hours"]["primary"] == 0


def test_time_off_shows_in_the_report_as_a_gap(world):
    ana = world.others[0]
    created = world.client("lead").post(
        "/api/v1/teams/alpha/time-off/",
        {"member": ana.pk, "start": "2026-12-05T00:00:00", "end": "2026-12-06T00:00:00"},
        format="json",
    )
    assert created.status_code == 201, created.content
    report = world.client("lead").get(f"/api/v1/teams/alpha/report/?{WINDOW}").json()
    assert by_name(report)["Ana"]["oncall_hours"]["primary"] == 156 - 24
    assert report["gaps"]["oncall_hours"]["primary"] == 24
    assert by_name(report)["Ana"]["weekend_hours"] == 24


def test_the_csv_has_a_row_per_member_and_one_for_the_gaps(world):
    response = world.client("lead").get(f"/api/v1/teams/alpha/report/?{WINDOW}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["member"] for row in rows] == ["Ana", "Bruno", "Lead", "Reader", "(gap: nobody on call)"]
    assert sum(float(row["oncall_hours_primary"]) for row in rows) == pytest.approx(168)
    assert rows[0]["night_hours"] == "63.0" and rows[0]["pages_received"] == "2"


def test_bad_windows_and_other_teams_are_refused(world):
    backwards = world.client("lead").get("/api/v1/teams/alpha/report/?start=2026-12-07T00:00&end=2026-12-01T00:00")
    assert backwards.status_code == 400 and "end" in backwards.json()["error"]["fields"]
    assert world.client("other_lead").get(f"/api/v1/teams/alpha/report/?{WINDOW}").status_code == 404
    assert world.client("other_lead").get(f"/api/v1/teams/alpha/report/?{WINDOW}&format=csv").status_code == 404


def test_the_admin_page_draws_the_chart_on_the_server(world, client):
    client.force_login(world.lead.user)
    page = client.get("/admin/report/alpha/?start=2026-11-30&end=2026-12-06")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "<rect" in html and "Ana" in html
    assert "Europe/Berlin" in html
    assert "cdn" not in html.lower()
    client.force_login(Member.objects.get(user__username="other_lead").user)
    assert client.get("/admin/report/alpha/").status_code == 404
