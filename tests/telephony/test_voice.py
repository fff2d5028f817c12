"""Whole calls walked the way Twilio walks them: request the Voice URL, then follow the URLs in each TwiML
answer (screening whisper, key press, dial result, recording, transcription, status callback)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from teams.models import Role, Team
from telephony.models import Alert, Call, DialAttempt, OutboundMessage, Voicemail
from telephony.tasks.sms import sms_deliver
from telephony.tasks.voicemail import voicemail_notify_task, voicemail_raise_task, voicemails_notify_overdue_task
from telephony.voicemail import TRANSCRIPTION_WAIT_SECONDS, voicemail_notify_by_id
from tests.factories import ShiftFactory, SupportNumberFactory, UserFactory, team_with_members
from tests.telephony.world import CALLER, FALLBACK_PHONE, NOW, WEB_NUMBER, dial_action, sid, to_voicemail, voicemail_sms


def test_answered_by_primary_after_key_press(web, twilio):
    call = twilio()
    root = call.incoming()
    assert root.find("Say").text == "Thanks for calling."
    dial = root.find("Dial")
    assert dial.get("timeout") == "15" and dial.get("answerOnBridge") == "true"
    assert dial.find("Number").text == web.primary.phone

    after = call.leg(dial, "accept")
    assert [verb.tag for verb in after] == ["Hangup"]
    call.status("completed", 75)
    logged = call.call()
    assert logged.outcome == Call.Outcome.ANSWERED
    assert logged.answered_by == web.primary and logged.answered_number == web.primary.phone
    assert logged.duration_seconds == 75 and logged.status == "completed"
    assert [(a.target, a.dial_status, a.accepted_at is not None) for a in logged.attempts.all()] == [
        ("primary", "completed", True)
    ]


def test_primary_voicemail_answering_without_key_press_moves_on_to_secondary(web, twilio):
    call = twilio()
    after_primary = call.leg(call.incoming().find("Dial"), "voicemail")
    dial = after_primary.find("Dial")
    assert dial.find("Number").text == web.secondary.phone
    assert "try someone else" in after_primary.find("Say").text

    call.leg(dial, "accept")
    logged = call.call()
    assert logged.outcome == Call.Outcome.ANSWERED and logged.answered_by == web.secondary


@pytest.mark.usefixtures("celery_eager")
def test_no_answer_and_busy_escalate_to_fallback_then_voicemail(web, twilio):
    call = twilio()
    root = call.leg(call.incoming().find("Dial"), "no-answer")
    root = call.leg(root.find("Dial"), "busy")
    root = call.leg(root.find("Dial"), "no-answer")
    assert call.legs == [web.primary.phone, web.secondary.phone, FALLBACK_PHONE]
    record = root.find("Record")
    assert record is not None and "leave a message" in root.find("Say").text
    assert record.get("maxLength") == "120" and record.get("transcribe") == "true"

    goodbye = call.record(record, recording_sid="RE" + "1" * 32)
    assert [verb.tag for verb in goodbye] == ["Say", "Hangup"]
    call.status("completed", 90)
    logged = call.call()
    assert logged.outcome == Call.Outcome.VOICEMAIL
    assert [a.target for a in logged.attempts.all()] == ["primary", "secondary", "fallback"]
    voicemail = Voicemail.objects.get()
    assert (voicemail.call, voicemail.team, voicemail.from_number) == (logged, web.team, CALLER)
    # The voicemail is an alert: its page (the voicemail SMS) goes to the primary first.
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]
    assert Alert.objects.get().source == "voicemail"


@pytest.mark.usefixtures("celery_eager")
def test_nobody_on_call_goes_to_voicemail_and_the_leads_are_told(db, clock, twilio):
    team, (lead, _) = team_with_members(2, lead_user=UserFactory(username="boss"), name="Ops")
    SupportNumberFactory(team=team, phone_number="+493099990000")
    call = twilio(to="+493099990000")
    root = call.incoming()
    assert root.find("Dial") is None
    assert "Nobody is available" in root.find("Say").text
    call.record(root.find("Record"), recording_sid="RE" + "2" * 32, duration=7)
    assert [m.to for m in voicemail_sms()] == [lead.phone]
    body = voicemail_sms()[0].body
    assert CALLER in body and "0:07" in body and "Tue 1 Dec 11:00 CET" in body
    assert "RE" + "2" * 32 in body


@pytest.mark.usefixtures("celery_eager")
def test_repeated_recording_callbacks_store_one_voicemail_one_alert_and_one_page(web, twilio):
    call = twilio()
    root = call.leg(call.incoming().find("Dial"), "no-answer")
    root = call.leg(root.find("Dial"), "no-answer")
    root = call.leg(root.find("Dial"), "no-answer")
    record = root.find("Record")
    recording_sid = "RE" + "3" * 32
    call.record(record, recording_sid=recording_sid)
    call.recording_status(record, recording_sid=recording_sid)
    call.record(record, recording_sid=recording_sid)
    call.recording_status(record, recording_sid=recording_sid)
    call.transcription(record, recording_sid=recording_sid, text="Hello")
    call.transcription(record, recording_sid=recording_sid, text="Hello")
    assert Voicemail.objects.count() == 1
    alert = Alert.objects.get()
    assert [m.dedupe_key for m in voicemail_sms()] == [f"alert:{alert.pk}:step:1:{web.primary.pk}"]


@pytest.mark.usefixtures("celery_eager")
def test_the_sms_waits_for_the_transcription_and_includes_it(web, twilio, monkeypatch):
    waiting = []
    monkeypatch.setattr(voicemail_notify_task, "apply_async", lambda args, **kw: waiting.append((args, kw)))
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    record = root.find("Record")
    recording_sid = "RE" + "4" * 32
    call.record(record, recording_sid=recording_sid)
    assert voicemail_sms() == []  # waiting, a bounded time, for the transcription
    assert waiting[0][1]["countdown"] == TRANSCRIPTION_WAIT_SECONDS

    call.transcription(record, recording_sid=recording_sid, text="The checkout is down since noon.")
    voicemail = Voicemail.objects.get()
    assert voicemail.transcription == "The checkout is down since noon."
    [page] = voicemail_sms()
    assert '"The checkout is down since noon."' in page.body and page.to == web.primary.phone

    # The bounded wait runs out later: nobody gets a second SMS.
    voicemail_notify_by_id(waiting[0][0][0])
    assert len(voicemail_sms()) == 1


def test_a_broker_outage_loses_no_voicemail_notice(web, twilio, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(voicemail_notify_task, "apply_async", broker_down)
    monkeypatch.setattr(sms_deliver, "apply_async", broker_down)
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    call.record(root.find("Record"), recording_sid="RE" + "5" * 32)
    assert Voicemail.objects.count() == 1
    # Rows are in the outbox, queued: the SMS helper's sweep sends them when the broker is back.
    assert {m.status for m in voicemail_sms()} == {OutboundMessage.Status.QUEUED}
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]


def test_a_transcription_pages_at_once_with_the_broker_down(web, twilio, monkeypatch):
    """The transcription webhook hands the alert's raise to a task; when the broker is down it raises it
    itself: the page with the text is in the outbox all the same, once."""

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    waiting = []
    monkeypatch.setattr(voicemail_notify_task, "apply_async", lambda args, **kw: waiting.append(args[0]))
    monkeypatch.setattr(voicemail_raise_task, "apply_async", broker_down)
    monkeypatch.setattr(sms_deliver, "apply_async", broker_down)
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    record = root.find("Record")
    recording_sid = "RE" + "9" * 32
    call.record(record, recording_sid=recording_sid)
    assert voicemail_sms() == [] and len(waiting) == 1  # waiting for the transcription
    call.transcription(record, recording_sid=recording_sid, text="Please call back.")
    call.transcription(record, recording_sid=recording_sid, text="Please call back.")  # Twilio retried it
    [page] = voicemail_sms()
    assert '"Please call back."' in page.body and page.to == web.primary.phone
    assert Alert.objects.get().details.startswith("Please call back.")


def test_unknown_number_gets_a_polite_message(db, clock, twilio):
    call = twilio(to="+493000000000")
    root = call.incoming()
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "not in service" in root.find("Say").text
    assert call.call().outcome == Call.Outcome.UNKNOWN_NUMBER


def test_caller_allow_list(web, twilio):
    web.team.allowed_callers = ["+4917000000001"]
    web.team.save()
    stranger = twilio()
    root = stranger.incoming()
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "only takes calls from registered numbers" in root.find("Say").text
    assert stranger.call().outcome == Call.Outcome.REFUSED
    assert not DialAttempt.objects.exists()

    friend = twilio(caller="+4917000000001")
    assert friend.incoming().find("Dial/Number").text == web.primary.phone


def test_loop_guard_skips_our_own_numbers(web, twilio):
    # The primary's phone is (wrongly) another team's support number and the fallback is this team's own:
    # either would ring straight back into this webhook.
    other_team, _ = team_with_members(1, name="Other")
    SupportNumberFactory(team=other_team, phone_number=web.primary.phone)
    web.team.fallback_phone = WEB_NUMBER
    web.team.save()
    call = twilio()
    root = call.incoming()
    assert root.find("Dial/Number").text == web.secondary.phone
    root = call.leg(root.find("Dial"), "no-answer")
    assert root.find("Dial") is None and root.find("Record") is not None
    assert call.legs == [web.secondary.phone]


def test_the_same_person_in_both_roles_is_rung_once(web, twilio):
    web.team.shifts.filter(role=Role.SECONDARY).update(member=web.primary)
    call = twilio()
    root = call.leg(call.incoming().find("Dial"), "no-answer")
    assert root.find("Dial/Number").text == FALLBACK_PHONE


def test_caller_hanging_up_while_ringing_is_abandoned(web, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    root = call.post(
        dial.get("action"), call.params(CallStatus="completed", DialCallStatus="no-answer", DialCallSid=sid("CA"))
    )
    assert [verb.tag for verb in root] == ["Hangup"]
    call.status("completed", 9)
    assert call.call().outcome == Call.Outcome.ABANDONED
    assert DialAttempt.objects.count() == 1  # nobody else was rung for a caller who is gone


@pytest.mark.usefixtures("celery_eager")
def test_a_late_status_callback_keeps_the_voicemail_outcome(web, twilio):
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    call.status("completed", 60)  # the caller hung up while recording; the recording arrives after
    call.recording_status(root.find("Record"), recording_sid="RE" + "6" * 32)
    call.status("in-progress", 0)  # out of order: ignored
    logged = call.call()
    assert logged.outcome == Call.Outcome.VOICEMAIL and logged.status == "completed"


def test_screening_names_the_team(web, twilio):
    call = twilio()
    whisper = call.screen(call.incoming().find("Dial"))
    assert whisper.find("Gather/Say").text == (
        "Support call for Web from 4 9 1 7 0 1 2 3 4 5 6 7 8. Press 1 to accept, 2 to pass."
    )
    assert whisper.find("Gather").get("numDigits") == "1"


def test_a_key_press_for_another_calls_attempt_is_not_an_acceptance(web, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    gather_url = settings.PUBLIC_BASE_URL + "/telephony/voice/accept/?attempt=" + str(DialAttempt.objects.get().pk)
    root = call.post(gather_url, call.params(CallSid=sid("CA"), ParentCallSid="CA" + "9" * 32, Digits="1"))
    assert [verb.tag for verb in root] == ["Hangup"]
    after = call.leg(dial, "voicemail")
    assert after.find("Dial/Number").text == web.secondary.phone
    assert call.call().outcome == Call.Outcome.IN_PROGRESS


@pytest.mark.usefixtures("celery_eager")
def test_a_lost_transcription_wait_is_caught_by_the_overdue_sweep(web, twilio, clock, monkeypatch):
    # The countdown task is published and then lost (a worker restart flushed it): nothing arrives.
    monkeypatch.setattr(voicemail_notify_task, "apply_async", lambda *args, **kwargs: None)
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    call.record(root.find("Record"), recording_sid="RE" + "6" * 32)
    assert voicemail_sms() == []
    assert voicemails_notify_overdue_task() == "0 overdue voicemail alert(s) raised"  # still waiting
    clock.move_to(NOW + dt.timedelta(seconds=TRANSCRIPTION_WAIT_SECONDS + 61))
    assert voicemails_notify_overdue_task() == "1 overdue voicemail alert(s) raised"
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]
    assert voicemails_notify_overdue_task() == "0 overdue voicemail alert(s) raised"  # and only once
    assert len(voicemail_sms()) == 1 and Alert.objects.count() == 1


# --- Every DialCallStatus, with and without the screening key press -----------------------------------------


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


# --- Repeated and out-of-order requests ---------------------------------------------------------------------


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


@pytest.mark.usefixtures("celery_eager")
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
    assert Voicemail.objects.count() == 1 and [m.to for m in voicemail_sms()] == [web.primary.phone]


@pytest.mark.usefixtures("celery_eager")
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
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]


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


# --- Who is calling, and which number -----------------------------------------------------------------------


@pytest.mark.usefixtures("celery_eager")
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
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]


@pytest.mark.usefixtures("celery_eager")
@pytest.mark.parametrize("caller", ["+266696687", "anonymous", ""])
def test_withheld_callers_are_named_as_such_in_the_voicemail_sms(web, twilio, caller):
    call = twilio(caller=caller)
    call.record(to_voicemail(call), recording_sid="RE" + "d" * 32)
    [page] = voicemail_sms()
    assert "from a withheld number," in page.body


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


# --- Teams in every state -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_eager")
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


# --- What the caller hears is always valid TwiML ------------------------------------------------------------


@pytest.mark.parametrize("greeting", ["Hello\x0bthere", "\x1b[31m", "   ", "Bell\x07 & <b>bold</b>"])
def test_a_greeting_or_team_name_with_control_characters_is_still_valid_twiml(web, twilio, greeting):
    """A control character in a greeting (the API accepts one) made every answer unparsable XML: each
    caller of that team heard "an application error has occurred"."""
    Team.objects.filter(pk=web.team.pk).update(greeting=greeting, name=f"We\x1bb {greeting}")
    call = twilio()
    root = call.incoming()
    assert all((say.text or "").strip() for say in root.iter("Say"))
    whisper = call.screen(root.find("Dial"))
    assert "Press 1 to accept, 2 to pass." in whisper.find("Gather/Say").text
    to_voicemail(call)


def test_nobody_on_call_with_a_blank_greeting_still_says_the_prompt(db, clock, twilio):
    team, _ = team_with_members(0, name="Quiet", greeting=" \t ")
    SupportNumberFactory(team=team, phone_number="+493055550003")
    root = twilio(to="+493055550003").incoming()
    assert root.find("Say").text.startswith("Nobody is available right now.")


# --- Time zones of the voicemail SMS ------------------------------------------------------------------------


@pytest.mark.usefixtures("celery_eager")
@pytest.mark.parametrize(
    ("zone", "local"),
    [
        ("Pacific/Chatham", "Tue 1 Dec 23:45 +1345"),
        ("Asia/Kathmandu", "Tue 1 Dec 15:45 +0545"),
        ("America/St_Johns", "Tue 1 Dec 06:30 NST"),
    ],
)
def test_voicemail_sms_time_in_far_time_zones(web, twilio, zone, local):
    Team.objects.filter(pk=web.team.pk).update(timezone=zone)
    call = twilio()
    call.record(to_voicemail(call), recording_sid="RE" + "9" * 32)
    assert all(local in message.body for message in voicemail_sms())
