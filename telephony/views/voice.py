"""Voice webhooks. Three are public (incoming, fallback, status); the others are reached only through URLs
our own TwiML hands to Twilio (screening, key press, dial result, call-back request, recording, transcription).

Each view reads Twilio's parameters, calls one function of telephony.calls and renders the decision with
telephony.twiml. None answers 500: any exception becomes safe TwiML (an apology and a voicemail).
"""

from __future__ import annotations

import logging

from telephony import calls, flow, twiml, voicemail
from telephony.calls import Next
from telephony.request_checks import twilio_webhook

logger = logging.getLogger(__name__)


def _param(request, name: str) -> str:
    return twiml.clean_text(request.POST.get(name, ""))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# The largest value a PositiveIntegerField holds on every database.
_MAX_SECONDS = 2_147_483_647


def _seconds(value: str | None) -> int | None:
    """A duration Twilio reported; a negative or absurd one must not fail the write (and lose the row)."""
    seconds = _int(value)
    return None if seconds is None else min(max(seconds, 0), _MAX_SECONDS)


def _render(decision: calls.Decision, *, greeting: bool, hold: str = "", voicemail_intro: str = ""):
    """The decision as TwiML in the team's language and voice. With `greeting`, the team's greeting (its
    recording, or the spoken text) comes first; otherwise `hold` before a new ring."""
    team = decision.team
    with twiml.spoken_for_team(team):
        if decision.next == Next.UNKNOWN_NUMBER:
            return twiml.say_and_hang_up(twiml.UNKNOWN_NUMBER)
        if decision.next == Next.REJECT:
            return twiml.reject()
        if decision.next == Next.REFUSED:
            return twiml.say_and_hang_up(twiml.REFUSED)
        if decision.next == Next.HANG_UP:
            return twiml.hang_up()
        greeting_text = team.greeting if greeting and team else ""
        audio_url = team.greeting_audio_url if greeting and team else ""
        if decision.next == Next.MENU:
            action = twiml.url(
                "voice-menu",
                call=decision.call.pk,
                team=team.pk,
                route=flow.menu_route_encode(decision.menu),
            )
            prompt = decision.number.menu_prompt or twiml.menu_prompt(decision.menu)
            return twiml.menu(greeting=greeting_text, greeting_audio_url=audio_url, prompt=prompt, action=action)
        if decision.next == Next.DIAL:
            return twiml.dial(
                legs=[(attempt.phone, attempt.pk) for attempt in decision.attempts or (decision.attempt,)],
                ring_seconds=team.ring_timeout,
                intro=greeting_text if greeting else hold,
                intro_audio_url=audio_url,
            )
        spoken_greeting = "" if audio_url else greeting_text
        return twiml.voicemail(
            intro=f"{spoken_greeting} {voicemail_intro or twiml.NOBODY_NOW} {twiml.VOICEMAIL_PROMPT}".strip(),
            greeting_audio_url=audio_url,
            offer_callback=voicemail.callback_offered(call=decision.call, team=decision.team),
        )


@twilio_webhook
@twiml.safe_twiml(twiml.apology_voicemail)
def incoming(request):
    """The Voice URL of every team number: greet, then ring the primary (screened) or take a voicemail."""
    call_sid, to_number = _param(request, "CallSid"), _param(request, "To")
    if not call_sid or not to_number:
        logger.warning("Incoming call without CallSid or To: voicemail")
        return twiml.response(twiml.apology_voicemail())
    decision = calls.call_incoming(
        call_sid=call_sid,
        from_number=_param(request, "From"),
        to_number=to_number,
        call_status=_param(request, "CallStatus"),
    )
    return twiml.response(_render(decision, greeting=True))


@twilio_webhook
@twiml.safe_twiml(twiml.apology_voicemail)
def menu(request):
    """The menu's Gather action (and its Redirect after three silent tries): the key routes the call to
    that team's whole flow; no key, or 0, to the number's own team."""
    call_sid = _param(request, "CallSid")
    if not call_sid:  # Twilio always sends it: a hand-made request writes nothing
        logger.warning("Menu key press without CallSid: voicemail")
        return twiml.response(twiml.apology_voicemail())
    decision = calls.call_menu_choice(
        call_id=_int(request.GET.get("call")),
        call_sid=call_sid,
        from_number=_param(request, "From"),
        to_number=_param(request, "To"),
        digits=_param(request, "Digits"),
        route=flow.menu_route_decode(request.GET.get("route", "")),
        own_team_id=_int(request.GET.get("team")),
    )
    return twiml.response(_render(decision, greeting=False, hold=twiml.PLEASE_HOLD))


@twilio_webhook
@twiml.safe_twiml(lambda: twiml.say_and_hang_up(twiml.APOLOGY))
def fallback(request):
    """The Voice Fallback URL: settings only. No database, no broker, so it works when they are down."""
    dial_status = _param(request, "DialCallStatus") if request.GET.get("after") == "dial" else None
    return twiml.response(twiml.fallback(to_number=_param(request, "To"), dial_status=dial_status))


