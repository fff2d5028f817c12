"""Review of the call flow and the inbound SMS webhook under input nobody planned for: odd caller ids,
replayed Twilio requests, team data that cannot be spoken, malformed numbers and database faults.

Calls are walked the way Twilio walks them (tests/telephony/test_voice.py's TwilioCall), every answer goes
through tests/twiml_rules.py.
"""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError, connection

from teams.models import Member, Role, Team
from telephony.models import Call, DialAttempt, Voicemail
from tests.factories import ShiftFactory, SupportNumberFactory, team_with_members
from tests.telephony.test_voice import CALLER, FALLBACK_PHONE, NOW, WEB_NUMBER, TwilioCall, sid, voicemail_sms
from tests.telephony.test_voice import web_team as voice_web
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

INCOMING = "/telephony/voice/incoming/"


@pytest.fixture
def web(db, clock):
    return voice_web(clock)


@pytest.fixture
def twilio(client, django_capture_on_commit_callbacks):
    return lambda **kw: TwilioCall(client, django_capture_on_commit_callbacks, **kw)


def to_voicemail(call: TwilioCall):
    root = call.incoming()
    while root.find("Dial") is not None:
        root = call.leg(root.find("Dial"), "no-answer")
    record = root.find("Record")
    assert record is not None
    return record


def dial_action(call: TwilioCall, dial, **params):
    return call.post(dial.get("action"), call.params(DialCallSid=sid("CA"), **params))


# --- every DialCallStatus, with and without the screening key press ---


@pytest.mark.parametrize("dial_status", ["completed", "answered"])
def test_answered_with_a_key_press_ends_the_call(web, twilio, dial_status):
    call = twilio()
    dial = call.incoming().find("Dial")
    number = dial.find("Number")
    leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial")
    gather = call.post(number.get("url"), leg, whisper=True).find("Gather")
    call.post(gather.get("action"), {**leg, "Digits": "1"})
    assert [verb.tag for verb in dial_action(call, dial, DialCallStatus=dial_status)] == ["Hangup"]
    assert call.call().outcome == Call.Outcome.ANSWERED and call.call().answered_by == web.primary


@pytest.mark.parametrize("key", ["#", "*"])
def test_hash_and_star_are_keys_too(web, twilio, key):
    """ "Press any key": with Twilio's default finishOnKey (#), # ended the Gather empty and hung up on the
    on-call person who pressed it."""
    call = twilio()
    dial = call.incoming().find("Dial")
    leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial")
    gather = call.post(dial.find("Number").get("url"), leg, whisper=True).find("Gather")
    assert gather.get("finishOnKey") == ""
    assert list(call.post(gather.get("action"), {**leg, "Digits": key})) == []
    dial_action(call, dial, DialCallStatus="completed")
    assert call.call().outcome == Call.Outcome.ANSWERED


@pytest.mark.parametrize(
    "dial_status",
    [
        "completed",
        "answered",
        "busy",
        "no-answer",
        "failed",
        "canceled",
        "",
        "exploded",
        pytest.param("x" * 500, id="500-chars"),
    ],
)
def test_without_a_key_press_every_dial_status_escalates(web, twilio, dial_status):
    call = twilio()
    dial = call.incoming().find("Dial")
    params = {"DialCallStatus": dial_status} if dial_status else {}
    root = dial_action(call, dial, **params)
    assert root.find("Dial/Number").text == web.secondary.phone
    assert call.call().outcome == Call.Outcome.IN_PROGRESS


@pytest.mark.parametrize("caller_status", ["completed", "canceled", "busy", "failed", "no-answer"])
def test_caller_gone_mid_escalation_rings_nobody_else(web, twilio, caller_status):
    call = twilio()
    root = call.leg(call.incoming().find("Dial"), "no-answer")  # now ringing the secondary
    root = dial_action(call, root.find("Dial"), CallStatus=caller_status, DialCallStatus="canceled")
    assert [verb.tag for verb in root] == ["Hangup"]
    assert DialAttempt.objects.count() == 2
    call.status("completed", 30)
    assert call.call().outcome == Call.Outcome.ABANDONED


