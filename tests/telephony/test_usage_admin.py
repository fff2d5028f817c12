"""The leads' usage page: 12 months as a server-drawn SVG chart, a table, a CSV download; scoped to their teams."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from telephony import costs
from telephony.models import Call
from tests.factories import UserFactory, team_with_members
from tests.telephony.world import NOW, sid


def spend(team, *, seconds: int, at: dt.datetime):
    call = Call.objects.create(team=team, call_sid=sid("CA"), duration_seconds=seconds)
    Call.objects.filter(pk=call.pk).update(started_at=at)
    call.refresh_from_db()
    costs.call_charge_record(call=call)
    costs.leg_charge_record(call=call, dial_call_sid=sid("CA"), seconds=seconds)


def test_a_lead_sees_twelve_months_drawn_by_the_server_and_downloads_them(web, client):
    web.team.monthly_budget = Decimal("5.00")
    web.team.save()
    spend(web.team, seconds=600, at=NOW - dt.timedelta(hours=1))  # 10 minutes in and forwarded: 3.40
    spend(web.team, seconds=60, at=NOW.replace(month=2, day=10))  # February 2026: 0.34
    client.force_login(web.lead.user)

    page = client.get(f"/admin/usage/{web.team.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index('<svg id="usage-chart"')
    svg = html[start : html.index("</svg>", start)]
    assert len(re.findall(r'<g class="month"', svg)) == 12
    assert 'data-month="2026-01"' in svg and 'data-month="2026-12"' in svg and 'data-month="2025-12"' not in svg
    assert 'class="budget"' in svg
    assert "<script" not in svg and 'src="http' not in html  # nothing drawn by, or loaded from, elsewhere
    assert "December 2026" in html and "3.40" in html

    download = client.get(f"/admin/usage/{web.team.slug}/?format=csv")
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [row["month"] for row in rows][:2] == ["2026-01", "2026-02"] and rows[-1]["month"] == "2026-12"
    december, february = rows[-1], rows[1]
    assert (december["calls_in"], december["minutes_in"], december["minutes_forwarded"]) == ("1", "10", "10")
    assert december["cost_estimated"] == "3.40000" and december["cost_actual"] == "0.00000"
    assert february["cost_estimated"] == "0.34000" and december["currency"] == "USD"


def test_another_teams_usage_is_not_found_and_the_page_costs_the_same_queries(web, client):
    other, _ = team_with_members(1, lead_user=UserFactory(username="olga"), name="Billing")
    client.force_login(web.lead.user)
    assert client.get(f"/admin/usage/{other.slug}/").status_code == 404

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/admin/usage/{web.team.slug}/?format=csv").status_code == 200
        return len(captured)

    spend(web.team, seconds=30, at=NOW)
    few = queries()
    for day in range(40):
        spend(web.team, seconds=30, at=NOW - dt.timedelta(days=day * 7))
    assert queries() == few


def test_the_lead_home_links_each_teams_usage(web, client):
    client.force_login(web.lead.user)
    assert f'href="/admin/usage/{web.team.slug}/"' in client.get("/admin/").content.decode()
