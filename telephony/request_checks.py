"""What every Twilio webhook request is checked for before its view runs: the signature, and the shape of
the Twilio ids it carries (`twilio_webhook` applies both).

https://www.twilio.com/docs/usage/security#validating-requests: the signature covers the URL Twilio
requested, rebuilt here from PUBLIC_BASE_URL (behind a TLS proxy Django sees http, Twilio signed https).
"""

import functools
import logging
import re
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from telephony.metrics import webhook_observe

logger = logging.getLogger(__name__)

# Twilio's identifiers are two letters naming the kind and 32 hex digits
# (https://www.twilio.com/docs/glossary/what-is-a-sid). MM is an MMS's MessageSid.
SID_PREFIXES = {
    "AccountSid": ("AC",),
    "CallSid": ("CA",),
    "ParentCallSid": ("CA",),
    "DialCallSid": ("CA",),
    "RecordingSid": ("RE",),
    "TranscriptionSid": ("TR",),
    "MessageSid": ("SM", "MM"),
    "SmsSid": ("SM", "MM"),
    "SmsMessageSid": ("SM", "MM"),
}
_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


def malformed_sid(params) -> str | None:
    """The name of the first Twilio id in the request that does not have its kind's shape, or None.

    An absent or empty id is not malformed here: each view decides what a missing one means.
    """
    for name, prefixes in SID_PREFIXES.items():
        for value in params.getlist(name):
            if value and not (_SID.fullmatch(value) and value[:2] in prefixes):
                return name
    return None


def signing_tokens() -> list[str]:
    """The Auth Tokens a signature may be made with: stripped, and never an empty or blank one (a blank
    key is one anybody can sign with)."""
    tokens = (settings.TWILIO_AUTH_TOKEN, settings.TWILIO_AUTH_TOKEN_SECONDARY)
    return [token.strip() for token in tokens if token and token.strip()]


def signature_is_valid(request) -> bool:
    if not settings.TWILIO_VALIDATE_SIGNATURES:
        return True
    # X-Twilio-Signature read from META itself: request.headers would copy every header first.
    signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
    if not signature:
        return False
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    tokens = signing_tokens()
    return any(RequestValidator(token).validate(url, request.POST, signature) for token in tokens)


def twilio_webhook(view):
    """POST only, CSRF-exempt, and 403 (nothing written) unless X-Twilio-Signature is valid. The time to
    answer goes into the webhook latency histogram (telephony.metrics), labelled with the URL's name."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        started = time.perf_counter()
        try:
            if not signature_is_valid(request):
                logger.warning("Rejected a Twilio webhook with a missing or wrong signature: %s", request.path)
                return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
            return view(request, *args, **kwargs)
        finally:
            match = request.resolver_match
            webhook_observe(
                match.url_name if match and match.url_name else view.__name__, time.perf_counter() - started
            )

    return wrapper


def on_a_live_connection(run, *, what: str):
    """`run()`; once more on a new database connection when the connection it reused turned out dead at its
    first statement: a peer or a proxy that dropped it without a word, which the health check at the start
    of a request cannot see without a round trip. Nothing was written then, so the second run is the
    request's only one (a caller's next ring, a call's final status, are not lost to a stale socket). Any
    other error, or one after a statement went through, is the caller's to handle."""
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: every webhook passes here
    reused = db.connection is not None
    statements = []

    def counted(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        statements.append(sql)
        return result

    db.execute_wrappers.append(counted)
    try:
        return run()
    except (OperationalError, InterfaceError):
        if not reused or statements or db.in_atomic_block:
            raise
    finally:
        db.execute_wrappers.remove(counted)
    logger.warning("%s: the database connection was dead; running it again on a new one", what)
    db.close()
    return run()
