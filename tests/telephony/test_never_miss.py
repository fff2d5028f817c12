"""Never miss a caller, walked the way Twilio walks a call: the callee hears who calls and may pass (2), a
voicemail is an alert that escalates until someone acknowledges it (its page is the voicemail SMS), and a
caller may ask for a call back instead of leaving a message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import OperationalError, connection

from teams.models import Team
from telephony.models import Alert, Call, OutboundMessage, Voicemail
from telephony.tasks.alerts import alerts_escalate
from telephony.tasks.voicemail import voicemail_notify_task, voicemails_notify_overdue_task
from telephony.voicemail import TRANSCRIPTION_WAIT_SECONDS
from tests.telephony.world import CALLER, NOW, WEB_NUMBER, sent, sid, to_voicemail
from tests.twilio_helpers import post_signed

pytestmark = pytest.mark.usefixtures("celery_eager")

RECORDING = "RE" + "7" * 32
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RECORDING}"


def pages() -> list[OutboundMessage]:
    """The voicemail pages sent so far, oldest first."""
    return sent(OutboundMessage.Kind.VOICEMAIL)


def tick(clock, minutes: float) -> None:
    """Move the clock to NOW + minutes and run the beat's escalation task (eager here)."""
    clock.move_to(NOW + dt.timedelta(minutes=minutes))
    alerts_escalate.delay()


def text_from(client, member, body: str):
    """The member texts the team number, as Twilio forwards it."""
    params = {"MessageSid": sid("SM"), "From": member.phone, "To": WEB_NUMBER, "Body": body, "NumMedia": "0"}
    return post_signed(client, "/telephony/sms/incoming/", params)


def leave_voicemail(call, *, text: str | None = "The checkout is down since noon.", duration: int = 42):
    """Nobody takes the call; the caller leaves a message; Twilio reports it (and its transcription)."""
    record = to_voicemail(call)
    call.record(record, recording_sid=RECORDING, duration=duration)
    call.recording_status(record, recording_sid=RECORDING, duration=duration)
    if text is not None:
        call.transcription(record, recording_sid=RECORDING, text=text)
    return record


@pytest.fixture
def waits(monkeypatch):
    """The bounded wait for a transcription, as a list of the countdown tasks that would run later."""
    waiting = []
    monkeypatch.setattr(voicemail_notify_task, "apply_async", lambda args, **kw: waiting.append(args[0]))
    return waiting


# --- Screening: who is calling, and 2 to pass -------------------------------------------------------------


def test_the_callee_hears_a_withheld_number_as_such(web, twilio):
    call = twilio(caller="anonymous")
    whisper = call.screen(call.incoming().find("Dial"))
    assert whisper.find("Gather/Say").text == (
        "Support call for Web from a withheld number. Press 1 to accept, 2 to pass."
    )


def test_pressing_2_passes_the_call_to_the_secondary_at_once(web, twilio, client):
    call = twilio()
    after_pass = call.leg(call.incoming().find("Dial"), "pass")
    # No ring timeout to wait for: the Dial's action comes as the leg hangs up, and rings the next person.
    assert after_pass.find("Dial/Number").text == web.secondary.phone
    after_accept = call.leg(after_pass.find("Dial"), "accept")
    assert [verb.tag for verb in after_accept] == ["Hangup"]

    logged = call.call()
    assert logged.outcome == Call.Outcome.ANSWERED and logged.answered_by == web.secondary
    assert [(a.member, a.dial_status) for a in logged.attempts.all()] == [
        (web.primary, "passed"),
        (web.secondary, "completed"),
    ]
    client.force_login(web.lead.user)
    [listed] = client.get(f"/api/v1/teams/{web.team.slug}/calls/").json()["results"]
    assert [a["dial_status"] for a in listed["attempts"]] == ["passed", "completed"]
    row = client.get("/admin/telephony/call/").content.decode()
    assert f"Answered by {web.secondary.name} (1 passed)" in row


