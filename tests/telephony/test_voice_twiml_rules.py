"""The TwiML checker itself rejects what Twilio would reject (so passing it means something)."""

import pytest

from tests.twiml_rules import TwiMLError, check_twiml

BASE = "https://roulette.example.com/telephony"


@pytest.mark.parametrize(
    ("xml", "problem"),
    [
        ("<Response><Record maxLength='60'/></Response>", "without action"),
        (
            f"<Response><Dial action='{BASE}/x'><Number>+4915100000000</Number></Dial><Say>hi</Say></Response>",
            "never run",
        ),
        ("<Response><Dial timeout='2'><Number>+4915100000000</Number></Dial></Response>", "out of range"),
        ("<Response><Dial><Say>hi</Say></Dial></Response>", "not allowed inside <Dial>"),
        ("<Response><Say colour='red'>hi</Say></Response>", "no attribute 'colour'"),
        ("<Response><Hangup>now</Hangup></Response>", "may not hold text"),
        ("<Response><Say/></Response>", "is empty"),
        ("<Response><Dial answerOnBridge='yes'><Number>+4915100000000</Number></Dial></Response>", "true/false"),
        ("<Response><Record action='/relative'/></Response>", "absolute URL"),
        (
            f"<Response><Record action='{BASE}/r' maxLength='300' transcribe='true' "
            f"transcribeCallback='{BASE}/t'/></Response>",
            "120 s",
        ),
        ("<Reply/>", "not <Response>"),
        ("not xml", "not XML"),
    ],
)
def test_checker_rejects_invalid_voice_twiml(xml, problem):
    with pytest.raises(TwiMLError, match=problem):
        check_twiml(xml)


def test_checker_rejects_a_dial_in_a_whisper():
    with pytest.raises(TwiMLError, match="whisper"):
        check_twiml("<Response><Dial><Number>+4915100000000</Number></Dial></Response>", whisper=True)


def test_checker_knows_messaging_twiml():
    check_twiml("<Response><Message>hi</Message></Response>", kind="messaging")
    with pytest.raises(TwiMLError, match="not allowed inside <Response>"):
        check_twiml("<Response><Say>hi</Say></Response>", kind="messaging")
