"""The only module that imports twilio.rest: the REST client, pointed at TWILIO_API_BASE_URL when set."""

import datetime as dt
import email.utils
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony.backends import (
    BaseSmsBackend,
    SmsError,
    SmsPermanentError,
    SmsSendResult,
    SmsTransientError,
    SmsUncertainError,
)
from telephony.models import OutboundMessage


class HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps the last response's headers: the library's errors drop them, and a 429 says when to come back."""

    last_headers: dict | None = None

    def request(self, *args, **kwargs):
        self.last_headers = None
        response = super().request(*args, **kwargs)
        self.last_headers = response.headers
        return response


class RedirectingHttpClient(HeaderKeepingHttpClient):
    """Sends every request to another origin (a local fake Twilio), keeping path and query."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


def twilio_client() -> Client:
    """A REST client with an HTTP timeout (the library's default has none: a stuck call hangs a worker)."""
    timeout = settings.TWILIO_HTTP_TIMEOUT_SECONDS
    if settings.TWILIO_API_BASE_URL:
        http_client = RedirectingHttpClient(settings.TWILIO_API_BASE_URL, timeout=timeout)
    else:
        http_client = HeaderKeepingHttpClient(timeout=timeout)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


# --- Messages ------------------------------------------------------------------------------------------------

# https://www.twilio.com/docs/api/errors: codes where trying again cannot help.
PERMANENT_ERROR_CODES = frozenset({"21211", "21614", "21610", "21612", "21408", "21606", "21212", "21608", "20003"})
RATE_LIMIT_CODE = "20429"
# A lookup accepts messages created a little before our row, in case the two clocks disagree.
LOOKUP_CLOCK_SKEW = dt.timedelta(minutes=5)


# A Retry-After longer than this is not waited for (the outbox gives up on a message after an hour anyway).
RETRY_AFTER_MAX_SECONDS = 3600


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header (delay-seconds or an HTTP date) in seconds from now, or None if absent or unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


def twilio_message_create(*, to: str, from_: str, body: str, status_callback: str) -> dict:
    """POST a Message; returns its sid and Twilio's status. Errors are the library's (see twilio_error_to_sms_error),
    with `retry_after` (seconds) set when the answer carried a Retry-After header."""
    client = twilio_client()
    try:
        message = client.messages.create(to=to, from_=from_, body=body, status_callback=status_callback)
    except Exception as exc:
        headers = getattr(client.http_client, "last_headers", None) or {}
        exc.retry_after = retry_after_seconds(headers.get("Retry-After"))
        raise
    return {"sid": message.sid, "status": message.status}


def twilio_message_find(
    *, to: str, from_: str, body: str, created_after: dt.datetime, exclude_sids: set[str] = frozenset()
) -> dict | None:
    """The message an earlier, timed-out create may have made: same To, From and body, created after our row.

    The Messages API has no idempotency key, so this is how we learn whether a request whose answer we never
    read created a message. Sids already stored on other outbox rows are not ours (same text sent twice).
    The list is newest first; a few dozen rows cover the minutes since the attempt.
    """
    since = created_after - LOOKUP_CLOCK_SKEW
    for message in twilio_client().messages.list(to=to, from_=from_, limit=50):
        if message.sid in exclude_sids or (message.body or "").strip() != body.strip():
            continue
        if message.date_created is None or message.date_created >= since:
            return {"sid": message.sid, "status": message.status}
    return None


