"""The voice webhooks' edges: signatures, proxies, bad input, failures, the fallback URL and the query budget."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
import time_machine
from celery.app.task import Task
from django.conf import settings
from django.db import OperationalError, connection

from teams.models import Override, Role, Shift
from telephony import calls, voicemail
from telephony.models import Alert, Call, DialAttempt, OutboundMessage, Voicemail
from tests.factories import staffed_team, team_with_members
from tests.telephony.world import CALLER, NOW, WEB_NUMBER, TwilioCall, dial_action, sid, to_voicemail, voicemail_sms
from tests.twilio_helpers import post_signed, signature
from tests.twiml_rules import check_twiml

NUMBER = "+493012340002"
INCOMING = "/telephony/voice/incoming/"


def incoming_params(**extra) -> dict:
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + "1" * 32,
        "From": "+4917012345678",
        "To": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        **extra,
    }


@pytest.fixture
def team(db):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = staffed_team(number=NUMBER, name="Payments")
        yield team


def test_unsigned_request_is_refused_and_writes_nothing(client, team):
    response = client.post(INCOMING, incoming_params())
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_tampered_request_is_refused_and_writes_nothing(client, team):
    params = incoming_params()
    good = signature(settings.PUBLIC_BASE_URL + INCOMING, params)
    response = client.post(INCOMING, {**params, "From": "+4917099999999"}, HTTP_X_TWILIO_SIGNATURE=good)
    assert response.status_code == 403
    response = post_signed(client, INCOMING, params, token="not-our-token")
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_every_internal_url_checks_the_signature(client, team):
    for path in (
        "/telephony/voice/screen/?attempt=1",
        "/telephony/voice/accept/?attempt=1",
        "/telephony/voice/dial-result/?attempt=1",
        "/telephony/voice/recording/",
        "/telephony/voice/recording-status/",
        "/telephony/voice/transcription/",
        "/telephony/voice/status/",
        "/telephony/voice/fallback/",
    ):
        assert client.post(path, {"RecordingSid": "RE1", "RecordingUrl": "https://x"}).status_code == 403, path
    assert not Voicemail.objects.exists()


def test_a_tampered_query_string_is_refused(client, team):
    """The attempt id travels in the query string, which the signature covers."""
    signed_for = settings.PUBLIC_BASE_URL + "/telephony/voice/accept/?attempt=1"
    params = {"CallSid": "CA" + "2" * 32, "Digits": "1"}
    response = client.post(
        "/telephony/voice/accept/?attempt=2", params, HTTP_X_TWILIO_SIGNATURE=signature(signed_for, params)
    )
    assert response.status_code == 403


def test_get_is_not_allowed(client, team):
    assert client.get(INCOMING).status_code == 405


def test_https_public_url_behind_a_tls_proxy(client, team, settings):
    """Twilio signs https://…; Django behind the proxy sees http://testserver. The https URL is the one checked."""
    settings.PUBLIC_BASE_URL = "https://support.example.org"
    params = incoming_params()
    http_signature = signature("http://testserver" + INCOMING, params)
    assert client.post(INCOMING, params, HTTP_X_TWILIO_SIGNATURE=http_signature).status_code == 403
    with time_machine.travel(NOW, tick=False):
        response = post_signed(client, INCOMING, params, HTTP_X_FORWARDED_PROTO="https")
    root = check_twiml(response)
    # The URLs handed back to Twilio are absolute under the public origin too.
    assert root.find("Dial").get("action").startswith("https://support.example.org/telephony/voice/dial-result/")


