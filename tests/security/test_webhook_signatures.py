"""Every telephony URL is signed: forged, tampered and unsigned POSTs are 403 and write nothing, whatever DEBUG
says; only an explicit TWILIO_VALIDATE_SIGNATURES=false switches the check off."""

from __future__ import annotations

import logging

import pytest
from twilio.request_validator import RequestValidator

from telephony.models import Call
from tests.security.world import AUTH_TOKEN, Side, row_counts, run_python, telephony_paths
from tests.twilio_helpers import signature

# --- Webhooks: every telephony URL is signed ----------------------------------------------------------------


def test_the_twelve_telephony_urls_are_all_covered():
    """The five public webhooks and every internal one; a new URL is picked up by the tests below."""
    paths = telephony_paths()
    assert len(paths) == len(set(paths)) >= 11
    for public in ("voice/incoming/", "voice/fallback/", "voice/status/", "sms/incoming/", "sms/status/"):
        assert f"/telephony/{public}" in paths


def twilio_params(side: Side) -> dict[str, str]:
    """Everything any of our webhooks reads, with values that would make each of them write something."""
    return {
        "CallSid": side.call.call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": side.member.phone,
        "To": side.number.phone_number,
        "CallStatus": "completed",
        "CallDuration": "42",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        "ParentCallSid": side.call.call_sid,
        "Digits": "1",
        "DialCallStatus": "no-answer",
        "DialCallSid": "CA" + "d" * 32,
        "DialCallDuration": "0",
        "RecordingSid": "RE" + "e" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1",
        "RecordingDuration": "12",
        "TranscriptionText": "forged transcription",
        "TranscriptionStatus": "completed",
        "MessageSid": "SM" + "f" * 32,
        "MessageStatus": "delivered",
        "Body": f"ACK {side.alert.pk}",
        "NumMedia": "0",
    }


def empty_key_signature(url: str, params: dict) -> str:
    return RequestValidator("").compute_signature(url, params)


def forged_requests(path: str, params: dict):
    """(description, query string, headers) of requests that must all be refused."""
    url = "https://roulette.example.com" + path
    good = signature(url, params, AUTH_TOKEN)
    yield "no signature", "", {}
    yield "empty signature", "", {"HTTP_X_TWILIO_SIGNATURE": ""}
    yield "garbage signature", "", {"HTTP_X_TWILIO_SIGNATURE": "not-base64!!"}
    yield "non-ascii signature", "", {"HTTP_X_TWILIO_SIGNATURE": "é" * len(good)}
    yield "signed with another token", "", {"HTTP_X_TWILIO_SIGNATURE": signature(url, params, "other-token")}
    yield "signed with an empty key", "", {"HTTP_X_TWILIO_SIGNATURE": empty_key_signature(url, params)}
    tampered = {**params, "From": "+4915100000000"}
    yield "params tampered after signing", "", {"HTTP_X_TWILIO_SIGNATURE": signature(url, tampered, AUTH_TOKEN)}
    yield "query string added after signing", "attempt=1", {"HTTP_X_TWILIO_SIGNATURE": good}
    yield (
        "signed over http, not the public https",
        "",
        {"HTTP_X_TWILIO_SIGNATURE": signature(url.replace("https://", "http://"), params, AUTH_TOKEN)},
    )


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_every_telephony_url_refuses_forged_posts_and_writes_nothing(world, client, settings, debug):
    settings.DEBUG = debug
    params = twilio_params(world.alpha)
    before = row_counts()
    for path in telephony_paths():
        for query in ("", f"attempt={world.alpha.attempt.pk}"):
            full = f"{path}?{query}" if query else path
            for what, extra_query, headers in forged_requests(full, params):
                target = full + (("&" if query else "?") + extra_query if extra_query else "")
                if what == "query string added after signing" and query:
                    target = path + "?attempt=999999"  # the attempt id swapped after signing
                response = client.post(target, params, **headers)
                assert response.status_code == 403, (target, what, response.status_code)
                assert b"Invalid Twilio signature" in response.content
    assert row_counts() == before


def test_no_auth_token_configured_refuses_everything(world, client, settings):
    """Without TWILIO_AUTH_TOKEN nothing can be valid: a signature made with an empty key must not pass."""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_AUTH_TOKEN_SECONDARY = ""
    params = twilio_params(world.alpha)
    before = row_counts()
    for path in telephony_paths():
        sig = empty_key_signature("https://roulette.example.com" + path, params)
        assert client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sig).status_code == 403, path
    assert row_counts() == before


def test_every_telephony_url_is_post_only(world, client):
    for path in telephony_paths():
        for method in ("get", "put", "delete"):
            assert getattr(client, method)(path).status_code == 405, (method, path)


@pytest.mark.usefixtures("celery_eager")  # a transcription before its alert enqueues the raise
def test_signed_posts_pass_on_every_url_with_either_token(world, client, settings):
    """The control for the tests above: the same requests, correctly signed, are served (not 403), with the
    primary and with the secondary token (rotation), and a signed incoming call does write its Call."""
    settings.TWILIO_AUTH_TOKEN_SECONDARY = "the-next-token"
    params = {**twilio_params(world.alpha), "CallSid": "CA" + "7" * 32}
    for token in (AUTH_TOKEN, "the-next-token"):
        for path in telephony_paths():
            full = f"{path}?attempt={world.alpha.attempt.pk}"
            sig = signature("https://roulette.example.com" + full, params, token)
            response = client.post(full, params, HTTP_X_TWILIO_SIGNATURE=sig)
            assert response.status_code in (200, 204), (path, response.status_code)
    assert Call.objects.filter(call_sid="CA" + "7" * 32).exists()


def test_bad_signature_is_logged_without_any_secret(world, client, caplog):
    caplog.set_level(logging.DEBUG)
    params = twilio_params(world.alpha)
    sig = signature("https://roulette.example.com/telephony/voice/incoming/", params, "wrong")
    response = client.post(
        "/telephony/voice/incoming/", params, HTTP_X_TWILIO_SIGNATURE=sig, HTTP_AUTHORIZATION=f"Token {world.alpha.key}"
    )
    assert response.status_code == 403
    assert "Rejected a Twilio webhook" in caplog.text
    for secret in (AUTH_TOKEN, world.alpha.key):
        assert secret not in caplog.text
        assert secret not in response.content.decode()


# --- The switch: only TWILIO_VALIDATE_SIGNATURES=false, never DEBUG -----------------------------------------


SHOW_SWITCH = (
    "import django; django.setup(); from django.conf import settings; print(settings.TWILIO_VALIDATE_SIGNATURES)"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "True"), ("", "True"), ("true", "True"), ("false", "False")],
    ids=["unset", "empty", "true", "false"],
)
def test_only_an_explicit_false_switches_the_signature_check_off_even_with_debug(tmp_path, value, expected):
    env = {"DJANGO_DEBUG": "true"}
    if value is not None:
        env["TWILIO_VALIDATE_SIGNATURES"] = value
    result = run_python(SHOW_SWITCH, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
    warned = "TWILIO_VALIDATE_SIGNATURES=false" in result.stderr
    assert warned == (expected == "False"), result.stderr


def test_a_misspelt_switch_stops_start_up_instead_of_opening_the_webhooks(tmp_path):
    result = run_python(SHOW_SWITCH, {"DJANGO_DEBUG": "true", "TWILIO_VALIDATE_SIGNATURES": "flase"}, tmp_path)
    assert result.returncode != 0
    assert "TWILIO_VALIDATE_SIGNATURES must be true or false" in result.stderr
