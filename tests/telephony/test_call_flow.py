"""The call flow a lead shapes, walked as Twilio walks it: business hours and holidays with the desk ringing
at once, simultaneous ring, blocked and VIP callers, menus (a key, no key, 0), languages and voices."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from teams import services
from teams.models import Role
from telephony.models import Call, OutboundMessage
from tests.factories import MemberFactory, ShiftFactory, SupportNumberFactory, team_with_members
from tests.telephony.world import CALLER, FALLBACK_PHONE, WEB_NUMBER, sid

DESK = ["+493012349901", "+493012349902"]
WEEKDAYS_9_TO_18 = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]


def shape(team, **fields):
    services.team_update(team=team, **fields)


def numbers(dial):
    return [number.text for number in dial.findall("Number")]


@pytest.fixture
def desk(web):
    """Web with office hours 09:00-18:00 Berlin on weekdays and two desk phones. NOW is Tuesday 11:00 there."""
    shape(web.team, business_hours=WEEKDAYS_9_TO_18, desk_phones=DESK)
    return web


@pytest.fixture
def billing(db, clock):
    """A second team, fronted by Web's number at key 1: its own primary and no number of its own."""
    team, (primary,) = team_with_members(1, name="Billing", slug="billing", ring_timeout=25)
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
    return team, primary


@pytest.fixture
def menu(web, billing):
    number = web.team.numbers.get()
    number.menu = [{"digit": "1", "team": "billing"}]
    number.full_clean()
    number.save()
    return billing


# --- Business hours and the desk ------------------------------------------------------------------------