def test_secondary_auth_token_is_accepted_during_rotation(client, team, settings):
    settings.TWILIO_AUTH_TOKEN_SECONDARY = "the-new-token"
    with time_machine.travel(NOW, tick=False):
        response = post_signed(client, INCOMING, incoming_params(), token="the-new-token")
    assert check_twiml(response).find("Dial") is not None


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "  \n"])
def test_a_blank_secondary_token_is_no_signing_key(client, team, settings, blank):
    settings.TWILIO_AUTH_TOKEN_SECONDARY = blank
    with time_machine.travel(NOW, tick=False):
        assert post_signed(client, INCOMING, incoming_params(), token=blank).status_code == 403
        assert not Call.objects.exists()
        # The real token still works beside it.
        assert check_twiml(post_signed(client, INCOMING, incoming_params())).find("Dial") is not None


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"CallSid": "CA" + "3" * 32},
        {"To": NUMBER},
        {"CallSid": "", "To": "", "From": ""},
        {"CallSid": "CA" + "3" * 32, "To": "not a number at all \x00"},
    ],
)
def test_missing_or_malformed_parameters_get_valid_twiml(client, team, params):
    root = check_twiml(post_signed(client, INCOMING, params))
    assert root.find("Hangup") is not None or root.find("Record") is not None


def test_malformed_internal_requests_get_valid_twiml(client, team):
    assert (
        check_twiml(post_signed(client, "/telephony/voice/dial-result/?attempt=x", {"CallSid": "CA1"})).find("Record")
        is not None
    )
    assert check_twiml(post_signed(client, "/telephony/voice/screen/", {})).find("Hangup") is not None
    refused = check_twiml(post_signed(client, "/telephony/voice/accept/?attempt=999", {"Digits": "1"}))
    assert [verb.tag for verb in refused] == ["Hangup"]
    thanks = check_twiml(post_signed(client, "/telephony/voice/recording/", {"CallSid": "CA1"}))
    assert "Thank you" in thanks.find("Say").text
    check_twiml(post_signed(client, "/telephony/voice/status/", {}))
    check_twiml(post_signed(client, "/telephony/voice/transcription/", {"RecordingSid": "RE404"}))
    assert not Voicemail.objects.exists()


