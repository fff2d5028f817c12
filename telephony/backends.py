"""SMS backends chosen by settings.SMS_BACKEND, like Django's EMAIL_BACKEND.

`console` prints (the default without Twilio credentials, so `make run` works offline), `locmem` keeps
messages in `locmem_outbox` for tests, `twilio` sends for real (telephony.twilio.TwilioBackend). A dotted
path to a class also works.
Backends raise only the exceptions below, so callers never need to know about twilio or requests.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

from django.conf import settings
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


# SMS_BACKEND's short names; any other value is a dotted path to a backend class. The Twilio backend lives
# in the Twilio adapter (telephony/twilio.py), the only module that talks to Twilio's REST API.
BACKENDS = {
    "console": "telephony.backends.ConsoleBackend",
    "locmem": "telephony.backends.LocmemBackend",
    "twilio": "telephony.twilio.TwilioBackend",
}


def sms_backend() -> BaseSmsBackend:
    name = settings.SMS_BACKEND
    return import_string(BACKENDS.get(name, name))()
