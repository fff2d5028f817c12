"""What telephony.twiml hands to Twilio is exactly what twilio's own classes say: the answer's body is the
library's serialisation, and our URLs carry their query as urlencode writes it."""

from urllib.parse import urlencode

import pytest
from django.utils import translation
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from telephony import twiml


def _answers():
    plain = VoiceResponse()
    plain.say("Hello.")
    plain.hangup()
    tricky = VoiceResponse()
    tricky.say('Ação & "aspas" <tags> 🎧 tab\tnew\nline', language="pt-BR", voice="Polly.Camila")
    dial = tricky.dial(action='https://x.example.com/d?a=1&b="2"', answer_on_bridge=True, timeout=20)
    dial.number("+4915100000000", url="https://x.example.com/s?attempt=1")
    gather = tricky.gather(num_digits=1, finish_on_key="")
    gather.say("\u00e9\u00e8 \u4e2d\u6587")
    sms = MessagingResponse()
    sms.message("Olá, 12 < 13 & 'ok'")
    surrogate = VoiceResponse()
    surrogate.play("https://x.example.com/a\ud800.mp3")
    return [plain, tricky, sms, MessagingResponse(), VoiceResponse(), surrogate]


@pytest.mark.parametrize("answer", _answers())
def test_the_answer_is_the_libraries_own_serialisation(answer):
    response = twiml.response(answer)
    assert response.content == str(answer).encode()
    assert response["Content-Type"] == "text/xml"


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"attempt": 12},
        {"call": 1, "team": 2, "route": "1-12.2-14"},
        {"lang": "pt-br", "voice": "Polly.Camila"},
        {"after": "dial", "missing": None},
        {"flag": True},
    ],
)
def test_urls_carry_their_query_as_urlencode_writes_it(query, settings):
    settings.PUBLIC_BASE_URL = "https://roulette.example.com"
    given = {key: value for key, value in query.items() if value is not None}
    expected = "https://roulette.example.com/telephony/voice/screen/" + (f"?{urlencode(given)}" if given else "")
    assert twiml.url("voice-screen", **query) == expected


@pytest.mark.parametrize("active", [None, "en", "pt-br"])
@pytest.mark.parametrize("language", ["en", "pt-br", "xx"])
def test_spoken_speaks_the_language_and_restores_the_one_before(active, language):
    with translation.override(active):
        before = translation.get_language()
        with twiml.spoken(language=language, voice="alice"):
            assert translation.get_language() == (language if language != "xx" else "en")
            assert twiml.spoken_query().get("voice") == "alice"
        assert translation.get_language() == before
        assert twiml.spoken_query().get("voice") is None