def test_an_unexpected_error_becomes_an_apology_and_voicemail(client, team, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(calls, "call_incoming", broken)
    root = check_twiml(post_signed(client, INCOMING, incoming_params()))
    assert "sorry" in root.find("Say").text.lower()
    assert root.find("Record").get("action") == settings.PUBLIC_BASE_URL + "/telephony/voice/recording/"


def test_recording_tolerates_a_database_failure(client, team, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(voicemail, "voicemail_store", broken)
    params = {"CallSid": "CA1", "RecordingSid": "RE1", "RecordingUrl": "https://api.twilio.com/r/RE1"}
    root = check_twiml(post_signed(client, "/telephony/voice/recording/", params))
    assert "Thank you" in root.find("Say").text


# No `db` fixture below: pytest-django makes any database access raise, so these prove the fallback
# answers with the database unreachable.


def test_fallback_answers_without_the_database(client):
    root = check_twiml(post_signed(client, "/telephony/voice/fallback/", incoming_params()))
    assert "sorry" in root.find("Say").text.lower()
    assert root.find("Record").get("action") == settings.PUBLIC_BASE_URL + "/telephony/voice/recording/"


def test_fallback_rings_the_emergency_phone_then_takes_a_voicemail(client, settings):
    settings.EMERGENCY_PHONE = "+4915199999999"
    root = check_twiml(post_signed(client, "/telephony/voice/fallback/", incoming_params()))
    dial = root.find("Dial")
    assert dial.find("Number").text == "+4915199999999"
    action = dial.get("action")[len(settings.PUBLIC_BASE_URL) :]
    after = check_twiml(post_signed(client, action, incoming_params(DialCallStatus="no-answer")))
    assert after.find("Record") is not None
    done = check_twiml(post_signed(client, action, incoming_params(DialCallStatus="completed")))
    assert [verb.tag for verb in done] == ["Hangup"]


def test_fallback_never_dials_the_number_being_called(client, settings):
    settings.EMERGENCY_PHONE = NUMBER
    root = check_twiml(post_signed(client, "/telephony/voice/fallback/", incoming_params()))
    assert root.find("Dial") is None and root.find("Record") is not None


def _replay_incoming(client):
    with time_machine.travel(NOW, tick=False):
        first = check_twiml(post_signed(client, INCOMING, incoming_params()))
        second = check_twiml(post_signed(client, INCOMING, incoming_params()))
    assert Call.objects.count() == 1 and DialAttempt.objects.count() == 1
    assert first.find("Dial/Number").text == second.find("Dial/Number").text


def test_a_repeated_incoming_request_does_not_duplicate_the_call(client, team):
    _replay_incoming(client)


def test_a_repeated_incoming_request_in_autocommit_mode(transactional_db, client, team):
    """As in production: no surrounding transaction, the duplicate INSERT fails alone and is recovered."""
    assert not connection.in_atomic_block
    _replay_incoming(client)


@pytest.fixture
def big_history(team):
    """10,000 past shifts and 1,000 past overrides, across several teams and both roles."""
    other, members = team_with_members(4, name="Other")
    member_ids = [m.pk for m in team.members.all()]
    shifts, overrides = [], []
    start = NOW - dt.timedelta(days=3000)
    for i in range(10_000):
        begin = start + dt.timedelta(hours=6 * i)
        shifts.append(
            Shift(
                team=team if i % 2 else other,
                role=Role.PRIMARY if i % 4 < 2 else Role.SECONDARY,
                member_id=member_ids[i % 2] if i % 2 else members[i % 4].pk,
                start=begin,
                end=begin + dt.timedelta(hours=3),
            )
        )
    for i in range(1_000):
        begin = start + dt.timedelta(hours=30 * i)
        overrides.append(
            Override(
                team=team, role=Role.PRIMARY, member_id=member_ids[0], start=begin, end=begin + dt.timedelta(hours=1)
            )
        )
    Shift.objects.bulk_create(shifts, batch_size=2000)
    Override.objects.bulk_create(overrides, batch_size=1000)
    return team


def test_incoming_call_runs_at_most_five_queries_and_no_network_call(
    transactional_db, client, big_history, django_assert_max_num_queries, monkeypatch
):
    """Outside a test transaction, as in production: BEGIN, COMMIT and SAVEPOINT would be counted too."""
    published = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **kw: published.append(self.name))

    def no_network(*args, **kwargs):
        raise AssertionError("network call from the incoming-call webhook")

    monkeypatch.setattr("telephony.twilio.twilio_client", no_network)
    connection.ensure_connection()  # the database connection exists before the request, as in production
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(5):
        response = post_signed(client, INCOMING, incoming_params())
    root = check_twiml(response)
    primary = Shift.objects.get(team=big_history, role=Role.PRIMARY, start__lte=NOW, end__gt=NOW).member
    assert root.find("Dial/Number").text == primary.phone
    assert published == []


# --- Internal URLs with attempt ids nobody handed out -------------------------------------------------------


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


# --- The database failing in the middle of a call -----------------------------------------------------------


def failing(table: str):
    """Any SQL statement touching `table` fails as if the database had gone away."""

    def wrapper(execute, sql, params, many, context):
        if table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper)


@pytest.mark.usefixtures("celery_eager")
def test_database_failing_on_the_incoming_call_still_takes_the_voicemail(web, twilio):
    call = twilio()
    with failing("telephony_call"):
        root = call.incoming()
    assert "sorry" in root.find("Say").text.lower()
    assert not Call.objects.exists()
    # The database is back when the recording arrives: the call and the voicemail are logged, people told.
    call.record(root.find("Record"), recording_sid="RE" + "f" * 32)
    assert Voicemail.objects.get().call == call.call() and call.call().team == web.team
    assert [m.to for m in voicemail_sms()] == [web.primary.phone]


@pytest.mark.parametrize("table", ["telephony_dialattempt", "teams_shift", "teams_supportnumber"])
def test_database_failing_on_the_dial_action_ends_in_a_voicemail(web, twilio, table):
    call = twilio()
    dial = call.incoming().find("Dial")
    with failing(table):
        root = call.leg(dial, "no-answer")
    assert root.find("Record") is not None and root.find("Dial") is None


@pytest.mark.usefixtures("celery_eager")
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
    assert Voicemail.objects.get().call == call.call() and [m.to for m in voicemail_sms()] == [web.primary.phone]