@twilio_webhook
@twiml.safe_twiml(twiml.empty)
def status(request):
    """Call status callback of the caller's call: final status, duration, outcome."""
    calls.call_status_update(
        call_sid=_param(request, "CallSid"),
        call_status=_param(request, "CallStatus"),
        duration_seconds=_seconds(_param(request, "CallDuration")),
        from_number=_param(request, "From"),
        to_number=_param(request, "To"),
    )
    return twiml.response(twiml.empty())


@twilio_webhook
@twiml.safe_twiml(twiml.hang_up)
def screen(request):
    """The whisper on the callee's leg (`<Number url>`): who calls; press 1 to accept, 2 to pass."""
    attempt = calls.attempt_for_screening(attempt_id=_int(request.GET.get("attempt")))
    if attempt is None:
        return twiml.response(twiml.hang_up())
    team = attempt.call.team
    with twiml.spoken_for_callee(team=team, member=attempt.member):
        return twiml.response(
            twiml.screening(
                team_name=team.name if team else "",
                attempt_id=attempt.pk,
                caller="" if calls.caller_is_withheld(attempt.call.from_number) else attempt.call.from_number,
            )
        )


@twilio_webhook
@twiml.safe_twiml(twiml.hang_up)
def accept(request):
    """The screening Gather's action: a key press accepts (the legs are bridged); 2 passes and hangs up the
    leg, so its Dial action rings the next person at once."""
    accepted = calls.attempt_accept(
        attempt_id=_int(request.GET.get("attempt")),
        dial_call_sid=_param(request, "CallSid"),
        parent_call_sid=_param(request, "ParentCallSid"),
        digits=_param(request, "Digits"),
    )
    return twiml.response(twiml.empty() if accepted else twiml.hang_up())


@twilio_webhook
@twiml.safe_twiml(twiml.apology_voicemail)
def dial_result(request):
    """The Dial action: answered and accepted ends the call; otherwise ring the next person or voicemail."""
    decision = calls.dial_result(
        attempt_id=_int(request.GET.get("attempt")),
        call_sid=_param(request, "CallSid"),
        call_status=_param(request, "CallStatus"),
        dial_status=_param(request, "DialCallStatus"),
        dial_call_sid=_param(request, "DialCallSid"),
        dial_duration_seconds=_seconds(_param(request, "DialCallDuration")),
    )
    return twiml.response(_render(decision, greeting=False, hold=twiml.HOLD, voicemail_intro=twiml.NOBODY_TOOK_IT))


@twilio_webhook
@twiml.safe_twiml(twiml.apology_voicemail)
def callback(request):
    """The voicemail prompt's Gather action: 1 asks for a call back (an alert; the caller hears when and the
    call ends). Any other key, or a call-back that cannot be raised, leaves a message after all. Both in the
    language and voice of the prompt (its URL carries them)."""
    alert = None
    if _param(request, "Digits") == "1":
        alert = voicemail.callback_request(
            call_sid=_param(request, "CallSid"), from_number=_param(request, "From"), to_number=_param(request, "To")
        )
    with twiml.spoken_from_query(request.GET):
        if alert is not None:
            return twiml.response(twiml.callback_confirmed(caller=alert.call.from_number))
        return twiml.response(twiml.voicemail())


def _store_recording(request) -> None:
    recording_sid, recording_url = _param(request, "RecordingSid"), _param(request, "RecordingUrl")
    if not recording_sid or not recording_url:
        logger.warning("Recording callback without RecordingSid or RecordingUrl: ignored")
        return
    voicemail.voicemail_store(
        call_sid=_param(request, "CallSid"),
        from_number=_param(request, "From"),
        to_number=_param(request, "To"),
        recording_sid=recording_sid,
        recording_url=recording_url,
        duration_seconds=_seconds(_param(request, "RecordingDuration")) or 0,
    )


@twilio_webhook
@twiml.safe_twiml(lambda: twiml.say_and_hang_up(twiml.THANKS))
def recording(request):
    """The Record action: store the voicemail and thank the caller. A database failure still thanks them
    (the recording stays in the Twilio account), which is why the fallback answer can point here. The
    thanks are in the language and voice of the voicemail prompt (its URL carries them); English when the
    fallback answer, which reads no team, took the message."""
    _store_recording(request)
    with twiml.spoken_from_query(request.GET):
        return twiml.response(twiml.say_and_hang_up(twiml.THANKS))


@twilio_webhook
@twiml.safe_twiml(twiml.empty)
def recording_status(request):
    """recordingStatusCallback: the same store as the Record action (whichever comes first wins)."""
    if _param(request, "RecordingStatus") in ("", "completed"):
        _store_recording(request)
    return twiml.response(twiml.empty())


@twilio_webhook
@twiml.safe_twiml(twiml.empty)
def transcription(request):
    """transcribeCallback: attach the text; the voicemail SMS goes out now if it had not yet."""
    recording_sid = _param(request, "RecordingSid")
    if recording_sid:
        voicemail.voicemail_transcription_attach(
            recording_sid=recording_sid,
            text=_param(request, "TranscriptionText"),
            status=_param(request, "TranscriptionStatus"),
            call_sid=_param(request, "CallSid"),
            from_number=_param(request, "From"),
            to_number=_param(request, "To"),
            recording_url=_param(request, "RecordingUrl"),
        )
    return twiml.response(twiml.empty())