# --- repeated and out-of-order requests ---


def test_a_repeated_dial_action_rings_the_same_next_person_not_a_third(web, twilio):
    """Twilio retried the Dial action (or a proxy doubled it): the answer repeats, it does not skip the
    secondary and ring the fallback phone."""
    call = twilio()
    dial = call.incoming().find("Dial")
    first = call.leg(dial, "no-answer")
    second = call.leg(dial, "no-answer")
    assert first.find("Dial/Number").text == second.find("Dial/Number").text == web.secondary.phone
    assert first.find("Dial").get("action") == second.find("Dial").get("action")
    assert [a.target for a in call.call().attempts.all()] == ["primary", "secondary"]
    # The secondary's leg ends; the stale first action comes once more: nobody is rung again.
    after = call.leg(first.find("Dial"), "busy")
    assert after.find("Dial/Number").text == FALLBACK_PHONE
    stale = call.leg(dial, "no-answer")
    assert stale.find("Dial") is None and stale.find("Record") is not None
    assert [a.target for a in call.call().attempts.all()] == ["primary", "secondary", "fallback"]


def test_screen_and_accept_twice_then_answered_once(web, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial")
    for _ in range(2):
        gather = call.post(dial.find("Number").get("url"), leg, whisper=True).find("Gather")
    for _ in range(2):
        assert list(call.post(gather.get("action"), {**leg, "Digits": "3"})) == []
    for _ in range(2):
        assert [verb.tag for verb in dial_action(call, dial, DialCallStatus="completed")] == ["Hangup"]
    call.status("completed", 40)
    assert call.call().outcome == Call.Outcome.ANSWERED
    assert DialAttempt.objects.count() == 1


def test_status_callback_before_and_after_everything(web, twilio):
    call = twilio()
    call.status("ringing", 0)  # before the Voice URL was even requested
    record = to_voicemail(call)
    call.status("completed", 50)
    call.recording_status(record, recording_sid="RE" + "a" * 32)  # before the Record action
    assert [verb.tag for verb in call.record(record, recording_sid="RE" + "a" * 32)] == ["Say", "Hangup"]
    call.status("completed", 50)
    logged = call.call()
    assert logged.outcome == Call.Outcome.VOICEMAIL and logged.duration_seconds == 50
    assert Voicemail.objects.count() == 1 and len(voicemail_sms()) == 2


@pytest.mark.parametrize("duration", ["-1", "99999999999999", "4.5", "soon"])
def test_odd_recording_durations_still_keep_the_voicemail(web, twilio, duration):
    call = twilio()
    record = to_voicemail(call)
    recording_sid = "RE" + "b" * 32
    params = call.params(
        RecordingSid=recording_sid,
        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
        RecordingDuration=duration,
    )
    assert "Thank you" in call.post(record.get("action"), params).find("Say").text
    assert Voicemail.objects.get().recording_sid == recording_sid
    assert len(voicemail_sms()) == 2


@pytest.mark.parametrize("duration", ["-5", "99999999999999"])
def test_odd_call_durations_still_close_the_call(web, twilio, duration):
    call = twilio()
    call.incoming()
    call.post(
        settings.PUBLIC_BASE_URL + "/telephony/voice/status/",
        call.params(CallStatus="completed", CallDuration=duration),
    )
    logged = call.call()
    assert logged.status == "completed" and logged.ended_at is not None
    assert logged.outcome == Call.Outcome.ABANDONED


# --- who is calling, and which number ---


@pytest.mark.parametrize(
    "caller",
    [
        "sip:someone.with.a.long.name@pbx.customer-example.com",
        "client:alice-from-the-support-desk-browser-phone",
        "+266696687",
        "anonymous",
        "",
        pytest.param("x" * 3000, id="3000-chars"),
        pytest.param("+49 170 1234\x005678", id="with-NUL"),
    ],
)
def test_any_caller_id_reaches_a_person_and_can_leave_a_voicemail(web, twilio, caller):
    """A SIP or browser caller's id is longer than the column: the INSERT failed on PostgreSQL, the caller got
    the apology, and the voicemail was lost with the second failed INSERT."""
    call = twilio(caller=caller)
    assert call.incoming().find("Dial/Number").text == web.primary.phone
    record = to_voicemail(call)
    call.record(record, recording_sid="RE" + "c" * 32)
    voicemail = Voicemail.objects.get()
    assert voicemail.call == call.call() and voicemail.team == web.team
    assert len(voicemail_sms()) == 2


@pytest.mark.parametrize("caller", ["+266696687", "anonymous", ""])
def test_withheld_callers_are_named_as_such_in_the_voicemail_sms(web, twilio, caller):
    call = twilio(caller=caller)
    call.record(to_voicemail(call), recording_sid="RE" + "d" * 32)
    assert all("from a withheld number," in message.body for message in voicemail_sms())


@pytest.mark.parametrize("caller", ["+266696687", "anonymous", "", "client:+4917000000001"])
def test_withheld_callers_are_refused_by_an_allow_list(web, twilio, caller):
    web.team.allowed_callers = ["+4917000000001"]
    web.team.save()
    call = twilio(caller=caller)
    assert "only takes calls from registered numbers" in call.incoming().find("Say").text
    assert call.call().outcome == Call.Outcome.REFUSED


def test_a_caller_id_with_spaces_is_matched_against_the_allow_list(web, twilio):
    web.team.allowed_callers = ["+4917000000001"]
    web.team.save()
    assert twilio(caller="+49 170 0000-0001").incoming().find("Dial/Number").text == web.primary.phone


@pytest.mark.parametrize("to", ["+49 30 1234 0001", "+49 (30) 1234-0001"])
def test_a_called_number_with_separators_finds_its_team(web, twilio, to):
    assert twilio(to=to).incoming().find("Dial/Number").text == web.primary.phone


@pytest.mark.parametrize(
    "to",
    [
        "",
        "client:support",
        "Client:Support",
        "sip:support@roulette.sip.twilio.com",
        "493012340001",
        pytest.param("x" * 3000, id="3000-chars"),
    ],
)
def test_a_called_number_we_do_not_know_is_answered_politely(web, twilio, to):
    root = twilio(to=to).incoming()
    assert root.find("Dial") is None
    assert root.find("Hangup") is not None


def test_the_on_call_person_calling_their_own_line_is_not_rung(web, twilio):
    """Ringing the caller's own phone (busy: they are on this call) wastes a ring timeout or, with call
    waiting, rings them on top of their own call."""
    call = twilio(caller=web.primary.phone)
    root = call.incoming()
    assert root.find("Dial/Number").text == web.secondary.phone
    root = call.leg(root.find("Dial"), "no-answer")
    assert root.find("Dial/Number").text == FALLBACK_PHONE
    assert call.leg(root.find("Dial"), "no-answer").find("Record") is not None
    assert web.primary.phone not in call.legs


def test_the_secondary_calling_is_not_rung_during_escalation(web, twilio):
    call = twilio(caller=web.secondary.phone)
    root = call.leg(call.incoming().find("Dial"), "no-answer")
    assert root.find("Dial/Number").text == FALLBACK_PHONE


# --- teams in every state ---


def test_a_team_without_members_or_rotations_takes_a_voicemail(db, clock, twilio):
    team, _ = team_with_members(0, name="Empty")
    SupportNumberFactory(team=team, phone_number="+493055550000")
    call = twilio(to="+493055550000")
    root = call.incoming()
    assert root.find("Dial") is None and root.find("Record") is not None
    call.record(root.find("Record"), recording_sid="RE" + "e" * 32)
    assert Voicemail.objects.get().team == team and voicemail_sms() == []


def test_a_team_with_only_a_secondary_rings_the_secondary(db, clock, twilio):
    team, (secondary,) = team_with_members(1, name="Half")
    SupportNumberFactory(team=team, phone_number="+493055550001")
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
    call = twilio(to="+493055550001")
    root = call.incoming()
    assert root.find("Dial/Number").text == secondary.phone
    assert call.leg(root.find("Dial"), "busy").find("Record") is not None


def test_a_fallback_phone_that_is_another_teams_number_is_never_dialled(web, twilio):
    other, _ = team_with_members(0, name="Other")
    SupportNumberFactory(team=other, phone_number="+493055550002")
    Team.objects.filter(pk=web.team.pk).update(fallback_phone="+493055550002")
    call = twilio()
    record = to_voicemail(call)
    assert record is not None and call.legs == [web.primary.phone, web.secondary.phone]


def test_a_fallback_phone_equal_to_the_primarys_is_rung_once(web, twilio):
    Team.objects.filter(pk=web.team.pk).update(fallback_phone=web.primary.phone)
    call = twilio()
    to_voicemail(call)
    assert call.legs == [web.primary.phone, web.secondary.phone]


# --- what the caller hears is always valid TwiML ---


@pytest.mark.parametrize("greeting", ["Hello\x0bthere", "\x1b[31m", "   ", "Bell\x07 & <b>bold</b>"])
def test_a_greeting_or_team_name_with_control_characters_is_still_valid_twiml(web, twilio, greeting):
    """A control character in a greeting (the API accepts one) made every answer unparsable XML: each
    caller of that team heard "an application error has occurred"."""
    Team.objects.filter(pk=web.team.pk).update(greeting=greeting, name=f"We\x1bb {greeting}")
    call = twilio()
    root = call.incoming()
    assert all((say.text or "").strip() for say in root.iter("Say"))
    dial = root.find("Dial")
    leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial")
    whisper = call.post(dial.find("Number").get("url"), leg, whisper=True)
    assert "Press any key to accept." in whisper.find("Gather/Say").text
    to_voicemail(call)


def test_nobody_on_call_with_a_blank_greeting_still_says_the_prompt(db, clock, twilio):
    team, _ = team_with_members(0, name="Quiet", greeting=" \t ")
    SupportNumberFactory(team=team, phone_number="+493055550003")
    root = twilio(to="+493055550003").incoming()
    assert root.find("Say").text.startswith("Nobody is available right now.")


# --- the internal URLs with attempt ids nobody handed out ---


@pytest.mark.parametrize("attempt", ["abc", "", "1.5", "-1", "99999999999999999999", "0x10"])
def test_attempt_ids_that_are_not_ours(web, twilio, attempt):
    call = twilio()
    call.incoming()
    base = settings.PUBLIC_BASE_URL + "/telephony/voice/"
    leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Digits="1")
    assert [verb.tag for verb in call.post(f"{base}screen/?attempt={attempt}", leg, whisper=True)] == ["Hangup"]
    assert [verb.tag for verb in call.post(f"{base}accept/?attempt={attempt}", leg)] == ["Hangup"]
    root = call.post(f"{base}dial-result/?attempt={attempt}", call.params(DialCallStatus="completed"))
    assert root.find("Record") is not None
    assert DialAttempt.objects.get().accepted_at is None and DialAttempt.objects.count() == 1


