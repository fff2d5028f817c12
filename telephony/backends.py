"""SMS backends chosen by settings.SMS_BACKEND, like Django's EMAIL_BACKEND.

`console` prints (the default without Twilio credentials, so `make run` works offline), `locmem` keeps
messages in `locmem_outbox` for tests, `twilio` sends for real. A dotted path to a class also works.
Backends raise only the exceptions below, so callers never need to know about twilio or requests.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from telephony.models import OutboundMessage


@dataclass(frozen=True)
class SmsSendResult:
    sid: str
    status: str = "queued"


class SmsError(Exception):
    """A send did not go through. `code` is Twilio's error code when there is one."""

    def __init__(
        self, message: str, *, code: str = "", http_status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.code = str(code or "")
        self.http_status = http_status
        self.retry_after = retry_after  # seconds the provider asked us to wait (Retry-After), if it said


class SmsTransientError(SmsError):
    """Nothing was sent (or the provider refused for now): safe to retry later."""


class SmsPermanentError(SmsError):
    """Retrying cannot help (invalid number, opted out, bad sender, credentials)."""


class SmsUncertainError(SmsError):
    """The request may have reached the provider (read timeout, dropped connection): look it up, do not resend."""


class BaseSmsBackend:
    def send(self, message: OutboundMessage) -> SmsSendResult:
        raise NotImplementedError

    def lookup(self, message: OutboundMessage) -> SmsSendResult | None:
        """The provider's record of an earlier attempt for this row, or None if nothing was created."""
        return None


def _new_sid() -> str:
    return "SM" + uuid.uuid4().hex


class ConsoleBackend(BaseSmsBackend):
    """Prints the SMS to stdout (the worker's log in `make run`) and reports it sent."""

    def send(self, message: OutboundMessage) -> SmsSendResult:
        sender = message.sender or "(no sender)"
        sys.stdout.write(f"--- SMS {message.kind} from {sender} to {message.to} ---\n{message.body}\n---\n")
        sys.stdout.flush()
        return SmsSendResult(sid=_new_sid(), status="sent")


locmem_outbox: list[dict] = []
"""What the locmem backend "sent", oldest first; tests clear it."""


class LocmemBackend(BaseSmsBackend):
    def send(self, message: OutboundMessage) -> SmsSendResult:
        sid = _new_sid()
        locmem_outbox.append(
            {
                "message_id": message.pk,
                "sid": sid,
                "to": message.to,
                "sender": message.sender,
                "body": message.body,
                "kind": message.kind,
            }
        )
        return SmsSendResult(sid=sid, status="queued")

    def lookup(self, message: OutboundMessage) -> SmsSendResult | None:
        for sent in locmem_outbox:
            if sent["message_id"] == message.pk:
                return SmsSendResult(sid=sent["sid"])
        return None


class TwilioBackend(BaseSmsBackend):
    """Sends through the Messages API; turns twilio/requests errors into the exceptions above."""

    def send(self, message: OutboundMessage) -> SmsSendResult:
        from telephony import twilio

        if not message.sender:
            raise SmsPermanentError("No SMS sender: the team has no SMS-capable number and TWILIO_SMS_FROM is not set.")
        status_callback = settings.PUBLIC_BASE_URL + reverse("telephony:sms-status")
        try:
            created = twilio.twilio_message_create(
                to=message.to, from_=message.sender, body=message.body, status_callback=status_callback
            )
        except Exception as exc:
            raise twilio.twilio_error_to_sms_error(exc, request_sent=True) from exc
        return SmsSendResult(sid=created["sid"], status=created["status"])

    def lookup(self, message: OutboundMessage) -> SmsSendResult | None:
        from telephony import twilio

        try:
            found = twilio.twilio_message_find(
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
            raise twilio.twilio_error_to_sms_error(exc, request_sent=False) from exc
        return SmsSendResult(sid=found["sid"], status=found["status"]) if found else None


BACKENDS = {
    "console": ConsoleBackend,
    "locmem": LocmemBackend,
    "twilio": TwilioBackend,
}


def sms_backend() -> BaseSmsBackend:
    name = settings.SMS_BACKEND
    backend_class = BACKENDS.get(name) or import_string(name)
    return backend_class()
