"""Bodies: GSM-7 where possible, at most two segments, long parts cut with a visible marker."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.sms import sms_send
from telephony.sms_text import (
    SMS_CUT_MARKER,
    sms_body_fit,
    sms_body_fit_part,
    sms_gsm7_normalize,
    sms_is_gsm7,
    sms_segments,
)


def test_typographic_characters_become_gsm7():
    text = sms_gsm7_normalize("“Ana’s shift” – starts…\u00a0now • olá")
    assert text == '"Ana\'s shift" - starts... now * ola'
    assert sms_is_gsm7(text)


def test_gsm7_letters_are_kept():
    assert sms_gsm7_normalize("Grüße, Müller: Ça va? ñ é") == "Grüße, Müller: Ça va? ñ é"


def test_segment_counts():
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1  # extension characters take two septets
    assert sms_segments("€" * 81) == 2
    assert sms_segments("Привет" * 11) == 1  # 66 UCS-2 characters
    assert sms_segments("Привет" * 12) == 2


def test_short_text_is_unchanged():
    assert sms_body_fit("On call from Monday 09:00.") == "On call from Monday 09:00."


def test_long_text_is_cut_at_a_word_with_the_marker():
    body = sms_body_fit("word " * 100)
    assert body.endswith(SMS_CUT_MARKER)
    assert sms_segments(body) == 2
    assert "wor [cut]" not in body


def test_only_the_middle_part_is_cut_and_the_link_survives():
    body = sms_body_fit_part(
        before="Voicemail for Web from +4930123456: ",
        part="please call me back " * 40,
        after=" Listen: https://roulette.example.com/v/42",
    )
    assert body.startswith("Voicemail for Web from +4930123456: please call")
    assert body.endswith("[cut] Listen: https://roulette.example.com/v/42")
    assert sms_segments(body) <= 2


def test_non_gsm_text_is_cut_to_two_ucs2_segments():
    body = sms_body_fit("Голосовое сообщение " * 20)
    assert sms_segments(body) == 2
    assert body.endswith(SMS_CUT_MARKER)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=800), st.integers(min_value=1, max_value=3))
def test_any_text_fits(text, max_segments):
    body = sms_body_fit(text, max_segments=max_segments)
    assert sms_segments(body) <= max_segments
    if sms_segments(sms_gsm7_normalize(text)) <= max_segments:
        assert body == sms_gsm7_normalize(text)


# --- Through the outbox: non-Latin names and emoji ----------------------------------------------------------


@pytest.mark.django_db
def test_non_latin_names_and_emoji_stay_within_two_segments():
    body = "Voicemail for " + "Zoë Łukasz Иван 李 🚨 " * 40
    message = sms_send(to="+4915100000001", body=body, kind="voicemail", dedupe_key="vm")
    assert sms_segments(message.body) == 2
    assert message.body.endswith("[cut]")
    assert "\ud83d" not in message.body  # no half of a surrogate pair
