"""The only module that imports twilio.rest: the REST client, pointed at TWILIO_API_BASE_URL when set."""

import datetime as dt
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from django.conf import settings
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from telephony.backends import SmsError, SmsPermanentError, SmsTransientError, SmsUncertainError


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every request to another origin (a local fake Twilio), keeping path and query."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def twilio_client() -> Client:
    """A REST client with an HTTP timeout (the library's default has none: a stuck call hangs a worker)."""
    timeout = settings.TWILIO_HTTP_TIMEOUT_SECONDS
    if settings.TWILIO_API_BASE_URL:
        http_client = RedirectingHttpClient(settings.TWILIO_API_BASE_URL, timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)


# --- Messages ------------------------------------------------------------------------------------------------

# https://www.twilio.com/docs/api/errors: codes where trying again cannot help.
PERMANENT_ERROR_CODES = frozenset({"21211", "21614", "21610", "21612", "21408", "21606", "21212", "21608", "20003"})
RATE_LIMIT_CODE = "20429"
OPTED_OUT_CODE = "21610"
# A lookup accepts messages created a little before our row, in case the two clocks disagree.
LOOKUP_CLOCK_SKEW = dt.timedelta(minutes=5)


def twilio_message_create(*, to: str, from_: str, body: str, status_callback: str) -> dict:
    """POST a Message; returns its sid and Twilio's status. Errors are the library's (see twilio_error_to_sms_error)."""
    message = twilio_client().messages.create(to=to, from_=from_, body=body, status_callback=status_callback)
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
        status = int(exc.status or 0)
        text = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "") or exc)
        if status == 429 or code == RATE_LIMIT_CODE or status >= 500:
            return SmsTransientError(text, code=code, http_status=status)
        return SmsPermanentError(text, code=code, http_status=status)
    if isinstance(exc, requests.exceptions.RequestException) and _connection_never_opened(exc):
        return SmsTransientError(f"Could not connect to Twilio: {type(exc).__name__}")
    kind = SmsUncertainError if request_sent else SmsTransientError
    if isinstance(exc, requests.exceptions.Timeout):
        return kind("Twilio did not answer in time.")
    if isinstance(exc, requests.exceptions.RequestException):
        return kind(f"The connection to Twilio broke: {type(exc).__name__}")
    return kind(f"Unexpected error talking to Twilio: {type(exc).__name__}")