def test_an_attempt_of_another_call_is_neither_accepted_nor_escalated(web, twilio):
    mine, theirs = twilio(), twilio()
    dial = mine.incoming().find("Dial")
    theirs.incoming()
    # The other call presents our attempt id: no acceptance, no dial status, nobody rung on its behalf.
    dial_action(theirs, dial, DialCallStatus="completed")
    assert not DialAttempt.objects.exclude(dial_status="").exists()
    assert DialAttempt.objects.count() == 2
    assert mine.leg(dial, "accept").find("Hangup") is not None
    assert mine.call().outcome == Call.Outcome.ANSWERED and theirs.call().outcome == Call.Outcome.IN_PROGRESS


# --- the database failing in the middle of a request ---


def failing(table: str):
    """Any SQL statement touching `table` fails as if the database had gone away."""

    def wrapper(execute, sql, params, many, context):
        if table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


def test_database_failing_on_the_incoming_call_still_takes_the_voicemail(web, twilio):
    call = twilio()
    with failing("telephony_call"):
        root = call.incoming()
    assert "sorry" in root.find("Say").text.lower()
    assert not Call.objects.exists()
    # The database is back when the recording arrives: the call and the voicemail are logged, people told.
    call.record(root.find("Record"), recording_sid="RE" + "f" * 32)
    assert Voicemail.objects.get().call == call.call() and call.call().team == web.team
    assert len(voicemail_sms()) == 2


