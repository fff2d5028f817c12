"""Whole calls walked the way Twilio walks them: request the Voice URL, then follow the URLs in each TwiML
answer (screening whisper, key press, dial result, recording, transcription, status callback)."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from teams.models import Role
from telephony import calls
from telephony.models import Call, DialAttempt, OutboundMessage, Voicemail
from telephony.tasks.sms import sms_deliver
from telephony.tasks.voice import voicemail_notify_task, voicemails_notify_overdue_task
from tests.factories import (
    ShiftFactory,
    SupportNumberFactory,
    UserFactory,
    team_with_members,
)
from tests.telephony.world import NOW
from tests.twilio_helpers import post_signed
from tests.twiml_rules import check_twiml

WEB_NUMBER = "+493012340001"
CALLER = "+4917012345678"
FALLBACK_PHONE = "+498912345678"
_sids = itertools.count(1)


def sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032d}"


@pytest.fixture
def web(db, clock):
    return web_team(clock)


def web_team(clock):
    """Team Web: a lead, a primary and a secondary on call all week, a fallback phone and one number."""
    team, (lead, primary, secondary) = team_with_members(
        3, lead_user=UserFactory(username="lea"), name="Web", fallback_phone=FALLBACK_PHONE, ring_timeout=15
    )
    SupportNumberFactory(team=team, phone_number=WEB_NUMBER)
    ShiftFactory(team=team, role=Role.PRIMARY, member=primary)
    ShiftFactory(team=team, role=Role.SECONDARY, member=secondary)
    return SimpleNamespace(team=team, lead=lead, primary=primary, secondary=secondary)


def path_of(url: str) -> str:
    assert url.startswith(settings.PUBLIC_BASE_URL + "/"), url
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class TwilioCall:
    """One inbound call as Twilio drives it; every answer goes through the TwiML rules."""

    def __init__(self, client, capture, *, to: str = WEB_NUMBER, caller: str = CALLER):
        self.client, self.capture = client, capture
        self.call_sid, self.to, self.caller = sid("CA"), to, caller
        self.legs: list[str] = []

    def params(self, **extra) -> dict:
        return {
            "AccountSid": settings.TWILIO_ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": self.to,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **extra,
        }

    def post(self, url: str, params: dict, *, whisper: bool = False, kind: str = "voice") -> ET.Element:
        # In production each webhook commits on its own: run the on-commit work as a commit would.
        with self.capture(execute=True):
            response = post_signed(self.client, path_of(url), params)
        return check_twiml(response, whisper=whisper, kind=kind)

    def incoming(self) -> ET.Element:
        return self.post(settings.PUBLIC_BASE_URL + "/telephony/voice/incoming/", self.params(CallStatus="ringing"))

    def leg(self, dial: ET.Element, outcome: str) -> ET.Element:
        """The dialled person's leg: accept (key press), voicemail (answers, presses nothing), or a
        DialCallStatus such as no-answer / busy. Returns the TwiML of the Dial action."""
        number = dial.find("Number")
        child = sid("CA")
        self.legs.append(number.text)
        leg_params = self.params(CallSid=child, ParentCallSid=self.call_sid, Direction="outbound-dial", To=number.text)
        status = outcome
        if outcome in ("accept", "voicemail"):
            whisper = self.post(number.get("url"), leg_params, whisper=True)
            gather = whisper.find("Gather")
            assert "Press any key to accept" in gather.find("Say").text
            assert [verb.tag for verb in whisper] == ["Gather", "Hangup"]
            if outcome == "accept":
                accepted = self.post(gather.get("action"), {**leg_params, "Digits": "5"})
                assert list(accepted) == []  # nothing more on the leg: Twilio bridges the call
            status = "completed"
        return self.post(
            dial.get("action"),
            self.params(
                DialCallStatus=status, DialCallSid=child, DialCallDuration="12" if status == "completed" else "0"
            ),
        )

    def record(self, record: ET.Element, *, recording_sid: str, duration: int = 42) -> ET.Element:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            RecordingDuration=str(duration),
        )
        return self.post(record.get("action"), params)

    def recording_status(self, record: ET.Element, *, recording_sid: str, duration: int = 42) -> None:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            RecordingDuration=str(duration),
            RecordingStatus="completed",
        )
        self.post(record.get("recordingStatusCallback"), params)

    def transcription(self, record: ET.Element, *, recording_sid: str, text: str) -> None:
        params = self.params(
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{recording_sid}",
            TranscriptionText=text,
            TranscriptionStatus="completed",
            TranscriptionSid=sid("TR"),
        )
        self.post(record.get("transcribeCallback"), params)

    def status(self, call_status: str, duration: int) -> None:
        self.post(
            settings.PUBLIC_BASE_URL + "/telephony/voice/status/",
            self.params(CallStatus=call_status, CallDuration=str(duration)),
        )

    def call(self) -> Call:
        return Call.objects.get(call_sid=self.call_sid)


@pytest.fixture
def twilio(client, django_capture_on_commit_callbacks):
    return lambda **kw: TwilioCall(client, django_capture_on_commit_callbacks, **kw)


def voicemail_sms() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=OutboundMessage.Kind.VOICEMAIL).order_by("to"))


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
    assert [m.to for m in voicemail_sms()] == sorted([web.primary.phone, web.secondary.phone])


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
    assert CALLER in body and "0:07" in body and "Tue 01 Dec 11:00 CET" in body
    assert "RE" + "2" * 32 in body


def test_repeated_recording_callbacks_store_one_voicemail_and_send_one_sms_each(web, twilio):
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
    assert Voicemail.objects.count() == 1
    assert len(voicemail_sms()) == 2
    assert {m.dedupe_key for m in voicemail_sms()} == {
        f"voicemail:{recording_sid}:{web.primary.pk}",
        f"voicemail:{recording_sid}:{web.secondary.pk}",
    }


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
    assert waiting[0][1]["countdown"] == calls.TRANSCRIPTION_WAIT_SECONDS

    call.transcription(record, recording_sid=recording_sid, text="The checkout is down since noon.")
    voicemail = Voicemail.objects.get()
    assert voicemail.transcription == "The checkout is down since noon."
    assert all('"The checkout is down since noon."' in m.body for m in voicemail_sms())
    assert len(voicemail_sms()) == 2

    # The bounded wait runs out later: nobody gets a second SMS.
    calls.voicemail_notify_by_id(waiting[0][0][0])
    assert len(voicemail_sms()) == 2


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
    assert len(voicemail_sms()) == 2


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
    dial = call.incoming().find("Dial")
    whisper = call.post(
        dial.find("Number").get("url"),
        call.params(CallSid=sid("CA"), ParentCallSid=call.call_sid, Direction="outbound-dial"),
        whisper=True,
    )
    assert whisper.find("Gather/Say").text == "Support call for Web. Press any key to accept."
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


def test_a_lost_transcription_wait_is_caught_by_the_overdue_sweep(web, twilio, clock, monkeypatch):
    # The countdown task is published and then lost (a worker restart flushed it): nothing arrives.
    monkeypatch.setattr(voicemail_notify_task, "apply_async", lambda *args, **kwargs: None)
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "no-answer")
    call.record(root.find("Record"), recording_sid="RE" + "6" * 32)
    assert voicemail_sms() == []
    assert voicemails_notify_overdue_task() == "0 overdue voicemail notice(s) sent"  # still waiting
    clock.move_to(NOW + dt.timedelta(seconds=calls.TRANSCRIPTION_WAIT_SECONDS + 61))
    voicemails_notify_overdue_task()
    assert {m.to for m in voicemail_sms()} == {web.primary.phone, web.secondary.phone}
    voicemails_notify_overdue_task()  # and only once
    assert len(voicemail_sms()) == 2
