"""Requests signed exactly as Twilio signs them (never by switching the check off)."""

from django.conf import settings
from twilio.request_validator import RequestValidator


def signature(url: str, params: dict, token: str | None = None) -> str:
    return RequestValidator(token or settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)


def post_signed(client, path: str, params: dict, *, token: str | None = None, **extra):
    """POST form params to `path` with a valid X-Twilio-Signature over PUBLIC_BASE_URL + path."""
    url = settings.PUBLIC_BASE_URL + path
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature(url, params, token), **extra)