@pytest.mark.parametrize("table", ["telephony_dialattempt", "teams_shift", "teams_supportnumber"])
def test_database_failing_on_the_dial_action_ends_in_a_voicemail(web, twilio, table):
    call = twilio()
    dial = call.incoming().find("Dial")
    with failing(table):
        root = call.leg(dial, "no-answer")
    assert root.find("Record") is not None and root.find("Dial") is None


def test_database_failing_on_screening_and_status_answers_valid_twiml(web, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    record = to_voicemail(call)  # the same Dial again (a replayed request), then the chain to the voicemail
    with failing("telephony_"):
        whisper_leg = call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid)
        assert [v.tag for v in call.post(dial.find("Number").get("url"), whisper_leg, whisper=True)] == ["Hangup"]
        call.status("completed", 3)
        assert "Thank you" in call.record(record, recording_sid="RE" + "1" * 32).find("Say").text
    # The recording status callback comes once the database is back: the voicemail is kept after all.
    call.recording_status(record, recording_sid="RE" + "1" * 32)
    assert Voicemail.objects.get().call == call.call() and len(voicemail_sms()) == 2


# --- time zones of the voicemail SMS ---


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        ("Pacific/Chatham", "Tue 01 Dec 23:45 +1345"),
        ("Asia/Kathmandu", "Tue 01 Dec 15:45 +0545"),
        ("America/St_Johns", "Tue 01 Dec 06:30 NST"),
    ],
)
def test_voicemail_sms_time_in_far_time_zones(web, twilio, zone, local):
    Team.objects.filter(pk=web.team.pk).update(timezone=zone)
    call = twilio()
    call.record(to_voicemail(call), recording_sid="RE" + "9" * 32)
    assert all(local in message.body for message in voicemail_sms())


