"""A team lead in a real browser: typing local times, previewing a rotation change."""

import datetime as dt
import json
import urllib.request
from zoneinfo import ZoneInfo

import pytest
import time_machine

from teams import services
from teams.models import Member, Role
from tests.factories import rotation_of, team_with_members

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def sao_paulo(lead_user, clock):
    team, members = team_with_members(
        3, lead_user=lead_user, name="Suporte", slug="suporte", timezone="America/Sao_Paulo"
    )
    for member, name in zip(members, ("Lia", "Ana", "Bruno"), strict=True):
        Member.objects.filter(pk=member.pk).update(name=name)
    rotation = rotation_of(
        team,
        [members[1], members[2]],
        name="Suporte primary",
        start_local=dt.datetime(2026, 11, 30, 9),
        shift_length=dt.timedelta(days=7),
        now=NOW,
    )
    return team, rotation


def _api_get(page, path, token):
    request = urllib.request.Request(page.base_url + path, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live test server
        return json.loads(response.read())


def test_a_lead_types_an_override_in_local_time_and_the_api_agrees(page, login, lead_user, sao_paulo):
    team, _ = sao_paulo
    login(lead_user)
    page.goto(page.base_url + "/admin/teams/override/add/")
    assert "America/Sao_Paulo" in page.inner_text("#override_form")
    page.select_option("#id_team", label="Suporte")
    page.select_option("#id_role", value="primary")
    page.select_option("#id_member", label="Ana")
    page.fill("#id_start", "2026-12-11T09:00")
    page.fill("#id_end", "2026-12-11T18:00")
    page.fill("#id_reason", "Ana covers Bruno on Friday")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert "was added successfully" in page.inner_text("body")
    assert "Fri 11 Dec 2026 09:00 -03 (America/Sao_Paulo)" in page.inner_text("#result_list")

    token, _ = services.token_create(user=lead_user)
    overrides = _api_get(page, "/api/v1/teams/suporte/overrides/", token)["results"]
    (override,) = [o for o in overrides if o["reason"] == "Ana covers Bruno on Friday"]
    start = dt.datetime.fromisoformat(override["start"].replace("Z", "+00:00"))
    assert start.astimezone(ZoneInfo("America/Sao_Paulo")).replace(tzinfo=None) == dt.datetime(2026, 12, 11, 9)
    assert page.blocked == []


@pytest.mark.usefixtures("celery_eager")
def test_a_rotation_edit_shows_its_preview_before_it_is_saved(page, login, lead_user, sao_paulo):
    team, rotation = sao_paulo
    login(lead_user)
    page.goto(page.base_url + f"/admin/teams/rotation/{rotation.pk}/change/")
    # Swap the two people: Bruno first, then Ana.
    page.select_option("#id_participants-0-member", label="Bruno")
    page.select_option("#id_participants-1-member", label="Ana")
    page.click("#rotation-preview")
    page.wait_for_selector("#rotation-preview-result")
    changes = page.inner_text("#preview-changes")
    assert "Mon 7 Dec 2026 09:00 -03 (America/Sao_Paulo)" in changes
    assert "Bruno" in changes and "Ana" in changes
    assert list(rotation.participants.order_by("position").values_list("member__name", flat=True)) == ["Ana", "Bruno"]
    page.click("#preview-save")
    page.wait_for_load_state()
    assert "was changed successfully" in page.inner_text("body")
    assert list(rotation.participants.order_by("position").values_list("member__name", flat=True)) == ["Bruno", "Ana"]
    assert page.blocked == []


def test_the_timeline_shows_an_override_a_gap_and_now_and_the_home_shows_who_is_on_call(
    page, login, lead_user, sao_paulo
):
    team, _ = sao_paulo
    ana = Member.objects.get(name="Ana")
    services.override_create(
        team=team,
        role=Role.PRIMARY,
        member=Member.objects.get(name="Bruno"),
        start=dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC),
        end=dt.datetime(2026, 12, 3, 21, tzinfo=dt.UTC),
        reason="Bruno covers Ana on Thursday",
    )
    login(lead_user)
    page.goto(page.base_url + f"/admin/teams/team/{team.pk}/change/")
    timeline = page.locator("#timeline")
    assert timeline.get_attribute("data-zone") == "America/Sao_Paulo"
    override = page.locator(".timeline-row[data-role=primary] .segment.override")
    assert override.count() == 1
    assert "Thu 3 Dec 2026 09:00 -03 (America/Sao_Paulo)" in override.first.get_attribute("title")
    assert page.locator(".timeline-row[data-role=secondary] .segment.gap").count() >= 1  # no secondary at all
    assert page.locator(".now-line").is_visible()
    assert page.locator(".timeline-row[data-role=primary] .segment.shift").first.is_visible()

    page.goto(page.base_url + "/admin/")
    row = page.locator("#lead-home section.lead-team[data-team=suporte] tr.oncall-now[data-role=primary]")
    assert ana.name in row.inner_text() and "Mon 7 Dec 2026 09:00 -03 (America/Sao_Paulo)" in row.inner_text()
    page.click("text=View site")
    page.wait_for_load_state()
    assert page.locator("#lead-home").is_visible()
    assert page.blocked == []
