"""The Twilio backend against the fake Twilio: exactly once, retries with back-off, permanent errors, timeouts."""

import datetime as dt
import email.utils
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from telephony.models import OutboundMessage
from telephony.sms import RETRY_BASE_SECONDS, RETRY_JITTER, sms_deliver_attempt, sms_send
from telephony.tasks.sms import sms_deliver
from tests.factories import MemberFactory, SupportNumberFactory, TeamFactory
from tests.fake_twilio import DROP, HANG, TwilioError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_retries")]

Status = OutboundMessage.Status


def send(member, key="reminder:1:1440", body="Your shift starts tomorrow at 09:00.", **kwargs):
    return sms_send(to=member.phone, body=body, kind="reminder", dedupe_key=key, member=member, **kwargs)


@pytest.fixture
def retry_countdowns(monkeypatch):
    """The countdowns the delivery task asked Celery for (eager mode runs retries at once, no sleeping)."""
    seen = []
    original = sms_deliver.retry

    def spy(*args, **kwargs):
        seen.append(kwargs["countdown"])
        return original(*args, **kwargs)

    monkeypatch.setattr(sms_deliver, "retry", spy)
    return seen


def test_sends_once_with_sender_and_status_callback(fake_twilio, django_capture_on_commit_callbacks):
    team = TeamFactory()
    SupportNumberFactory(team=team, phone_number="+4930111111", sms_enabled=True)
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member, team=team)

    [request] = fake_twilio.message_creates
    assert request.data == {
        "To": member.phone,
        "From": "+4930111111",
        "Body": "Your shift starts tomorrow at 09:00.",
        "StatusCallback": "https://roulette.example.com/telephony/sms/status/",
    }
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.message_sid in fake_twilio.messages
    assert message.attempts == 1


def test_team_number_that_cannot_send_sms_falls_back_to_global_sender(
    fake_twilio, settings, django_capture_on_commit_callbacks
):
    settings.TWILIO_SMS_FROM = "+15005550006"
    team = TeamFactory()
    SupportNumberFactory(team=team, phone_number="+5511111111", sms_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        send(MemberFactory(), team=team)
    assert fake_twilio.message_creates[0].data["From"] == "+15005550006"


def test_same_key_twice_and_task_run_twice_send_one_request(fake_twilio, django_capture_on_commit_callbacks):
    member = MemberFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = send(member)
        second = send(member, body="A different text for the same reminder.")
    assert second.pk == first.pk
    sms_deliver.delay(first.pk)
    sms_deliver.delay(first.pk)

    assert len(fake_twilio.message_creates) == 1
    assert OutboundMessage.objects.count() == 1


def test_503_twice_then_201_is_sent_once_after_growing_jittered_back_off(
    fake_twilio, retry_countdowns, django_capture_on_commit_callbacks
):
    fake_twilio.script(503, 503, 201)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 3
    assert len(fake_twilio.message_creates) == 3
    assert len(fake_twilio.messages) == 1  # Twilio created exactly one message
    first, second = retry_countdowns
    assert RETRY_BASE_SECONDS <= first <= RETRY_BASE_SECONDS * (1 + RETRY_JITTER)
    assert 2 * RETRY_BASE_SECONDS <= second <= 2 * RETRY_BASE_SECONDS * (1 + RETRY_JITTER)


def test_429_is_retried(fake_twilio, retry_countdowns, django_capture_on_commit_callbacks):
    fake_twilio.script(TwilioError(429, 20429, "Too Many Requests"))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(retry_countdowns) == 1


def test_invalid_number_fails_with_code_after_one_request(
    fake_twilio, retry_countdowns, django_capture_on_commit_callbacks
):
    fake_twilio.script(TwilioError(400, 21211, "The 'To' number is not a valid phone number."))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "21211"
    assert "not a valid phone number" in message.error_message
    assert len(fake_twilio.message_creates) == 1
    assert retry_countdowns == []


def test_opted_out_at_twilio_fails_and_marks_the_member_opted_out(
    fake_twilio, retry_countdowns, django_capture_on_commit_callbacks
):
    member = MemberFactory()
    fake_twilio.script(TwilioError(400, 21610, "Attempt to send to unsubscribed recipient"))
    with django_capture_on_commit_callbacks(execute=True):
        message = send(member)
    message.refresh_from_db()
    member.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "21610"
    assert member.is_opted_out
    assert retry_countdowns == []
    # The next message to them is not even attempted.
    with django_capture_on_commit_callbacks(execute=True):
        later = send(member, key="reminder:2:1440")
    assert later.status == Status.SKIPPED
    assert len(fake_twilio.message_creates) == 1


def test_bad_credentials_fail_without_retry(
    fake_twilio, settings, retry_countdowns, django_capture_on_commit_callbacks
):
    settings.TWILIO_AUTH_TOKEN = "wrong-token"
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "20003")
    assert retry_countdowns == []


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_connection_refused_is_retried_and_then_sent_once(
    fake_twilio, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.TWILIO_API_BASE_URL = closed_port_url()
    countdowns = []
    original = sms_deliver.retry

    def twilio_comes_back(*args, **kwargs):
        countdowns.append(kwargs["countdown"])
        settings.TWILIO_API_BASE_URL = fake_twilio.url
        return original(*args, **kwargs)

    monkeypatch.setattr(sms_deliver, "retry", twilio_comes_back)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())

    message.refresh_from_db()
    assert len(countdowns) == 1
    assert message.status == Status.SENT
    assert message.attempts == 2
    assert len(fake_twilio.message_creates) == 1