# --- public URL, tokens, query strings, methods ---


class PrefixedCall(TwilioCall):
    """Twilio follows absolute URLs; behind a proxy that strips PUBLIC_BASE_URL's path, Django sees the rest."""

    token = None

    def post(self, url, params, *, whisper=False, kind="voice"):
        base = settings.PUBLIC_BASE_URL
        assert url.startswith(base + "/telephony/"), url
        with self.capture(execute=True):
            response = post_signed(self.client, url[len(base) :], params, token=self.token)
        return check_twiml(response, whisper=whisper, kind=kind)


def test_a_whole_call_under_a_public_url_with_a_path_prefix(web, client, django_capture_on_commit_callbacks, settings):
    settings.PUBLIC_BASE_URL = "https://gateway.example.org/roulette"
    call = PrefixedCall(client, django_capture_on_commit_callbacks)
    root = call.incoming()
    assert root.find("Dial").get("action").startswith("https://gateway.example.org/roulette/telephony/voice/")
    call.leg(root.find("Dial"), "accept")
    assert call.call().outcome == Call.Outcome.ANSWERED


def test_a_whole_call_signed_with_the_secondary_token(web, client, django_capture_on_commit_callbacks, settings):
    settings.TWILIO_AUTH_TOKEN_SECONDARY = "the-new-token"
    call = PrefixedCall(client, django_capture_on_commit_callbacks)
    call.token = "the-new-token"
    call.record(to_voicemail(call), recording_sid="RE" + "8" * 32)
    assert Voicemail.objects.count() == 1


