"""Point every support number's webhooks at this deployment, through Twilio's IncomingPhoneNumbers API.

An operator never types a webhook URL by hand: Voice URL, Voice Fallback URL, call status callback and
Messaging URL all come from PUBLIC_BASE_URL. Runs from `manage.py twilio_sync_numbers` and from the
SupportNumber admin action; never from a webhook (it makes REST calls).
https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource#update-an-incomingphonenumber-resource
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.urls import reverse
from requests import RequestException
from twilio.base.exceptions import TwilioException

from teams import selectors, services
from teams.models import SupportNumber
from telephony.twilio import twilio_client

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    updated: list[str] = field(default_factory=list)
    not_owned: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def is_ok(self) -> bool:
        return not self.not_owned and not self.failed


def webhook_urls() -> dict[str, str]:
    """The IncomingPhoneNumber fields this app owns, in twilio-python's parameter names."""
    base = settings.PUBLIC_BASE_URL
    return {
        "voice_url": base + reverse("telephony:voice-incoming"),
        "voice_method": "POST",
        "voice_fallback_url": base + reverse("telephony:voice-fallback"),
        "voice_fallback_method": "POST",
        "status_callback": base + reverse("telephony:voice-status"),
        "status_callback_method": "POST",
        "sms_url": base + reverse("telephony:sms-incoming"),
        "sms_method": "POST",
    }


def numbers_sync(*, numbers: Iterable[SupportNumber] | None = None, client=None) -> SyncReport:
    """Set the webhooks of each support number the account owns; report those it does not own."""
    report = SyncReport()
    if not settings.PUBLIC_BASE_URL.startswith("https://"):
        report.warnings.append(
            f"PUBLIC_BASE_URL is {settings.PUBLIC_BASE_URL!r}: Twilio must reach it, and should over https."
        )
    numbers = list(selectors.support_numbers() if numbers is None else numbers)
    if not numbers:
        return report
    client = client or twilio_client()
    fields = webhook_urls()
    try:
        # One listing of the account's numbers (paged by the library) instead of one lookup per number.
        owned = {number.phone_number: number for number in client.incoming_phone_numbers.stream()}
    except (TwilioException, RequestException, OSError) as error:
        # Network errors surface as plain requests/OS exceptions, not TwilioException.
        for number in numbers:
            report.failed[number.phone_number] = f"Could not list the account's numbers: {error}"
        return report
    for number in numbers:
        twilio_number = owned.get(number.phone_number)
        if twilio_number is None:
            report.not_owned.append(number.phone_number)
            continue
        try:
            client.incoming_phone_numbers(twilio_number.sid).update(**fields)
        except (TwilioException, RequestException, OSError) as error:
            logger.warning("Updating %s on Twilio failed: %s", number.phone_number, error)
            report.failed[number.phone_number] = str(error)
            continue
        if number.twilio_sid != twilio_number.sid:
            services.support_number_update(number=number, twilio_sid=twilio_number.sid)
        report.updated.append(number.phone_number)
    return report


def sync_numbers_action(modeladmin, request, queryset) -> None:
    """Admin action for the SupportNumber admin: set the selected numbers' webhooks on Twilio."""
    report = numbers_sync(numbers=queryset)
    for warning in report.warnings:
        modeladmin.message_user(request, warning, messages.WARNING)
    if report.updated:
        modeladmin.message_user(request, f"Webhooks set on Twilio for {', '.join(report.updated)}.", messages.SUCCESS)
    if report.not_owned:
        modeladmin.message_user(
            request, f"Not numbers of this Twilio account: {', '.join(report.not_owned)}.", messages.ERROR
        )
    for phone, error in report.failed.items():
        modeladmin.message_user(request, f"{phone}: {error}", messages.ERROR)


sync_numbers_action.short_description = "Set webhooks on Twilio (Voice, fallback, status, SMS)"