# --- A whole call under a public URL prefix, the secondary token, query strings, GET ------------------------


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


@pytest.mark.usefixtures("celery_eager")
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


# --- The query budget with odd caller ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    "caller", ["primary", "+49 170 0000-0001", pytest.param("sip:" + "a" * 60 + "@pbx.example.com", id="long-sip")]
)
def test_incoming_stays_within_five_queries(transactional_db, client, caller, django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = staffed_team(number=WEB_NUMBER, name="Budget", allowed_callers=[])
        caller = primary.phone if caller == "primary" else caller
        params = {"CallSid": sid("CA"), "From": caller, "To": WEB_NUMBER, "CallStatus": "ringing"}
        connection.ensure_connection()
        with django_assert_max_num_queries(5):
            root = check_twiml(post_signed(client, INCOMING, params))
    assert root.find("Dial/Number").text == (secondary.phone if caller == primary.phone else primary.phone)


# --- The broker is down: no webhook waits for it --------------------------------------------------------


def test_with_the_broker_down_the_webhooks_try_it_once_in_all_and_lose_nothing(transactional_db, client, redis_server):
    """Today's failure was a 6 s hang: three 2 s publish attempts in one webhook. Counted, not timed: one
    attempt, refused at once by the stopped broker's port, and none after it while the process knows the
    broker is down (telephony.queue)."""
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = staffed_team(number=NUMBER, name="Payments")
    redis_server.stop()
    call_sid, recording_sid = "CA" + "4" * 32, "RE" + "4" * 32
    recording = {
        "CallSid": call_sid,
        "From": "+4917012345678",
        "To": NUMBER,
        "RecordingSid": recording_sid,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/" + recording_sid,
        "RecordingDuration": "12",
    }
    requests = [
        (INCOMING, incoming_params(CallSid=call_sid)),
        ("/telephony/voice/recording-status/", {**recording, "RecordingStatus": "completed"}),
        ("/telephony/voice/recording/", recording),
        (
            "/telephony/voice/transcription/",
            {**recording, "TranscriptionStatus": "completed", "TranscriptionText": "Please call back"},
        ),
        ("/telephony/voice/status/", {**incoming_params(CallSid=call_sid), "CallStatus": "completed"}),
        (
            "/telephony/sms/incoming/",
            {"MessageSid": "SM" + "4" * 32, "From": primary.phone, "To": NUMBER, "Body": "WHO"},
        ),
    ]
    attempts = {}
    with time_machine.travel(NOW, tick=False):
        for path, params in requests:
            before = redis_server.attempts
            response = post_signed(client, path, params)
            attempts[path] = redis_server.attempts - before
            assert response.status_code == 200, path
    assert sum(attempts.values()) == 1, attempts
    # The voicemail, its alert and its page are rows waiting for the sweep, not lost.
    voicemail = Voicemail.objects.get()
    assert voicemail.recording_sid == recording_sid and voicemail.alert.source == "voicemail"
    notices = OutboundMessage.objects.filter(kind="voicemail")
    assert {m.to for m in notices} == {primary.phone}
    assert {m.status for m in notices} == {"queued"}


def test_with_the_broker_down_a_call_back_request_answers_at_once_and_its_page_waits(
    transactional_db, client, redis_server
):
    with time_machine.travel(NOW, tick=False):
        team, (primary, secondary) = staffed_team(number=NUMBER, name="Payments")
    redis_server.stop()
    call_sid = "CA" + "5" * 32
    with time_machine.travel(NOW, tick=False):
        post_signed(client, INCOMING, incoming_params(CallSid=call_sid))
        before = redis_server.attempts
        response = post_signed(
            client, "/telephony/voice/callback/", {**incoming_params(CallSid=call_sid), "Digits": "1"}
        )
    # One publish attempt (the page), refused at once by the stopped broker's port; no retry loop.
    assert redis_server.attempts - before == 1
    assert "call you back" in check_twiml(response).find("Say").text
    alert = Alert.objects.get(source="callback")
    assert alert.call.outcome == Call.Outcome.CALLBACK
    # The page is an outbox row waiting for the SMS sweep, not lost.
    [page] = OutboundMessage.objects.filter(kind="alert")
    assert (page.to, page.status) == (primary.phone, "queued")


# --- Twilio ids have one shape; one voicemail per call ------------------------------------------------------

GARBAGE_SIDS = ["-1", "1e309", "' OR 1=1 --", "CA" + "g" * 32, "CA" + "1" * 31, "XX" + "1" * 32, "ca" + "1" * 32]
RECORDING = {"RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1", "RecordingDuration": "9"}


@pytest.mark.parametrize("garbage", GARBAGE_SIDS)
@pytest.mark.parametrize(
    ("path", "name", "valid"),
    [
        (INCOMING, "CallSid", incoming_params()),
        ("/telephony/voice/status/", "CallSid", {**incoming_params(), "CallStatus": "completed"}),
        (
            "/telephony/voice/recording/",
            "RecordingSid",
            {**incoming_params(), **RECORDING, "RecordingSid": "RE" + "5" * 32},
        ),
        (
            "/telephony/voice/recording-status/",
            "CallSid",
            {**incoming_params(), **RECORDING, "RecordingSid": "RE" + "5" * 32, "RecordingStatus": "completed"},
        ),
        ("/telephony/voice/transcription/", "RecordingSid", {**incoming_params(), **RECORDING, "RecordingSid": "RE1"}),
        (
            "/telephony/voice/dial-result/?attempt=1",
            "DialCallSid",
            {**incoming_params(), "DialCallStatus": "completed"},
        ),
        ("/telephony/voice/accept/?attempt=1", "ParentCallSid", {"CallSid": "CA" + "6" * 32, "Digits": "1"}),
        ("/telephony/voice/incoming/", "AccountSid", incoming_params()),
        (
            "/telephony/sms/incoming/",
            "MessageSid",
            {"MessageSid": "SM" + "1" * 32, "From": "+4917012345678", "Body": "WHO"},
        ),
    ],
)
def test_a_malformed_twilio_id_is_answered_safely_and_writes_nothing(client, team, path, name, valid, garbage):
    with time_machine.travel(NOW, tick=False):
        response = post_signed(client, path, {**valid, name: garbage})
    assert response.status_code == 200
    check_twiml(response)
    assert not Call.objects.exists() and not Voicemail.objects.exists() and not OutboundMessage.objects.exists()


def test_a_malformed_message_sid_in_a_status_callback_changes_nothing(client, team):
    response = post_signed(
        client, "/telephony/sms/status/", {"MessageSid": "' OR 1=1 --", "MessageStatus": "delivered"}
    )
    assert response.status_code == 204


@pytest.mark.usefixtures("celery_eager")
def test_another_recording_sid_for_the_same_call_makes_no_second_voicemail_or_notice(
    client, team, django_capture_on_commit_callbacks
):
    call_sid = "CA" + "8" * 32
    with time_machine.travel(NOW, tick=False):
        post_signed(client, INCOMING, incoming_params(CallSid=call_sid))
        for recording_sid in ("RE" + "8" * 32, "RE" + "9" * 32, "RE" + "a" * 32):
            params = {**incoming_params(CallSid=call_sid), **RECORDING, "RecordingSid": recording_sid}
            with django_capture_on_commit_callbacks(execute=True):
                assert post_signed(client, "/telephony/voice/recording-status/", params).status_code == 200
                post_signed(client, "/telephony/voice/recording/", params)
                post_signed(
                    client,
                    "/telephony/voice/transcription/",
                    {**params, "TranscriptionStatus": "completed", "TranscriptionText": "call me"},
                )
    voicemail = Voicemail.objects.get()
    assert voicemail.recording_sid == "RE" + "8" * 32
    # One alert for the call, and its one page to the primary.
    [alert] = Alert.objects.all()
    assert alert.voicemail == voicemail and alert.call.call_sid == call_sid
    notices = OutboundMessage.objects.filter(kind="voicemail")
    assert [m.to for m in notices] == [team.shifts.get(role=Role.PRIMARY).member.phone]