def test_everyone_passing_ends_in_a_voicemail(web, twilio):
    call = twilio()
    root = call.incoming()
    for _ in range(3):
        root = call.leg(root.find("Dial"), "pass")
    assert root.find("Record") is not None
    assert [a.dial_status for a in call.call().attempts.all()] == ["passed", "passed", "passed"]


def test_any_other_key_still_accepts(web, twilio):
    call = twilio()
    dial = call.incoming().find("Dial")
    child = sid("CA")
    leg = call.params(CallSid=child, ParentCallSid=call.call_sid, Direction="outbound-dial")
    gather = call.post(dial.find("Number").get("url"), leg, whisper=True).find("Gather")
    assert list(call.post(gather.get("action"), {**leg, "Digits": "1"})) == []
    # A stray 2 after the acceptance (a replayed request) does not undo it.
    call.post(gather.get("action"), {**leg, "Digits": "2"})
    call.post(dial.get("action"), call.params(DialCallStatus="completed", DialCallSid=child))
    assert call.call().outcome == Call.Outcome.ANSWERED
    assert call.call().attempts.get().dial_status == "completed"


# --- A voicemail is an alert ------------------------------------------------------------------------------


def test_a_voicemail_pages_the_primary_with_its_transcription_and_the_ack_code(web, twilio, waits):
    call = twilio()
    leave_voicemail(call)
    alert = Alert.objects.get()
    assert (alert.source, alert.call, alert.voicemail) == ("voicemail", call.call(), Voicemail.objects.get())
    assert alert.summary == f"Voicemail from {CALLER}, Tue 1 Dec 11:00 CET, 0:42 long"
    assert alert.details == f"The checkout is down since noon.\n\nRecording: {RECORDING_URL}.mp3"
    [page] = pages()
    assert page.to == web.primary.phone
    assert page.body == (
        f'[Web] ALERT {alert.pk}: Voicemail from {CALLER}, Tue 1 Dec 11:00 CET, 0:42 long. "The checkout is '
        f'down since noon." Listen: {RECORDING_URL}.mp3 - reply ACK {alert.pk}'
    )


def test_an_unacknowledged_voicemail_reaches_the_secondary_then_the_leads(web, twilio, clock, waits):
    call = twilio()
    leave_voicemail(call)
    alert = Alert.objects.get()
    tick(clock, web.team.ack_timeout_minutes - 1)
    assert [m.to for m in pages()] == [web.primary.phone]
    tick(clock, web.team.ack_timeout_minutes + 1)
    assert [m.to for m in pages()] == [web.primary.phone, web.secondary.phone]
    escalated = pages()[-1].body
    assert escalated.startswith(f"[Web] ALERT {alert.pk} (not acknowledged yet): Voicemail from {CALLER}")
    assert '"The checkout is down since noon."' in escalated and escalated.endswith(f"reply ACK {alert.pk}")
    tick(clock, 2 * web.team.ack_timeout_minutes + 2)
    assert pages()[-1].to == web.lead.phone


def test_an_acknowledged_voicemail_stops_escalating(web, twilio, clock, client):
    call = twilio()
    leave_voicemail(call)
    alert = Alert.objects.get()
    reply = text_from(client, web.primary, f"ACK {alert.pk}")
    assert f"ALERT {alert.pk} acknowledged" in reply.content.decode()
    for minutes in (web.team.ack_timeout_minutes + 1, 60, 600):
        tick(clock, minutes)
    assert [m.to for m in pages()] == [web.primary.phone]
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (Alert.State.ACKNOWLEDGED, web.primary.name)


def test_repeated_recording_and_transcription_callbacks_make_one_alert_and_one_page(web, twilio, client, clock):
    call = twilio()
    record = leave_voicemail(call)
    text_from(client, web.primary, f"RESOLVE {Alert.objects.get().pk}")
    # Twilio repeats every callback, even after the alert was closed.
    for _ in range(2):
        call.record(record, recording_sid=RECORDING)
        call.recording_status(record, recording_sid=RECORDING)
        call.transcription(record, recording_sid=RECORDING, text="The checkout is down since noon.")
    tick(clock, 60)
    assert Alert.objects.count() == 1 and Voicemail.objects.count() == 1
    assert [m.to for m in pages()] == [web.primary.phone]