def test_connection_refused_leaves_the_row_queued_with_a_next_attempt(fake_twilio, settings):
    settings.TWILIO_API_BASE_URL = closed_port_url()
    message = OutboundMessage.objects.create(to="+4915100000001", body="hi", kind="test", dedupe_key="k")
    outcome = sms_deliver_attempt(message_id=message.pk)
    message.refresh_from_db()
    assert outcome.retry_in is not None
    assert message.status == Status.QUEUED
    assert message.next_attempt_at is not None
    assert "connect" in message.error_message.lower()


@pytest.fixture
def no_status_check_delay(monkeypatch):
    """Eager retries run at once: let the lookup be due at once too."""
    monkeypatch.setattr("telephony.sms.STATUS_CHECK_DELAY_SECONDS", 0)


def test_read_timeout_after_create_is_looked_up_not_resent(
    fake_twilio, settings, retry_countdowns, no_status_check_delay, django_capture_on_commit_callbacks
):
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 0.5
    fake_twilio.script(HANG)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    fake_twilio.release()

    message.refresh_from_db()
    [created_sid] = fake_twilio.messages
    assert message.status == Status.SENT
    assert message.message_sid == created_sid
    assert not message.needs_status_check
    assert len(fake_twilio.message_creates) == 1  # looked up (GET), never POSTed again
    assert len(fake_twilio.requests_to("GET", "/Messages.json")) == 1


def test_dropped_connection_with_nothing_created_is_resent_once_after_lookup(
    fake_twilio, retry_countdowns, no_status_check_delay, django_capture_on_commit_callbacks
):
    fake_twilio.script(DROP)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(fake_twilio.message_creates) == 2
    assert len(fake_twilio.messages) == 1
    assert len(fake_twilio.requests_to("GET", "/Messages.json")) == 1


def test_no_sender_configured_fails_with_a_reason(fake_twilio, settings, django_capture_on_commit_callbacks):
    settings.TWILIO_SMS_FROM = ""
    with django_capture_on_commit_callbacks(execute=True):
        message = send(MemberFactory())
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "TWILIO_SMS_FROM" in message.error_message
    assert fake_twilio.message_creates == []


def test_an_early_duplicate_task_does_not_look_up_before_the_check_is_due(fake_twilio, settings):
    """A read timeout schedules the lookup 30 s later; a redelivered task arriving before then does nothing."""
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 0.5
    fake_twilio.script(HANG)
    message = OutboundMessage.objects.create(to="+4915100000001", body="hi", kind="test", dedupe_key="early")
    first = sms_deliver_attempt(message_id=message.pk)
    fake_twilio.release()
    assert first.retry_in == 30
    assert sms_deliver_attempt(message_id=message.pk).retry_in is None
    message.refresh_from_db()
    assert (message.status, message.needs_status_check) == (Status.SENDING, True)
    assert fake_twilio.requests_to("GET", "/Messages.json") == []
    assert len(fake_twilio.message_creates) == 1


# --- RFC 9457 error bodies and Retry-After ------------------------------------------------------------------


class ProblemDetails(TwilioError):
    """An RFC-9457 error body, which twilio-python raises as TwilioServiceException (not TwilioRestException)."""

    def body(self) -> dict:
        return {
            "type": f"https://www.twilio.com/docs/errors/{self.code}",
            "title": "Request failed",
            "status": self.status,
            "code": self.code,
            "detail": self.message or "Details of the problem",
        }


@pytest.mark.parametrize(
    ("error", "status", "retried"),
    [
        (ProblemDetails(400, 21211, "The 'To' number is not valid."), Status.FAILED, False),
        (ProblemDetails(429, 20429), Status.QUEUED, True),
        (ProblemDetails(503, 20503), Status.QUEUED, True),
    ],
)
def test_rfc9457_error_bodies_are_classified_like_classic_ones(fake_twilio, error, status, retried):
    fake_twilio.script(error)
    message = OutboundMessage.objects.create(to="+4915100000001", body="Zoë", kind="test", dedupe_key="rfc")
    outcome = sms_deliver_attempt(message_id=message.pk)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (status, str(error.code))
    assert (outcome.retry_in is not None) == retried
    assert len(fake_twilio.message_creates) == 1


@pytest.fixture
def twilio_says_slow_down(settings):
    """A Twilio stand-in that answers every request 429 with a Retry-After header (set `.retry_after`)."""

    class Handler(BaseHTTPRequestHandler):
        retry_after = "120"

        def log_message(self, format, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(TwilioError(429, 20429, "Too Many Requests").body()).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", Handler.retry_after)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SMS_BACKEND = "twilio"
    yield Handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_with_retry_after_is_not_retried_sooner(twilio_says_slow_down, form):
    if form == "http-date":
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300)
        twilio_says_slow_down.retry_after = email.utils.format_datetime(later, usegmt=True)
        wanted = 295
    else:
        wanted = 120
    message = OutboundMessage.objects.create(to="+4915100000001", body="hi", kind="test", dedupe_key="slow")
    outcome = sms_deliver_attempt(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.error_code == "20429"
    assert outcome.retry_in >= wanted
    assert message.next_attempt_at >= message.updated_at + dt.timedelta(seconds=wanted)
