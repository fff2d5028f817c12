"""A lead's home (the admin index and where "View site" goes): per team they lead, who is on call, the next
hand-offs, gaps and double bookings with a prefilled override link, open alerts with working buttons, and
today's calls and voicemails, today being the team's own day."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from teams.models import Role
from telephony import alerts
from telephony.models import Alert, Call, Voicemail
from tests.factories import OverrideFactory, ShiftFactory, UserFactory, rotation_of, team_with_members
from tests.telephony.world import NOW  # Tue 1 Dec 2026 10:00 UTC = 07:00 in São Paulo

HOME = "/admin/"
UTC = dt.UTC


def _call(team, sid, at, **fields):
    call = Call.objects.create(call_sid=sid, team=team, from_number="+5511999990000", **fields)
    Call.objects.filter(pk=call.pk).update(started_at=at)
    return call


def _voicemail(team, sid, at, **fields):
    voicemail = Voicemail.objects.create(
        recording_sid=sid, recording_url=f"https://api.twilio.com/rec/{sid}", team=team, **fields
    )
    Voicemail.objects.filter(pk=voicemail.pk).update(created_at=at)
    return voicemail


@pytest.fixture
def web(db, clock):
    lead = UserFactory(username="lea")
    team, (lea, ana, bruno) = team_with_members(3, lead_user=lead, name="Web", slug="web", timezone="America/Sao_Paulo")
    for member, name in ((lea, "Lea"), (ana, "Ana"), (bruno, "Bruno")):
        member.name = name
        member.save()
    rotation_of(
        team,
        [ana, bruno],
        name="Web primary",
        start_local=dt.datetime(2026, 11, 30, 9),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    # Secondary: Bruno until Thursday 09:00, then nobody; Ana also secondary on Thursday while primary.
    ShiftFactory(
        team=team,
        role=Role.SECONDARY,
        member=bruno,
        start=dt.datetime(2026, 11, 30, 12, tzinfo=UTC),
        end=dt.datetime(2026, 12, 3, 12, tzinfo=UTC),
    )
    ShiftFactory(
        team=team,
        role=Role.SECONDARY,
        member=ana,
        start=dt.datetime(2026, 12, 3, 12, tzinfo=UTC),
        end=dt.datetime(2026, 12, 4, 12, tzinfo=UTC),
    )
    other_lead = UserFactory(username="olga")
    billing, _ = team_with_members(1, lead_user=other_lead, name="Billing", slug="billing")
    return {"lead": lead, "team": team, "ana": ana, "bruno": bruno, "billing": billing, "other_lead": other_lead}


def test_a_lead_sees_who_is_on_call_until_when_and_the_next_hand_offs(client, web):
    client.force_login(web["lead"])

    response = client.get(HOME)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="lead-home"' in page and 'data-team="web"' in page
    assert "times in America/Sao_Paulo" in page
    primary = page[page.index('<tr class="oncall-now" data-role="primary">') :]
    primary = primary[: primary.index("</tr>")]
    assert "Ana (" in primary and "Mon 7 Dec 2026 09:00 -03 (America/Sao_Paulo)" in primary
    assert "Mon 7 Dec 2026 09:00 -03 (America/Sao_Paulo): Bruno until Mon 14 Dec 2026 09:00 -03" in primary
    secondary = page[page.index('<tr class="oncall-now" data-role="secondary">') :]
    secondary = secondary[: secondary.index("</tr>")]
    assert "Bruno (" in secondary and "Thu 3 Dec 2026 09:00 -03 (America/Sao_Paulo)" in secondary
    # Another team's people and alerts are not on a lead's home.
    assert "Billing" not in page


def test_gaps_and_double_bookings_of_the_next_two_weeks_link_to_a_prefilled_override(client, web):
    team = web["team"]
    client.force_login(web["lead"])

    page = client.get(HOME).content.decode()

    assert "Secondary: nobody on call from Fri 4 Dec 2026 09:00 -03 (America/Sao_Paulo) to Tue 15 Dec 2026" in page
    assert "Ana is primary and secondary at once: Thu 3 Dec 2026 09:00 -03 (America/Sao_Paulo)" in page
    links = [
        parse_qs(urlsplit(href.replace("&amp;", "&")).query) for href in _hrefs(page, 'class="add-override" href="')
    ]
    assert {
        "team": [str(team.pk)],
        "role": ["secondary"],
        "start": ["2026-12-04T09:00"],
        "end": ["2026-12-15T07:00"],
    } in links
    assert {
        "team": [str(team.pk)],
        "role": ["secondary"],
        "start": ["2026-12-03T09:00"],
        "end": ["2026-12-04T09:00"],
    } in links
    assert all(
        urlsplit(href).path == reverse("admin:teams_override_add")
        for href in _hrefs(page, 'class="add-override" href="')
    )
    # The link opens the override form with the gap's local times typed in, in the team's zone.
    form = client.get(_hrefs(page, 'class="add-override" href="')[0].replace("&amp;", "&"))
    assert form.status_code == 200
    text = form.content.decode()
    assert 'value="2026-12-04T09:00"' in text and 'value="2026-12-15T07:00"' in text
    assert "In America/Sao_Paulo" in text


def _hrefs(page: str, marker: str) -> list[str]:
    return [chunk.split('"', 1)[0] for chunk in page.split(marker)[1:]]


def test_an_override_shows_on_the_home_as_cover(client, web):
    OverrideFactory(
        team=web["team"],
        role=Role.SECONDARY,
        member=web["bruno"],
        start=dt.datetime(2026, 12, 4, 12, tzinfo=UTC),
        end=dt.datetime(2026, 12, 20, 12, tzinfo=UTC),
    )
    client.force_login(web["lead"])
    page = client.get(HOME).content.decode()
    assert "Secondary: nobody on call" not in page


def test_todays_calls_and_voicemails_are_those_of_the_teams_own_day(client, web):
    team = web["team"]
    # 23:00 on Monday in São Paulo (already Tuesday in UTC) is yesterday; 01:00 on Tuesday is today.
    _call(team, "CA" + "1" * 32, dt.datetime(2026, 12, 1, 2, tzinfo=UTC), outcome="answered", answered_by=web["ana"])
    _call(team, "CA" + "2" * 32, dt.datetime(2026, 12, 1, 4, tzinfo=UTC), outcome="voicemail")
    _voicemail(team, "RE" + "1" * 32, dt.datetime(2026, 12, 1, 2, 30, tzinfo=UTC), transcription="yesterday's")
    _voicemail(team, "RE" + "2" * 32, dt.datetime(2026, 12, 1, 4, 1, tzinfo=UTC), transcription="the site is down")
    _call(web["billing"], "CA" + "3" * 32, NOW, outcome="answered")
    client.force_login(web["lead"])

    page = client.get(HOME).content.decode()

    assert "Today's calls (since Tue 1 Dec 2026 00:00 -03 (America/Sao_Paulo))" in page
    assert "Tue 1 Dec 2026 01:00 -03 (America/Sao_Paulo)" in page
    assert "Mon 30 Nov 2026 23:00" not in page
    assert page.count('<tr class="call">') == 1
    assert "the site is down" in page and "yesterday's" not in page


def test_the_superuser_sees_every_team_and_view_site_is_not_a_404(client, web):
    client.force_login(UserFactory(username="root", is_superuser=True))

    page = client.get(HOME).content.decode()

    assert 'data-team="web"' in page and 'data-team="billing"' in page
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == HOME


def test_a_staff_user_who_leads_nothing_gets_the_stock_index(client, web):
    client.force_login(UserFactory(username="stan"))
    response = client.get(HOME)
    assert response.status_code == 200
    assert "You lead no team yet." in response.content.decode()


def test_open_alerts_can_be_acknowledged_and_resolved_from_the_home(client, web):
    alert, _ = alerts.alert_raise(team=web["team"], summary="website is down")
    client.force_login(web["lead"])

    page = client.get(HOME).content.decode()
    assert f"#{alert.pk} website is down" in page
    assert f'action="/admin/telephony/alert/{alert.pk}/acknowledge/"' in page
    assert f'action="/admin/telephony/alert/{alert.pk}/resolve/"' in page

    response = client.post(f"/admin/telephony/alert/{alert.pk}/acknowledge/", {"next": HOME}, follow=True)
    assert response.redirect_chain[-1][0] == HOME
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (Alert.State.ACKNOWLEDGED, "lea")
    page = response.content.decode()
    assert f"Alert {alert.pk} acknowledged" in page
    assert f'action="/admin/telephony/alert/{alert.pk}/acknowledge/"' not in page  # only Resolve is left

    client.post(f"/admin/telephony/alert/{alert.pk}/resolve/", {"next": HOME})
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    assert "website is down" not in client.get(HOME).content.decode()


def test_the_home_costs_the_same_queries_whatever_the_history(client, web, django_assert_max_num_queries):
    team = web["team"]
    alerts.alert_raise(team=team, summary="website is down")
    client.force_login(web["lead"])
    client.get(HOME)
    with CaptureQueriesContext(connection) as baseline:
        client.get(HOME)

    for week in range(1, 50):  # a year of history, and a busy day
        start = dt.datetime(2025, 1, 6, 12, tzinfo=UTC) + dt.timedelta(days=7 * week)
        ShiftFactory(team=team, role=Role.SECONDARY, member=web["bruno"], start=start, end=start + dt.timedelta(days=7))
        OverrideFactory(team=team, member=web["ana"], start=start, end=start + dt.timedelta(hours=4))
    for n in range(30):
        _call(team, f"CA{n:032d}", NOW - dt.timedelta(minutes=n), outcome="answered", answered_by=web["ana"])
        _voicemail(team, f"RE{n:032d}", NOW - dt.timedelta(minutes=n))
        alerts.alert_raise(team=team, summary=f"disk {n} full")

    with django_assert_max_num_queries(len(baseline.captured_queries)):
        page = client.get(HOME).content.decode()
    assert "disk 29 full" in page and page.count('<tr class="call">') == 20