def test_the_page_waits_for_the_transcription_and_a_late_one_reaches_the_alert(web, twilio, clock, waits):
    call = twilio()
    record = leave_voicemail(call, text=None)
    assert Alert.objects.count() == 0 and pages() == []  # waiting for the transcription
    # The wait runs out: the page goes without the transcription.
    clock.move_to(NOW + dt.timedelta(seconds=TRANSCRIPTION_WAIT_SECONDS))
    voicemail_notify_task.run(waits[0])
    alert = Alert.objects.get()
    [page] = pages()
    assert f"0:42 long. Listen: {RECORDING_URL}.mp3 - reply ACK {alert.pk}" in page.body
    # The transcription comes late: no second page, but the alert and the next page carry it.
    call.transcription(record, recording_sid=RECORDING, text="Please call the shop.")
    alert.refresh_from_db()
    assert alert.details.startswith("Please call the shop.")
    assert len(pages()) == 1
    tick(clock, web.team.ack_timeout_minutes + 3)
    assert pages()[-1].to == web.secondary.phone
    assert '"Please call the shop."' in pages()[-1].body


def test_a_voicemail_whose_alert_failed_is_raised_by_the_sweep(web, twilio, clock):
    def alerts_down(execute, sql, params, many, context):
        if "telephony_alert" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    call = twilio()
    record = to_voicemail(call)
    with connection.execute_wrapper(alerts_down):
        thanks = call.record(record, recording_sid=RECORDING, duration=0)
    assert "Thank you" in thanks.find("Say").text
    assert Voicemail.objects.count() == 1 and Alert.objects.count() == 0  # the message is kept
    clock.move_to(NOW + dt.timedelta(seconds=TRANSCRIPTION_WAIT_SECONDS + 61))
    assert voicemails_notify_overdue_task() == "1 overdue voicemail alert(s) raised"
    assert Alert.objects.get().voicemail == Voicemail.objects.get()
    assert [m.to for m in pages()] == [web.primary.phone]


def test_voicemail_pages_count_against_the_hourly_cap(web, twilio):
    Team.objects.filter(pk=web.team.pk).update(alert_pages_per_hour=1)
    first, second = twilio(), twilio(caller="+4917099999999")
    record = to_voicemail(first)
    first.record(record, recording_sid="RE" + "1" * 32, duration=0)
    record = to_voicemail(second)
    second.record(record, recording_sid="RE" + "2" * 32, duration=0)
    assert Alert.objects.count() == 2
    assert len(pages()) == 1
    assert Alert.objects.order_by("pk").last().pages_held_back == 1


# --- Call-back requests -----------------------------------------------------------------------------------


