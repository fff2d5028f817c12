"""A team lead shapes the call flow on the team page in a real browser: language, business hours in the
team's zone, a holiday, desk phones, ring strategy, blocked and VIP callers."""

import datetime as dt

import pytest
import time_machine

from teams.models import Team
from tests.factories import team_with_members

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime(2026, 12, 2, 12, tzinfo=dt.UTC)


@pytest.fixture
def suporte(lead_user):
    with time_machine.travel(NOW, tick=True):
        team, _ = team_with_members(
            2, lead_user=lead_user, name="Suporte", slug="suporte", timezone="America/Sao_Paulo"
        )
        yield team


def test_a_lead_sets_the_call_flow_on_the_team_page(page, login, lead_user, suporte):
    login(lead_user)
    page.goto(page.base_url + f"/admin/teams/team/{suporte.pk}/change/")
    page.select_option("#id_language", value="pt-br")
    page.fill("#id_voice", "Polly.Camila")
    page.fill("#id_business_hours", '[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "24:00"}]')
    page.fill("#id_holidays", '[{"date": "2026-12-25", "name": "Natal"}]')
    page.fill("#id_desk_phones", "+551130001001\n+551130001002")
    page.select_option("#id_ring_strategy", value="simultaneous")
    page.fill("#id_blocked_callers", "+4917099999999")
    page.fill("#id_vip_callers", "+4917011111111")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert "was changed successfully" in page.inner_text("body")
    team = Team.objects.get(pk=suporte.pk)
    assert (team.language, team.voice, team.ring_strategy) == ("pt-br", "Polly.Camila", "simultaneous")
    assert team.business_hours[0]["end"] == "24:00" and team.holidays == [{"date": "2026-12-25", "name": "Natal"}]
    assert team.desk_phones == ["+551130001001", "+551130001002"]
    assert (team.blocked_callers, team.vip_callers) == (["+4917099999999"], ["+4917011111111"])

    page.goto(page.base_url + f"/admin/teams/team/{suporte.pk}/change/")
    page.fill("#id_voice", "Polly.Nobody")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert "is not a voice Twilio can speak with" in page.inner_text("body")
    assert Team.objects.get(pk=suporte.pk).voice == "Polly.Camila"