def test_in_business_hours_the_desk_phones_ring_at_once_each_screened(desk, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    assert numbers(dial) == DESK
    screens = {number.get("url") for number in dial.findall("Number")}
    assert len(screens) == 2  # each leg has its own screening, so each acceptance is its own

    after = call.ring(dial, {DESK[1]: "accept"})
    assert [verb.tag for verb in after] == ["Hangup"]
    logged = call.call()
    assert logged.outcome == Call.Outcome.ANSWERED and logged.answered_number == DESK[1]
    assert logged.answered_by is None
    assert [(a.target, a.phone) for a in logged.attempts.all()] == [("desk", DESK[0]), ("desk", DESK[1])]


def test_a_desk_nobody_accepts_within_the_ring_timeout_hands_over_to_the_on_call_chain(desk, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    assert dial.get("timeout") == "15"
    # One desk phone's personal voicemail answers (no key), the other rings out.
    after = call.ring(dial, {DESK[0]: "voicemail"})
    assert numbers(after.find("Dial")) == [desk.primary.phone]
    after = call.leg(after.find("Dial"), "accept")
    assert call.call().answered_by == desk.primary


def test_outside_business_hours_the_desk_is_skipped(desk, twilio, clock):
    clock.move_to(dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC))  # 18:30 in Berlin
    assert numbers(twilio().incoming().find("Dial")) == [desk.primary.phone]


def test_a_holiday_is_outside_business_hours_all_day(desk, twilio):
    shape(desk.team, holidays=[{"date": "2026-12-01", "name": "Betriebsausflug"}])
    assert numbers(twilio().incoming().find("Dial")) == [desk.primary.phone]


def test_without_business_hours_every_call_goes_to_the_on_call(web, twilio):
    shape(web.team, desk_phones=DESK)
    assert numbers(twilio().incoming().find("Dial")) == [web.primary.phone]


def test_the_desk_never_rings_the_callers_own_phone(desk, twilio):
    assert numbers(twilio(caller=DESK[0]).incoming().find("Dial")) == [DESK[1]]


def test_a_replayed_desk_ring_answers_the_same_and_writes_nothing_more(desk, twilio):
    """Twilio retries the Voice URL when our answer is slow: the same phones, the same screening URLs."""
    call = twilio()
    first, again = (call.incoming().find("Dial") for _ in range(2))
    assert numbers(again) == numbers(first) == DESK
    assert [n.get("url") for n in again.findall("Number")] == [n.get("url") for n in first.findall("Number")]
    assert Call.objects.count() == 1 and call.call().attempts.count() == 2


# --- Ring strategy --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_eager")
def test_simultaneous_rings_primary_and_secondary_at_once_then_fallback_then_voicemail(web, twilio):
    shape(web.team, ring_strategy="simultaneous")
    call = twilio()
    dial = call.incoming().find("Dial")
    assert numbers(dial) == [web.primary.phone, web.secondary.phone]
    after = call.ring(dial, {web.primary.phone: "pass"})
    assert numbers(after.find("Dial")) == [FALLBACK_PHONE]
    after = call.ring(after.find("Dial"), {})
    assert after.find("Record") is not None
    logged = call.call()
    assert [(a.target, a.dial_status) for a in logged.attempts.all()] == [
        ("primary", "passed"),
        ("secondary", "no-answer"),
        ("fallback", "no-answer"),
    ]


def test_simultaneous_first_to_accept_is_connected(web, twilio):
    shape(web.team, ring_strategy="simultaneous")
    call = twilio()
    call.ring(call.incoming().find("Dial"), {web.secondary.phone: "accept"})
    logged = call.call()
    assert logged.outcome == Call.Outcome.ANSWERED and logged.answered_by == web.secondary


@pytest.mark.parametrize("who", ["primary", "secondary"])
def test_simultaneous_marks_the_phones_not_connected_as_such(web, twilio, who):
    shape(web.team, ring_strategy="simultaneous")
    connected, other = (web.primary, web.secondary) if who == "primary" else (web.secondary, web.primary)
    call = twilio()
    call.ring(call.incoming().find("Dial"), {connected.phone: "accept"})
    attempts = {a.member: a for a in call.call().attempts.all()}
    assert (attempts[connected].dial_status, attempts[other].dial_status) == ("completed", "canceled")
    assert attempts[connected].dial_call_sid.startswith("CA") and attempts[other].dial_call_sid == ""


@pytest.mark.parametrize("bridged", ["primary", "secondary"])
def test_simultaneous_when_both_accept_the_leg_twilio_bridged_is_the_one_answered(web, twilio, bridged):
    """Both press 1 within a second; Twilio bridges one leg (the Dial action's DialCallSid) and hangs up the
    other. The call log and the fairness report credit the person the caller talked to."""
    shape(web.team, ring_strategy="simultaneous")
    call = twilio()
    dial = call.incoming().find("Dial")
    legs = {}
    for number in dial.findall("Number"):
        leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial", To=number.text)
        gather = call.post(number.get("url"), leg, whisper=True).find("Gather")
        assert list(call.post(gather.get("action"), {**leg, "Digits": "1"})) == []
        legs[number.text] = leg["CallSid"]
    winner, loser = (web.primary, web.secondary) if bridged == "primary" else (web.secondary, web.primary)
    status = {"DialCallStatus": "completed", "DialCallSid": legs[winner.phone], "DialCallDuration": "30"}
    assert [verb.tag for verb in call.post(dial.get("action"), call.params(**status))] == ["Hangup"]
    logged = call.call()
    assert (logged.outcome, logged.answered_by) == (Call.Outcome.ANSWERED, winner)
    attempts = {attempt.member: attempt for attempt in logged.attempts.all()}
    assert (attempts[winner].dial_status, attempts[loser].dial_status) == ("completed", "canceled")
    assert attempts[winner].dial_call_sid == legs[winner.phone]


def test_simultaneous_never_rings_the_caller_nor_our_own_numbers(web, twilio):
    shape(web.team, ring_strategy="simultaneous")
    assert numbers(twilio(caller=web.secondary.phone).incoming().find("Dial")) == [web.primary.phone]
    SupportNumberFactory(team=web.team, phone_number="+493012340077")
    web.secondary.phone = "+493012340077"  # written around the admin's check, as an old row could be
    web.secondary.save()
    assert numbers(twilio().incoming().find("Dial")) == [web.primary.phone]


# --- Caller lists ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_eager")
def test_a_blocked_caller_is_rejected_and_nothing_else_happens(desk, twilio):
    shape(desk.team, blocked_callers=[CALLER])
    call = twilio()
    root = call.incoming()
    assert [verb.tag for verb in root] == ["Reject"] and root.find("Reject").get("reason") == "rejected"
    call.status("busy", 0)
    logged = call.call()
    assert logged.outcome == Call.Outcome.BLOCKED and not logged.attempts.exists()
    assert not OutboundMessage.objects.exists()


def test_a_vip_skips_the_menu_and_the_desk_and_rings_primary_and_secondary_at_once(desk, menu, twilio):
    shape(desk.team, vip_callers=[CALLER])
    call = twilio()
    root = call.incoming()
    assert root.find("Gather") is None
    assert numbers(root.find("Dial")) == [desk.primary.phone, desk.secondary.phone]


# --- Menus ----------------------------------------------------------------------------------------------


def test_a_menu_key_routes_the_call_to_that_teams_whole_flow(web, menu, twilio):
    billing, billing_primary = menu
    call = twilio()
    root = call.incoming()
    gathers = root.findall("Gather")
    assert [verb.tag for verb in root] == ["Gather", "Gather", "Gather", "Redirect"]
    assert [g.get("timeout") for g in gathers] == ["5", "5", "5"]
    assert [say.text for say in gathers[0].findall("Say")] == ["Thanks for calling.", "For Billing, press 1."]
    assert [say.text for say in gathers[2].findall("Say")] == ["For Billing, press 1."]

    dial = call.press(gathers[1], "1").find("Dial")
    assert numbers(dial) == [billing_primary.phone] and dial.get("timeout") == "25"
    call.leg(dial, "accept")
    logged = call.call()
    assert (logged.team, logged.menu_digit, logged.answered_by) == (billing, "1", billing_primary)


@pytest.mark.parametrize("key", ["0", "7", "#"])
def test_zero_or_a_key_not_in_the_menu_routes_to_the_numbers_own_team(web, menu, twilio, key):
    call = twilio()
    dial = call.press(call.incoming().find("Gather"), key).find("Dial")
    assert numbers(dial) == [web.primary.phone]
    assert call.call().team == web.team


def test_a_menu_request_without_a_callsid_writes_nothing(web, menu, twilio):
    call = twilio()
    action = call.incoming().find("Redirect").text
    root = call.post(action, {})  # signed, but not what Twilio sends: no CallSid
    assert root.find("Dial") is None and root.find("Record") is not None  # the apology and a voicemail
    assert list(Call.objects.values_list("call_sid", flat=True)) == [call.call().call_sid]


def test_no_key_at_all_routes_to_the_numbers_own_team(web, menu, twilio):
    call = twilio()
    redirect = call.incoming().find("Redirect")
    dial = call.post(redirect.text, call.params()).find("Dial")
    assert numbers(dial) == [web.primary.phone]
    logged = call.call()
    assert (logged.team, logged.menu_digit) == (web.team, "")


def test_a_menu_choice_goes_through_that_teams_business_hours_and_desk(web, menu, twilio):
    billing, _ = menu
    shape(billing, business_hours=WEEKDAYS_9_TO_18, desk_phones=DESK)
    call = twilio()
    dial = call.press(call.incoming().find("Gather"), "1").find("Dial")
    assert numbers(dial) == DESK


@pytest.mark.usefixtures("celery_eager")
def test_a_menu_team_with_nobody_on_call_takes_a_voicemail_for_that_team(web, twilio, db):
    empty, _ = team_with_members(0, name="Sales", slug="sales")
    number = web.team.numbers.get()
    number.menu, number.menu_prompt = [{"digit": "2", "team": "sales"}], "Sales: two."
    number.save()
    call = twilio()
    root = call.incoming()
    assert root.find("Gather").findall("Say")[-1].text == "Sales: two."
    record = call.press(root.find("Gather"), "2").find("Record")
    call.record(record, recording_sid="RE" + "7" * 32)
    assert call.call().team == empty and call.call().outcome == Call.Outcome.VOICEMAIL


def test_a_replayed_key_press_answers_the_same_and_writes_nothing_more(web, menu, twilio):
    billing, billing_primary = menu
    call = twilio()
    gather = call.incoming().find("Gather")
    first, again = (call.press(gather, "1").find("Dial") for _ in range(2))
    assert numbers(again) == numbers(first) == [billing_primary.phone]
    assert again.find("Number").get("url") == first.find("Number").get("url")
    logged = call.call()
    assert (logged.team, logged.menu_digit, logged.attempts.count()) == (billing, "1", 1)


@pytest.mark.parametrize("stored", [{"1": "billing"}, ["billing", 1, None, {"team": ["billing"]}], "billing"])
def test_a_malformed_menu_stored_around_validation_still_reaches_the_own_team(web, menu, twilio, stored):
    web.team.numbers.update(menu=stored)
    root = twilio().incoming()
    assert root.find("Gather") is None
    assert numbers(root.find("Dial")) == [web.primary.phone]


def test_a_menu_naming_a_deleted_team_still_reaches_the_own_team(web, menu, twilio):
    billing, _ = menu
    call = twilio()
    gather = call.incoming().find("Gather")
    billing.delete()
    assert numbers(call.press(gather, "1").find("Dial")) == [web.primary.phone]


@pytest.mark.parametrize("lists", [{"blocked_callers": [CALLER]}, {"allowed_callers": ["+4917011112222"]}])
def test_a_team_that_takes_no_call_from_the_caller_is_left_out_of_the_menu(web, menu, twilio, lists):
    billing, _ = menu
    shape(billing, **lists)
    call = twilio()
    root = call.incoming()
    assert root.find("Gather") is None  # Billing was the only choice: no menu, Web's own flow
    assert numbers(root.find("Dial")) == [web.primary.phone]


@pytest.mark.parametrize(
    ("lists", "outcome"),
    [({"blocked_callers": [CALLER]}, Call.Outcome.BLOCKED), ({"allowed_callers": ["+4917011112222"]}, "refused")],
)
def test_a_key_to_a_team_that_takes_no_call_from_the_caller_is_refused(web, menu, twilio, lists, outcome):
    billing, _ = menu
    call = twilio()
    gather = call.incoming().find("Gather")
    shape(billing, **lists)  # changed while the caller listened to the menu
    root = call.press(gather, "1")
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "only takes calls from registered numbers" in root.find("Say").text
    logged = call.call()
    assert (logged.team, logged.menu_digit, logged.outcome) == (billing, "1", outcome)
    assert not logged.attempts.exists()
    call.status("completed", 5)
    assert call.call().outcome == outcome


def test_a_renamed_team_keeps_its_key(web, menu, twilio):
    billing, billing_primary = menu
    shape(billing, slug="payments")
    assert web.team.numbers.get().menu == [{"digit": "1", "team": "payments"}]
    call = twilio()
    assert numbers(call.press(call.incoming().find("Gather"), "1").find("Dial")) == [billing_primary.phone]


def test_a_team_cannot_take_the_key_of_a_slug_a_menu_still_names(web, menu, twilio):
    billing, _ = menu
    billing.delete()  # the menu's entry stays, naming nobody
    sales, _ = team_with_members(1, name="Sales", slug="sales")
    with pytest.raises(ValidationError) as refused:
        shape(sales, slug="billing")
    assert "slug" in refused.value.message_dict and WEB_NUMBER in str(refused.value)
    with pytest.raises(ValidationError):
        shape(team_with_members(0, name="New", slug="new")[0], slug="billing")
    call = twilio()
    assert call.incoming().find("Gather") is None  # the stale entry offers nothing


# --- Languages and voices -------------------------------------------------------------------------------


def test_portuguese_team_speaks_portuguese_with_its_voice(web, menu, twilio):
    shape(web.team, language="pt-br", voice="Polly.Camila", greeting="")
    call = twilio()
    say = call.incoming().find("Gather").find("Say")
    assert say.text == "Para Billing, tecle 1."
    assert say.get("language") == "pt-BR" and say.get("voice") == "Polly.Camila"


def test_callee_hears_their_own_language(web, twilio):
    shape(web.team, language="pt-br", voice="Polly.Camila")
    web.primary.language = "en"
    web.primary.save()
    call = twilio()
    whisper = call.screen(call.incoming().find("Dial"), child_sid="CA" + "5" * 32)
    say = whisper.find("Gather").find("Say")
    assert "Press 1 to accept, 2 to pass." in say.text
    assert say.get("language") == "en-US" and say.get("voice") is None


def test_portuguese_screening_and_voicemail(db, clock, twilio):
    team, (member,) = team_with_members(1, name="Suporte", language="pt-br", fallback_phone="")
    SupportNumberFactory(team=team, phone_number="+551130001000")
    ShiftFactory(team=team, role=Role.PRIMARY, member=member)
    call = twilio(to="+551130001000")
    dial = call.incoming().find("Dial")
    whisper = call.screen(dial, child_sid="CA" + "6" * 32)
    say = whisper.find("Gather").find("Say")
    assert say.get("language") == "pt-BR"
    assert "Tecle 1 para atender, 2 para passar." in say.text
    after = call.post(dial.get("action"), call.params(DialCallStatus="no-answer", DialCallSid="CA" + "6" * 32))
    assert "mensagem" in after.find("Say").text and after.find("Say").get("language") == "pt-BR"


@pytest.fixture
def suporte(db, clock):
    """A Portuguese team with a voice of its own and nobody on call: every call goes to its voicemail."""
    team, _ = team_with_members(0, name="Suporte", language="pt-br", voice="Polly.Camila", fallback_phone="")
    SupportNumberFactory(team=team, phone_number="+551130001000")
    return team


def portuguese(root) -> bool:
    """Every <Say> of the answer in Portuguese with the team's voice."""
    says = list(root.iter("Say"))
    return bool(says) and all((say.get("language"), say.get("voice")) == ("pt-BR", "Polly.Camila") for say in says)


@pytest.mark.usefixtures("celery_eager")
def test_portuguese_call_back_confirmation(suporte, twilio):
    call = twilio(to="+551130001000")
    prompt = call.incoming()
    assert portuguese(prompt)
    confirmed = call.press(prompt.find("Gather"), "1")
    assert portuguese(confirmed) and "Ligaremos de volta" in confirmed.find("Say").text
    assert call.call().outcome == Call.Outcome.CALLBACK


@pytest.mark.usefixtures("celery_eager")
def test_portuguese_message_after_another_key_and_its_thanks(suporte, twilio):
    call = twilio(to="+551130001000")
    again = call.press(call.incoming().find("Gather"), "5")
    assert portuguese(again) and "Deixe uma mensagem" in again.find("Say").text
    thanks = call.record(again.find("Record"), recording_sid="RE" + "8" * 32)
    assert portuguese(thanks) and thanks.find("Say").text == "Obrigado. Sua mensagem foi encaminhada. Até logo."
    assert call.call().outcome == Call.Outcome.VOICEMAIL


def test_a_greeting_recording_is_played_instead_of_the_spoken_greeting(web, menu, twilio):
    shape(web.team, greeting_audio_url="https://example.com/greeting.mp3")
    first = twilio().incoming().find("Gather")
    assert [child.tag for child in first] == ["Play", "Say"]
    assert first.find("Play").text == "https://example.com/greeting.mp3"
    assert first.find("Say").text == "For Billing, press 1."


def test_the_voice_fallback_url_speaks_english_without_the_database(web, twilio, django_assert_num_queries):
    shape(web.team, language="pt-br")
    call = twilio()
    with django_assert_num_queries(0):
        root = call.post(settings.PUBLIC_BASE_URL + "/telephony/voice/fallback/", call.params())
    assert root.find("Say").get("language") == "en-US" and "sorry" in root.find("Say").text


# --- The query budget -----------------------------------------------------------------------------------

# Every path: one read (the number, its team, its menu's teams, who is on call), one write (the Call and
# every dial attempt of its first ring: one statement on PostgreSQL, two on SQLite).
WITH_A_RING = 2 if connection.vendor == "postgresql" else 3


@pytest.fixture
def crowded(web, billing, clock):
    """Many teams on the number's menu, many members and holidays: nothing of it may cost a query."""
    teams = [billing[0]] + [team_with_members(2, name=f"Team {i}", slug=f"t{i}")[0] for i in range(8)]
    number = web.team.numbers.get()
    number.menu = [{"digit": str(i + 1), "team": team.slug} for i, team in enumerate(teams)]
    number.save()
    for i in range(30):
        MemberFactory(phone=f"+4915199{i:06d}")
    holidays = [{"date": f"2026-{m:02d}-{d:02d}", "name": "x"} for m in range(1, 12) for d in (3, 17)]
    for team in [web.team, *teams]:
        shape(team, business_hours=WEEKDAYS_9_TO_18 * 3, holidays=holidays, desk_phones=DESK)
    return web


def test_menu_path_query_counts(transactional_db, crowded, twilio, django_assert_max_num_queries):
    call = twilio()
    with django_assert_max_num_queries(2):  # the read, the Call
        gather = call.incoming().find("Gather")
    with django_assert_max_num_queries(WITH_A_RING):  # the chosen team's read; the Call's UPDATE, the attempts
        assert numbers(call.press(gather, "1").find("Dial")) == DESK


def test_menu_to_the_on_call_chain_query_count(transactional_db, crowded, twilio, clock, django_assert_max_num_queries):
    clock.move_to(dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.UTC))
    call = twilio()
    gather = call.incoming().find("Gather")
    with django_assert_max_num_queries(WITH_A_RING):  # the chosen team's read, the Call's UPDATE and the attempt
        call.press(gather, "1")