def test_the_voicemail_prompt_offers_a_call_back_and_silence_records(web, twilio):
    call = twilio()
    root = to_voicemail_root(call)
    assert [verb.tag for verb in root] == ["Say", "Gather", "Record", "Say", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1" and int(gather.get("timeout")) <= 5
    assert "press 1" in gather.find("Say").text
    # Pressing nothing: Twilio runs the Record after the Gather, a voicemail as before.
    call.record(root.find("Record"), recording_sid=RECORDING, duration=0)
    assert Alert.objects.get().source == "voicemail"


def to_voicemail_root(call):
    root = call.incoming()
    while root.find("Dial") is not None:
        root = call.leg(root.find("Dial"), "no-answer")
    return root


def test_pressing_1_asks_for_a_call_back(web, twilio, client, clock):
    call = twilio()
    gather = to_voicemail_root(call).find("Gather")
    answer = call.press(gather, "1")
    assert [verb.tag for verb in answer] == ["Say", "Hangup"]
    assert "call you back on 4 9 1 7 0 1 2 3 4 5 6 7 8" in answer.find("Say").text
    call.press(gather, "1")  # Twilio repeats the request
    call.status("completed", 30)

    alert = Alert.objects.get()
    assert alert.source == "callback" and CALLER in alert.summary and alert.call == call.call()
    assert call.call().outcome == Call.Outcome.CALLBACK
    [page] = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ALERT)
    assert page.to == web.primary.phone and CALLER in page.body and page.body.endswith(f"reply ACK {alert.pk}")
    tick(clock, web.team.ack_timeout_minutes + 1)
    pages = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.ALERT).order_by("pk")
    assert [m.to for m in pages] == [web.primary.phone, web.secondary.phone]
    assert not Voicemail.objects.exists()

    client.force_login(web.lead.user)
    [listed] = client.get(f"/api/v1/teams/{web.team.slug}/calls/").json()["results"]
    assert listed["outcome"] == "callback"
    assert [(a["id"], a["source"], a["state"]) for a in listed["alerts"]] == [(alert.pk, "callback", "open")]
    [raised] = client.get(f"/api/v1/teams/{web.team.slug}/alerts/").json()["results"]
    assert (raised["call"], raised["call_sid"], raised["caller"]) == (call.call().pk, call.call_sid, CALLER)
    home = client.get("/admin/").content.decode()
    assert "Call-back requested" in home and f"#{alert.pk} Call back {CALLER}" in home


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "", "sip:desk@pbx.example.com"])
def test_no_call_back_is_offered_without_a_number_to_call(web, twilio, caller):
    call = twilio(caller=caller)
    root = to_voicemail_root(call)
    assert root.find("Gather") is None and root.find("Record") is not None
    # A forged key press for such a call still gets the voicemail, not an alert nobody can act on.
    answer = call.post(settings.PUBLIC_BASE_URL + "/telephony/voice/callback/", call.params(Digits="1"))
    assert answer.find("Record") is not None
    assert not Alert.objects.exists()


def test_another_key_at_the_offer_leaves_a_message(web, twilio):
    call = twilio()
    answer = call.press(to_voicemail_root(call).find("Gather"), "5")
    assert answer.find("Record") is not None and answer.find("Gather") is None
    call.record(answer.find("Record"), recording_sid=RECORDING, duration=0)
    assert Alert.objects.get().source == "voicemail"
    assert call.call().outcome == Call.Outcome.VOICEMAIL


# --- The lead sees it -------------------------------------------------------------------------------------


def test_the_api_and_the_lead_link_a_voicemail_with_its_alert(web, twilio, client):
    call = twilio()
    leave_voicemail(call)
    alert = Alert.objects.get()
    client.force_login(web.lead.user)
    base = f"/api/v1/teams/{web.team.slug}"
    [voicemail] = client.get(f"{base}/voicemails/").json()["results"]
    assert voicemail["alert"] == alert.pk
    [listed] = client.get(f"{base}/calls/").json()["results"]
    assert listed["outcome"] == "voicemail" and [a["source"] for a in listed["alerts"]] == ["voicemail"]
    detail = client.get(f"{base}/alerts/{alert.pk}/").json()
    assert (detail["source"], detail["voicemail"], detail["call_sid"]) == ("voicemail", voicemail["id"], call.call_sid)
    assert "The checkout is down since noon." in detail["details"]
    home = client.get("/admin/").content.decode()
    assert f"{RECORDING_URL}.mp3" in home and f"/admin/telephony/call/{call.call().pk}/change/" in home
    page = client.get(f"/admin/telephony/alert/{alert.pk}/change/").content.decode()
    assert f"{RECORDING_URL}.mp3" in page
    assert (
        f"/admin/telephony/alert/{alert.pk}/change/"
        in client.get(f"/admin/telephony/call/{call.call().pk}/change/").content.decode()
    )