def test_a_query_string_on_the_voice_url_is_signed_and_kept_out_of_our_urls(web, client, clock):
    params = {"CallSid": sid("CA"), "From": CALLER, "To": WEB_NUMBER, "CallStatus": "ringing"}
    root = check_twiml(post_signed(client, INCOMING + "?source=pbx&attempt=7", params))
    assert root.find("Dial/Number").text == web.primary.phone
    assert "source" not in root.find("Dial").get("action")


@pytest.mark.parametrize(
    "path",
    [
        INCOMING,
        "/telephony/voice/screen/?attempt=1",
        "/telephony/voice/accept/?attempt=1",
        "/telephony/voice/dial-result/?attempt=1",
        "/telephony/voice/recording/",
        "/telephony/voice/status/",
        "/telephony/sms/incoming/",
    ],
)
def test_get_requests_change_nothing(web, client, path):
    assert client.get(path, {"CallSid": "CA1", "To": WEB_NUMBER, "Digits": "1"}).status_code == 405
    assert not Call.objects.exists() and DialAttempt.objects.count() == 0


def test_huge_parameters_are_valid_twiml(web, client, clock):
    params = {
        "CallSid": "CA" + "7" * 32,
        "From": "+4917" + "1" * 10_000,
        "To": WEB_NUMBER,
        "CallStatus": "ringing" * 1000,
        "Extra": "z" * 200_000,
    }
    root = check_twiml(post_signed(client, INCOMING, params))
    assert root.find("Dial/Number").text == web.primary.phone
    # A CallSid of the wrong shape is no Twilio call (Twilio's ids are CA + 32 hex digits): safe TwiML,
    # and nothing is written for it.
    forged = check_twiml(post_signed(client, INCOMING, {**params, "CallSid": "CA" + "7" * 10_000}))
    assert forged.find("Dial") is None
    assert not Call.objects.filter(call_sid__startswith="CA" + "7" * 33).exists()


# --- the incoming webhook's query budget on the paths added here ---


@pytest.mark.parametrize(
    "caller", ["primary", "+49 170 0000-0001", pytest.param("sip:" + "a" * 60 + "@pbx.example.com", id="long-sip")]
)
def test_incoming_stays_within_five_queries(transactional_db, client, caller, django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = team_with_members(2, name="Budget", allowed_callers=[])
        SupportNumberFactory(team=team, phone_number=WEB_NUMBER)
        ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
        ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
        caller = primary.phone if caller == "primary" else caller
        params = {"CallSid": sid("CA"), "From": caller, "To": WEB_NUMBER, "CallStatus": "ringing"}
        connection.ensure_connection()
        with django_assert_max_num_queries(5):
            root = check_twiml(post_signed(client, INCOMING, params))
    assert root.find("Dial/Number").text == (secondary.phone if caller == primary.phone else primary.phone)


# --- inbound SMS ---


def sms(client, sender: str, body: str):
    params = {"MessageSid": sid("SM"), "From": sender, "To": WEB_NUMBER, "Body": body, "NumMedia": "0"}
    root = check_twiml(post_signed(client, "/telephony/sms/incoming/", params), kind="messaging")
    return [message.text for message in root.findall("Message")]


def test_sms_who_with_names_that_cannot_go_in_xml(web, client):
    Member.objects.filter(pk=web.primary.pk).update(name="Ana\x0b\x1b")
    Team.objects.filter(pk=web.team.pk).update(name="Web\x08")
    (reply,) = sms(client, web.primary.phone, "WHO")
    assert "primary Ana" in reply


def test_sms_who_for_a_member_of_many_teams_fits_one_message(web, client):
    for i in range(40):
        team, _ = team_with_members(0, name=f"A team with a rather long name number {i:02d}")
        team.memberships.create(member=web.primary)
    (reply,) = sms(client, web.primary.phone, "WHO")
    assert len(reply) <= 1600


@pytest.mark.parametrize("body", ["x" * 100_000, "\x00STOP", "", "WHO\x00"])
def test_sms_odd_bodies_are_valid_twiml(web, client, body):
    sms(client, web.primary.phone, body)
    sms(client, "", body)
    sms(client, "anonymous", body)