@pytest.mark.parametrize("hour", [10, 20])  # in and out of business hours (Berlin 11:00 and 21:00)
def test_business_hours_and_vip_paths_query_counts(
    transactional_db, crowded, twilio, clock, django_assert_max_num_queries, hour
):
    clock.move_to(dt.datetime(2026, 12, 1, hour, 0, tzinfo=dt.UTC))
    number = crowded.team.numbers.get()
    number.menu = []
    number.save()
    with django_assert_max_num_queries(WITH_A_RING):
        assert twilio().incoming().find("Dial") is not None
    shape(crowded.team, vip_callers=[CALLER], blocked_callers=["+4917099999999"])
    with django_assert_max_num_queries(WITH_A_RING):
        assert len(numbers(twilio().incoming().find("Dial"))) == 2
    with django_assert_max_num_queries(2):
        assert twilio(caller="+4917099999999").incoming().find("Reject") is not None


def test_the_menu_keeps_its_number_on_a_number_of_its_own(web, billing, twilio):
    """A number's menu may list its own team: that key is the same as no key."""
    number = web.team.numbers.get()
    number.menu = [{"digit": "1", "team": web.team.slug}, {"digit": "2", "team": "billing"}]
    number.save()
    call = twilio(to=WEB_NUMBER)
    assert numbers(call.press(call.incoming().find("Gather"), "1").find("Dial")) == [web.primary.phone]
    assert call.call().menu_digit == "1"


def test_the_key_pressed_is_shown_in_the_calls_api_and_the_admin(web, billing, twilio, client):
    number = web.team.numbers.get()
    number.menu = [{"digit": "4", "team": web.team.slug}, {"digit": "2", "team": "billing"}]
    number.save()
    call = twilio(to=WEB_NUMBER)
    call.press(call.incoming().find("Gather"), "4")
    client.force_login(web.lead.user)
    [listed] = client.get(f"/api/v1/teams/{web.team.slug}/calls/").json()["results"]
    assert listed["menu_digit"] == "4"
    page = client.get(f"/admin/telephony/call/{call.call().pk}/change/").content.decode()
    assert '<div class="readonly">4</div>' in page