def _connection_never_opened(exc: BaseException) -> bool:
    """True when the TCP connection failed, so the request cannot have reached Twilio."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: list[BaseException | None] = [exc]
    if exc.args:
        seen += [exc.args[0], getattr(exc.args[0], "reason", None)]
    seen.append(exc.__cause__)
    return any(isinstance(e, urllib3.exceptions.NewConnectionError | ConnectionRefusedError) for e in seen)


def twilio_error_to_sms_error(exc: BaseException, *, request_sent: bool) -> SmsError:
    """Classify a failed Twilio request: transient (retry), permanent (record, never retry) or uncertain.

    `request_sent` is whether an unanswered request could have had an effect (a create, not a lookup).
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        code = str(exc.code or "")
        try:
            # An RFC-9457 body's "status" is whatever the JSON said: it may be a string, or missing.
            status = int(exc.status or 0)
        except (TypeError, ValueError):
            status = 0
        text = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "") or exc)
        retry_after = getattr(exc, "retry_after", None)
        if status == 429 or code == RATE_LIMIT_CODE or status >= 500:
            return SmsTransientError(text, code=code, http_status=status, retry_after=retry_after)
        if code in PERMANENT_ERROR_CODES or 400 <= status < 500:
            return SmsPermanentError(text, code=code, http_status=status)
        # No usable HTTP status and a code we do not know: do not give up on a page for that.
        return SmsTransientError(text, code=code, http_status=status, retry_after=retry_after)
    if isinstance(exc, requests.exceptions.RequestException) and _connection_never_opened(exc):
        return SmsTransientError(f"Could not connect to Twilio: {type(exc).__name__}")
    kind = SmsUncertainError if request_sent else SmsTransientError
    if isinstance(exc, requests.exceptions.Timeout):
        return kind("Twilio did not answer in time.")
    if isinstance(exc, requests.exceptions.RequestException):
        return kind(f"The connection to Twilio broke: {type(exc).__name__}")
    return kind(f"Unexpected error talking to Twilio: {type(exc).__name__}")


# --- The SMS backend (SMS_BACKEND=twilio) -------------------------------------------------------------------


class TwilioBackend(BaseSmsBackend):
    """Sends through the Messages API; turns twilio/requests errors into the SmsError kinds of backends."""

    def send(self, message: OutboundMessage) -> SmsSendResult:
        if not message.sender:
            raise SmsPermanentError("No SMS sender: the team has no SMS-capable number and TWILIO_SMS_FROM is not set.")
        status_callback = settings.PUBLIC_BASE_URL + reverse("telephony:sms-status")
        try:
            created = twilio_message_create(
                to=message.to, from_=message.sender, body=message.body, status_callback=status_callback
            )
        except Exception as exc:
            raise twilio_error_to_sms_error(exc, request_sent=True) from exc
        return SmsSendResult(sid=created["sid"], status=created["status"])

    def lookup(self, message: OutboundMessage) -> SmsSendResult | None:
        try:
            found = twilio_message_find(
                to=message.to,
                from_=message.sender,
                body=message.body,
                created_after=message.created_at,
                exclude_sids=set(
                    OutboundMessage.objects.filter(to=message.to, message_sid__isnull=False)
                    .exclude(pk=message.pk)
                    .values_list("message_sid", flat=True)
                ),
            )
        except Exception as exc:
            # A lookup is a read: any timeout is only transient, it cannot have sent anything.
            raise twilio_error_to_sms_error(exc, request_sent=False) from exc
        return SmsSendResult(sid=found["sid"], status=found["status"]) if found else None


# --- Prices ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioPrice:
    """What Twilio says a call or message cost: `price` None until Twilio has rated it (minutes, sometimes).

    `price` is positive (Twilio writes a charge as a negative decimal string, "-0.01700"); `units` is the
    call's duration in seconds or the message's segments, when Twilio says.
    """

    price: Decimal | None
    price_unit: str
    units: int | None


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return abs(amount) if amount.is_finite() else None


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def twilio_call_price(*, sid: str) -> TwilioPrice:
    """GET /Calls/{sid}.json: a call's (or a dialled leg's) price and duration in seconds."""
    call = twilio_client().calls(sid).fetch()
    return TwilioPrice(_decimal(call.price), call.price_unit or "", _int_or_none(call.duration))


def twilio_message_price(*, sid: str) -> TwilioPrice:
    """GET /Messages/{sid}.json: a message's price and the segments Twilio billed."""
    message = twilio_client().messages(sid).fetch()
    return TwilioPrice(_decimal(message.price), message.price_unit or "", _int_or_none(message.num_segments))


def twilio_error_is_permanent(exc: BaseException) -> bool:
    """A look-up that cannot succeed later: the resource does not exist (404) or our credentials are refused."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        try:
            status = int(exc.status or 0)
        except (TypeError, ValueError):
            status = 0
        return status in (401, 403, 404) or str(exc.code or "") == "20003"
    return False
