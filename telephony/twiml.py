"""Every TwiML answer of the call flow, built with twilio.twiml classes (never by hand), and the guard that
turns an unexpected exception in a webhook into safe TwiML instead of a 500.

Twilio's rules behind these shapes: https://www.twilio.com/docs/voice/twiml (the verbs and their attributes)
and https://www.twilio.com/docs/voice/twiml/dial (Dial's action, timeout and the screening <Number url>).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from teams.validators import SAY_LOCALES
from telephony.request_checks import malformed_sid, on_a_live_connection

logger = logging.getLogger(__name__)

# Twilio transcribes recordings of up to 2 minutes only; a longer limit would silently lose the transcript.
VOICEMAIL_MAX_SECONDS = 120
VOICEMAIL_SILENCE_SECONDS = 5
SCREEN_SECONDS = 8
# After the call-back offer, how long the caller has to press 1 before the beep and the recording.
CALLBACK_OFFER_SECONDS = 3
# The screening key that passes the call on to the next person; any other key accepts it.
PASS_KEY = "2"
EMERGENCY_RING_SECONDS = 25

# The menu: each prompt waits this long for a key, and is said this many times before the own team takes it.
MENU_SECONDS = 5
MENU_TRIES = 3

# Lazy: said in the language active when the TwiML is built (see `spoken`); the Voice Fallback URL, which
# reads no team, speaks English.
APOLOGY = gettext_lazy("We are sorry, we cannot connect your call right now.")
VOICEMAIL_PROMPT = gettext_lazy("Please leave a message after the tone, and we will call you back.")
NO_MESSAGE = gettext_lazy("We did not get a message. Goodbye.")
THANKS = gettext_lazy("Thank you. Your message has been passed on. Goodbye.")
UNKNOWN_NUMBER = gettext_lazy("Sorry, this number is not in service. Please check the number and try again. Goodbye.")
REFUSED = gettext_lazy("Sorry, this line only takes calls from registered numbers. Goodbye.")
HOLD = gettext_lazy("Please hold while we try someone else.")
NOBODY_NOW = gettext_lazy("Nobody is available right now.")
NOBODY_TOOK_IT = gettext_lazy("Sorry, nobody could take your call.")
PLEASE_HOLD = gettext_lazy("Please hold.")

# <Say language>: Twilio's codes for our languages (https://www.twilio.com/docs/voice/twiml/say#language).
SAY_LANGUAGES = SAY_LOCALES
# The team's <Say voice> while a TwiML answer is built; "" is Twilio's default voice.
_voice: contextvars.ContextVar[str] = contextvars.ContextVar("say_voice", default="")
# Twilio refuses a message body over 1,600 characters.
SMS_REPLY_MAX_CHARS = 1600


# Characters XML 1.0 cannot carry at all (a single one makes the whole answer unparsable: Twilio then plays
# "an application error has occurred"), plus NUL, which PostgreSQL refuses in a string.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str | None) -> str:
    """Text from people or from a request, safe to put in TwiML or the database: no control characters,
    no surrounding blanks."""
    return _NOT_XML.sub(" ", str(text or "")).strip()


def spoken(*, language: str, voice: str = "") -> contextlib.AbstractContextManager:
    """Build the TwiML in `language` (every prompt through gettext, every <Say language=…>) with `voice`."""
    return _Spoken(language if language in SAY_LANGUAGES else settings.LANGUAGE_CODE, voice)


class _Spoken:
    """`spoken`'s context: a class, as every webhook enters one (a generator's costs more)."""

    def __init__(self, language: str, voice: str):
        self.language, self.voice, self.token, self.override = language, voice, None, None

    def __enter__(self) -> None:
        self.token = _voice.set(self.voice)
        # Most answers are in the language already active (the default): switching to it and back again
        # would only cost time on every webhook.
        if translation.get_language() != self.language:
            self.override = translation.override(self.language)
            self.override.__enter__()

    def __exit__(self, *exc) -> None:
        try:
            if self.override is not None:
                self.override.__exit__(*exc)
        finally:
            _voice.reset(self.token)


def spoken_for_team(team) -> contextlib.AbstractContextManager:
    """What a caller of `team` hears: its language and voice (English and Twilio's voice without a team)."""
    if team is None:
        return spoken(language=settings.LANGUAGE_CODE)
    return spoken(language=team.language, voice=team.voice)


# A <Say voice> carried in one of our URLs: Twilio's names (man, alice, Polly.Camila, Google.pt-BR-Wavenet-A).
_VOICE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def spoken_query() -> dict[str, str]:
    """The active language and voice as query parameters of a URL our TwiML hands to Twilio, so the
    answer to that URL speaks as the call did without reading the team again (nothing for English with
    Twilio's voice, the default). Twilio signs the URL: it cannot be changed on the way."""
    query = {}
    language = translation.get_language() or ""
    if language in SAY_LANGUAGES and language != settings.LANGUAGE_CODE:
        query["lang"] = language
    if _voice.get():
        query["voice"] = _voice.get()
    return query


def spoken_from_query(query) -> contextlib.AbstractContextManager:
    """Speak as `spoken_query` said (a request's GET); English and Twilio's voice when it said nothing."""
    voice = query.get("voice", "")
    return spoken(
        language=query.get("lang") or settings.LANGUAGE_CODE, voice=voice if _VOICE_NAME.fullmatch(voice) else ""
    )


def spoken_for_callee(*, team, member) -> contextlib.AbstractContextManager:
    """What a callee hears: their own language; the team's voice only when it speaks that language."""
    team_language = team.language if team is not None else settings.LANGUAGE_CODE
    language = member.language_for(team) if member is not None else team_language
    return spoken(language=language, voice=team.voice if team is not None and language == team_language else "")


def say(node, text) -> None:
    """<Say> with the active language and the team's voice; nothing for a blank text."""
    text = clean_text(text)
    if text:
        language = SAY_LANGUAGES.get(translation.get_language() or "", SAY_LANGUAGES["en"])
        node.say(text, language=language, voice=_voice.get() or None)


def greet(node, *, text: str = "", audio_url: str = "") -> None:
    """The team's greeting: its recording (<Play>) when it has one, else the spoken text."""
    if audio_url:
        node.play(audio_url)
    else:
        say(node, text)


@functools.lru_cache(maxsize=64)
def _path(name: str, urlconf, script_prefix: str) -> str:
    return reverse(f"telephony:{name}", urlconf=urlconf)


def url(name: str, **query) -> str:
    """The absolute URL Twilio must request: PUBLIC_BASE_URL, as signatures are checked against it. The
    path is reversed once per URL conf (every answer names two or three of them)."""
    path = _path(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())
    pairs = [(key, value) for key, value in query.items() if value is not None]
    if not pairs:
        query_string = ""
    elif all(type(value) is int for _, value in pairs):
        # Ids (attempt, call, team): digits and keyword names need no quoting, and urlencode costs more.
        query_string = "?" + "&".join(f"{key}={value}" for key, value in pairs)
    else:
        query_string = "?" + urlencode(pairs)
    return settings.PUBLIC_BASE_URL.rstrip("/") + path + query_string


_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def response(twiml: VoiceResponse | MessagingResponse) -> HttpResponse:
    """The answer's body is what `str(twiml)` gives, serialised from the library's own element tree
    (`TwiML.xml()`) straight to text: `TwiML.to_xml` writes it through an encoding layer, decodes it again,
    and the HttpResponse encodes it a second time."""
    try:
        body = (_XML_DECLARATION + ET.tostring(twiml.xml(), encoding="unicode")).encode()
    except UnicodeEncodeError:  # a lone surrogate, which to_xml writes as a character reference
        body = str(twiml).encode()
    return HttpResponse(body, content_type="text/xml")


def say_and_hang_up(text: str) -> VoiceResponse:
    twiml = VoiceResponse()
    say(twiml, text)
    twiml.hangup()
    return twiml


def reject() -> VoiceResponse:
    """A blocked caller: refused before the call is answered (the caller is not billed); the first verb."""
    twiml = VoiceResponse()
    twiml.reject(reason="rejected")
    return twiml


def hang_up() -> VoiceResponse:
    twiml = VoiceResponse()
    twiml.hangup()
    return twiml


def empty() -> VoiceResponse:
    """Nothing more to do on this leg (after a screening key press, Twilio bridges the two legs)."""
    return VoiceResponse()


def dial(
    *,
    legs: Sequence[tuple[str, int]],
    ring_seconds: int,
    intro: str = "",
    intro_audio_url: str = "",
) -> VoiceResponse:
    """Ring one person, or several at once (the first to accept is connected, Twilio hangs up the others).

    `legs` are (phone, attempt id): each callee leg first runs its own screening TwiML; the Dial's result
    goes to dial-result with the first attempt's id.
    """
    twiml = VoiceResponse()
    greet(twiml, text=intro, audio_url=intro_audio_url)
    # answerOnBridge: the caller keeps hearing ringing until someone accepted, not silence.
    dial_verb = twiml.dial(
        action=url("voice-dial-result", attempt=legs[0][1]),
        method="POST",
        timeout=ring_seconds,
        answer_on_bridge=True,
    )
    for phone, attempt_id in legs:
        dial_verb.number(phone, url=url("voice-screen", attempt=attempt_id), method="POST")
    return twiml


def menu(*, greeting: str, greeting_audio_url: str, prompt: str, action: str) -> VoiceResponse:
    """The greeting and the menu, said up to MENU_TRIES times with MENU_SECONDS for a key each; silence
    all along falls through to the Redirect, which routes like no key (the number's own team)."""
    twiml = VoiceResponse()
    for attempt in range(MENU_TRIES):
        # finishOnKey "": # is a key like the others (the own team), not an empty answer.
        gather = twiml.gather(num_digits=1, finish_on_key="", timeout=MENU_SECONDS, action=action, method="POST")
        if attempt == 0:
            greet(gather, text=greeting, audio_url=greeting_audio_url)
        say(gather, prompt)
    twiml.redirect(action, method="POST")
    return twiml


def menu_prompt(choices) -> str:
    """ "For Billing, press 1. For Sales, press 2." from (digit, team) pairs."""
    return " ".join(
        _("For %(team)s, press %(digit)s.") % {"team": clean_text(team.name), "digit": digit} for digit, team in choices
    )


def digits_spoken(number: str) -> str:
    """A phone number as <Say> should read it: digit by digit ("4 9 1 7 0"), not "forty-nine billion"."""
    return " ".join(char for char in number if char.isdigit())


def screening(*, team_name: str, attempt_id: int, caller: str = "") -> VoiceResponse:
    """The whisper on the callee's leg: who is calling, then 1 (or any key but 2) accepts, 2 passes the call
    on at once; a personal voicemail presses nothing and is hung up on."""
    twiml = VoiceResponse()
    gather = twiml.gather(
        num_digits=1,
        # "Press any key": without this, # ends the Gather with no digits and the callee is hung up on.
        finish_on_key="",
        timeout=SCREEN_SECONDS,
        action=url("voice-accept", attempt=attempt_id),
        method="POST",
    )
    team_name, digits = clean_text(team_name), digits_spoken(caller)
    names = {"team": team_name, "caller": digits or _("a withheld number")}
    who = (
        _("Support call for %(team)s from %(caller)s.") % names
        if team_name
        else _("Support call from %(caller)s.") % names
    )
    say(gather, who + " " + _("Press 1 to accept, 2 to pass."))
    twiml.hangup()
    return twiml


def voicemail(
    *, intro: str = VOICEMAIL_PROMPT, greeting_audio_url: str = "", offer_callback: bool = False
) -> VoiceResponse:
    """A short prompt and a Record whose every callback is ours; an empty recording falls through to goodbye.

    With `offer_callback`, the prompt ends with "press 1 to be called back" in a short Gather: a key goes to
    the call-back URL, silence falls through to the Record (one answer, no extra round trip for the caller).
    The Record action always points at a URL (without one Twilio re-requests the current URL: a loop).
    The recording URL tolerates a database outage, so the fallback answer may use it too.
    """
    twiml = VoiceResponse()
    greet(twiml, audio_url=greeting_audio_url)
    say(twiml, clean_text(intro) or VOICEMAIL_PROMPT)
    if offer_callback:
        # finishOnKey "": a # is a key like the others (a message, not a silent fall-through).
        gather = twiml.gather(
            num_digits=1,
            finish_on_key="",
            timeout=CALLBACK_OFFER_SECONDS,
            action=url("voice-callback", **spoken_query()),
            method="POST",
        )
        say(gather, _("To be called back without leaving a message, press 1."))
    _record(twiml)
    return twiml


def callback_confirmed(*, caller: str) -> VoiceResponse:
    """The caller asked for a call back: say on which number, and end the call."""
    return say_and_hang_up(
        _("Thank you. We will call you back on %(caller)s as soon as we can. Goodbye.")
        % {"caller": digits_spoken(caller)}
    )


def _record(twiml: VoiceResponse) -> None:
    twiml.record(
        action=url("voice-recording", **spoken_query()),
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        timeout=VOICEMAIL_SILENCE_SECONDS,
        play_beep=True,
        recording_status_callback=url("voice-recording-status"),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
        # Transcription only exists for recordings up to 2 minutes.
        transcribe=VOICEMAIL_MAX_SECONDS <= 120,
        transcribe_callback=url("voice-transcription"),
    )
    say(twiml, NO_MESSAGE)
    twiml.hangup()


def apology_voicemail() -> VoiceResponse:
    return voicemail(intro=f"{APOLOGY} {VOICEMAIL_PROMPT}")


def fallback(*, to_number: str, dial_status: str | None) -> VoiceResponse:
    """The Voice Fallback answer: settings only, no database, no broker.

    With EMERGENCY_PHONE set (and not the number being called: that would loop), ring it first; when that
    leg ends unanswered Twilio comes back here with DialCallStatus and the caller gets the voicemail.
    """
    if dial_status in ("completed", "answered"):
        return hang_up()
    emergency = settings.EMERGENCY_PHONE
    if emergency and dial_status is None and emergency != to_number:
        twiml = VoiceResponse()
        say(twiml, f"{APOLOGY} {PLEASE_HOLD}")
        dial_verb = twiml.dial(
            action=url("voice-fallback", after="dial"),
            method="POST",
            timeout=EMERGENCY_RING_SECONDS,
            answer_on_bridge=True,
        )
        dial_verb.number(emergency)
        return twiml
    return apology_voicemail()


def sms_reply(text: str | None) -> MessagingResponse:
    """`<Message>` with the reply, or an empty `<Response/>` when we answer nothing."""
    twiml = MessagingResponse()
    text = clean_text(text)[:SMS_REPLY_MAX_CHARS]
    if text:
        twiml.message(text)
    return twiml


def safe_twiml(on_error):
    """Never a 500 to Twilio: any exception is logged and the caller gets `on_error()` TwiML instead. So
    does a request carrying a malformed Twilio id (CallSid, RecordingSid, ...), before the view writes
    anything: Twilio never sends one. A database connection found dead at the first statement is replaced
    and the view runs again (`on_a_live_connection`).

    Sits inside @twilio_webhook, so a bad signature is still a 403.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            bad = malformed_sid(request.POST)
            if bad:
                logger.warning("Webhook %s with a malformed %s: answered, nothing written", request.path, bad)
                return response(on_error())
            try:
                return on_a_live_connection(lambda: view(request, *args, **kwargs), what=f"Webhook {request.path}")
            except Exception:
                logger.exception("Webhook %s failed; answering with safe TwiML", request.path)
                try:
                    return response(on_error())
                except Exception:
                    # Not even the safe TwiML could be built (e.g. a broken URL conf): say goodbye.
                    logger.exception("Safe TwiML failed too for %s", request.path)
                    return response(say_and_hang_up(APOLOGY))

        return wrapper

    return decorator
