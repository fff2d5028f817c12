"""A lead shapes the call flow through the API and the admin: every setting is read back as written, and bad
input is a 400 (or a form error) naming the field. The calls themselves: tests/telephony/test_call_flow.py."""

from __future__ import annotations

import pytest

from teams.models import Member, SupportNumber, Team
from tests.factories import TeamFactory
from tests.teams.world import NO_INLINE_ROWS, error_fields

pytestmark = pytest.mark.usefixtures("_fresh_throttle")

FLOW = {
    "language": "pt-br",
    "voice": "Polly.Camila",
    "greeting_audio_url": "https://example.com/ola.mp3",
    "business_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "24:00"}],
    "holidays": [{"date": "2026-12-25", "name": "Natal"}],
    "desk_phones": ["+551130001001", "+551130001002"],
    "ring_strategy": "simultaneous",
    "blocked_callers": ["+4917099999999"],
    "vip_callers": ["+4917011111111"],
}


def test_a_lead_sets_the_whole_call_flow_and_reads_it_back(world):
    lead = world.client("lead")
    response = lead.patch("/api/v1/teams/alpha/", FLOW, format="json")
    assert response.status_code == 200, response.json()
    body = lead.get("/api/v1/teams/alpha/").json()
    assert {key: body[key] for key in FLOW} == FLOW
    team = Team.objects.get(slug="alpha")
    assert team.ring_strategy == "simultaneous" and team.holidays == FLOW["holidays"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "de"),
        ("voice", "Polly.Nobody"),
        ("voice", "robot"),
        ("greeting_audio_url", "http://example.com/a.mp3"),
        ("business_hours", [{"days": ["monday"], "start": "09:00", "end": "18:00"}]),
        ("business_hours", [{"days": ["mon"], "start": "18:00", "end": "09:00"}]),
        ("business_hours", [{"days": ["mon"], "start": "09:00", "end": "24:30"}]),
        ("business_hours", [{"days": ["mon"], "start": "9", "end": "18:00"}]),
        ("business_hours", {"mon": "09-18"}),
        ("holidays", [{"date": "25.12.2026", "name": "Natal"}]),
        ("holidays", [{"date": "2026-12-25"}, {"date": "2026-12-25"}]),
        ("desk_phones", ["030 1234"]),
        ("desk_phones", ["+551130001001", "+551130001001"]),
        ("desk_phones", [f"+5511300010{i:02d}" for i in range(11)]),
        ("desk_phones", ["+493012345678"]),  # one of our own support numbers: it would loop
        ("ring_strategy", "random"),
        ("blocked_callers", ["not a phone"]),
        ("vip_callers", "+4917011111111"),
    ],
)
def test_bad_call_flow_settings_are_a_400_naming_the_field(world, field, value):
    lead = world.client("lead")
    response = lead.patch("/api/v1/teams/alpha/", {field: value}, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert getattr(Team.objects.get(slug="alpha"), field) == getattr(world.alpha, field)


def test_a_member_may_hear_and_read_their_own_language(world):
    lead = world.client("lead")
    member = world.others[0]
    response = lead.patch(f"/api/v1/teams/alpha/members/{member.pk}/", {"language": "pt-br"}, format="json")
    assert response.status_code == 200, response.json()
    assert Member.objects.get(pk=member.pk).language == "pt-br"
    assert lead.patch(f"/api/v1/teams/alpha/members/{member.pk}/", {"language": "fr"}, format="json").status_code == 400


def number_url(world):
    return f"/api/v1/teams/alpha/numbers/{world.alpha.numbers.get().pk}/"


def test_a_menu_names_teams_the_lead_may_change(world):
    lead = world.client("lead")
    extra = TeamFactory(slug="billing", name="Billing")
    response = lead.patch(number_url(world), {"menu": [{"digit": "1", "team": "bravo"}]}, format="json")
    assert response.status_code == 400 and "menu" in error_fields(response)  # bravo is another lead's team
    response = lead.patch(number_url(world), {"menu": [{"digit": "1", "team": "billing"}]}, format="json")
    assert response.status_code == 400  # nobody made this lead a lead of billing
    root = world.client("root")
    response = root.patch(
        number_url(world),
        {"menu": [{"digit": "1", "team": "billing"}, {"digit": "2", "team": "bravo"}], "menu_prompt": ""},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["menu"] == [{"digit": "1", "team": "billing"}, {"digit": "2", "team": "bravo"}]
    assert SupportNumber.objects.get(pk=world.alpha.numbers.get().pk).menu[0]["team"] == extra.slug


@pytest.mark.parametrize(
    "menu",
    [
        [{"digit": "0", "team": "alpha"}],
        [{"digit": "10", "team": "alpha"}],
        [{"digit": 1, "team": "alpha"}],
        [{"digit": "1", "team": "alpha"}, {"digit": "1", "team": "alpha"}],
        [{"digit": "1"}],
        [{"digit": "1", "team": "nobody-has-this"}],
        {"1": "alpha"},
    ],
)
def test_bad_menus_are_a_400_naming_the_menu(world, menu):
    response = world.client("root").patch(number_url(world), {"menu": menu}, format="json")
    assert response.status_code == 400, response.json()
    assert "menu" in error_fields(response)


def test_the_admin_team_page_shows_and_saves_the_call_flow(world, client):
    client.force_login(world.lead.user)
    url = f"/admin/teams/team/{world.alpha.pk}/change/"
    page = client.get(url).content.decode()
    for field in ("business_hours", "holidays", "desk_phones", "ring_strategy", "blocked_callers", "vip_callers"):
        assert f'name="{field}"' in page
    assert 'name="language"' in page and 'name="voice"' in page and 'name="greeting_audio_url"' in page
    form = {
        "slug": "alpha",
        "name": "Alpha",
        "timezone": "Europe/Berlin",
        "ring_timeout": 20,
        "greeting": "",
        "fallback_phone": "",
        "reminder_lead_minutes": 1440,
        "ack_timeout_minutes": 5,
        "alert_pages_per_hour": 20,
        "allowed_callers": "",
        "language": "pt-br",
        "voice": "",
        "greeting_audio_url": "",
        "business_hours": '[{"days": ["mon"], "start": "09:00", "end": "24:00"}]',
        "holidays": '[{"date": "2026-12-24", "name": "Véspera de Natal"}]',
        "desk_phones": "+551130001001, +551130001002",
        "ring_strategy": "sequential",
        "blocked_callers": "+4917099999999",
        "vip_callers": "",
        **NO_INLINE_ROWS,
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    team = Team.objects.get(slug="alpha")
    assert team.desk_phones == ["+551130001001", "+551130001002"] and team.blocked_callers == ["+4917099999999"]
    assert team.business_hours[0]["end"] == "24:00" and team.language == "pt-br"

    bad = client.post(url, {**form, "business_hours": '[{"days": ["mon"], "start": "18:00", "end": "09:00"}]'})
    assert bad.status_code == 200
    assert "A window ends after it starts" in bad.content.decode()


def test_the_admin_number_page_refuses_a_menu_with_another_leads_team(world, client):
    client.force_login(world.lead.user)
    number = world.alpha.numbers.get()
    url = f"/admin/teams/supportnumber/{number.pk}/change/"
    assert 'name="menu"' in client.get(url).content.decode()
    form = {"team": world.alpha.pk, "phone_number": number.phone_number, "sms_enabled": "on", "menu_prompt": ""}
    response = client.post(url, {**form, "menu": '[{"digit": "1", "team": "bravo"}]'})
    assert response.status_code == 200 and "No team you may change is called bravo." in response.content.decode()
    response = client.post(url, {**form, "menu": '[{"digit": "1", "team": "alpha"}]'})
    assert response.status_code == 302
    assert SupportNumber.objects.get(pk=number.pk).menu == [{"digit": "1", "team": "alpha"}]


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("pt-br", "man"),
        ("pt-br", "woman"),
        ("pt-br", "Polly.Joanna"),
        ("pt-br", "Google.en-US-Wavenet-A"),
        ("en", "Polly.Camila"),
        ("en", "Polly.Thiago-Neural"),
        ("en", "Google.pt-BR-Wavenet-A"),
        ("en", "Polly.Amy"),  # en-GB: our English prompts say language="en-US"
    ],
)
def test_a_voice_that_does_not_speak_the_teams_language_is_a_400_on_the_voice(world, language, voice):
    lead = world.client("lead")
    response = lead.patch("/api/v1/teams/alpha/", {"language": language, "voice": voice}, format="json")
    assert response.status_code == 400, response.json()
    assert "voice" in error_fields(response)
    team = Team.objects.get(slug="alpha")
    assert (team.language, team.voice) == (world.alpha.language, world.alpha.voice)


@pytest.mark.parametrize(
    ("language", "voice"),
    [
        ("pt-br", "alice"),
        ("pt-br", "Polly.Vitoria"),
        ("pt-br", "Google.pt-BR-Wavenet-A"),
        ("pt-br", ""),
        ("en", "alice"),
        ("en", "man"),
        ("en", "Polly.Joanna-Neural"),
        ("en", "Google.en-US-Neural2-C"),
    ],
)
def test_a_voice_that_speaks_the_teams_language_is_accepted(world, language, voice):
    response = world.client("lead").patch("/api/v1/teams/alpha/", {"language": language, "voice": voice}, format="json")
    assert response.status_code == 200, response.json()
    assert (Team.objects.get(slug="alpha").language, Team.objects.get(slug="alpha").voice) == (language, voice)


def test_changing_the_language_checks_the_voice_again(world):
    lead = world.client("lead")
    assert lead.patch("/api/v1/teams/alpha/", {"language": "en", "voice": "man"}, format="json").status_code == 200
    response = lead.patch("/api/v1/teams/alpha/", {"language": "pt-br"}, format="json")
    assert response.status_code == 400 and "voice" in error_fields(response)
    assert "Polly.Camila" in str(response.json())  # the voices that would do
    assert Team.objects.get(slug="alpha").language == "en"


def test_the_admin_shows_a_voice_of_another_language_on_the_voice_field(world, client):
    client.force_login(world.lead.user)
    url = f"/admin/teams/team/{world.alpha.pk}/change/"
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() if form[name].value() is not None else "" for name in form.fields}
    for prefix in ("memberships", "numbers"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0",
                 f"{prefix}-MAX_NUM_FORMS": "1000"}  # fmt: skip
    response = client.post(url, {**data, "language": "pt-br", "voice": "Polly.Joanna"})
    assert response.status_code == 200
    assert "voice" in response.context["adminform"].form.errors
    assert Team.objects.get(slug="alpha").voice == world.alpha.voice


def test_caller_lists_and_desk_phones_are_shown_to_leads_only(world):
    lists = {
        "allowed_callers": ["+4917011111111", "+4917022222222"],
        "blocked_callers": ["+4917099999999"],
        "vip_callers": ["+4917011111111"],
        "desk_phones": ["+551130001001"],
    }
    assert world.client("lead").patch("/api/v1/teams/alpha/", lists, format="json").status_code == 200
    led = world.client("lead").get("/api/v1/teams/alpha/").json()
    assert {key: led[key] for key in lists} == lists
    for body in (
        world.client("reader").get("/api/v1/teams/alpha/").json(),
        world.client("reader").get("/api/v1/teams/").json()["results"][0],
    ):
        assert {key: body[key] for key in lists} == dict.fromkeys(lists)
        assert body["language"] == "en"  # the rest of the settings stay readable
    assert world.client("root").get("/api/v1/teams/alpha/").json()["blocked_callers"] == lists["blocked_callers"]


def test_renaming_a_team_rewrites_the_menus_naming_it_and_a_menus_slug_is_not_for_the_taking(world):
    root = world.client("root")
    TeamFactory(slug="billing", name="Billing")
    menu = [{"digit": "1", "team": "billing"}, {"digit": "2", "team": "bravo"}]
    assert root.patch(number_url(world), {"menu": menu}, format="json").status_code == 200
    assert root.patch("/api/v1/teams/bravo/", {"slug": "bravo-ops"}, format="json").status_code == 200
    number = root.get(number_url(world)).json()
    assert number["menu"] == [{"digit": "1", "team": "billing"}, {"digit": "2", "team": "bravo-ops"}]
    Team.objects.get(slug="billing").delete()
    lead = world.client("lead")
    response = lead.patch("/api/v1/teams/alpha/", {"slug": "billing"}, format="json")
    assert response.status_code == 400 and "slug" in error_fields(response)
    assert Team.objects.filter(slug="alpha").exists()
