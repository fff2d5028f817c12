"""Field validators shared by models, services and the API."""

import functools
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from teams.limits import MAX_ALLOWED_CALLERS


def phone_normalize(value: str) -> str:
    """Return `value` as E.164 (+ and digits), or raise ValidationError with a readable message."""
    text = (value or "").strip()
    if not text.startswith("+"):
        raise ValidationError(
            "Enter the phone number in E.164 form, with + and the country code, e.g. +14155550123.",
            code="invalid_phone",
        )
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"'{text}' is not a phone number.", code="invalid_phone") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"'{text}' is not a valid phone number.", code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    """Accept only numbers already written exactly in E.164."""
    if phone_normalize(value) != value:
        raise ValidationError(
            f"Write '{value}' in E.164 form: + and digits only, e.g. {phone_normalize(value)}.",
            code="invalid_phone",
        )


# Files in the zone database that are not places: the machine's own zone, a placeholder, leap-second and
# POSIX copies ("right/..." counts leap seconds, so its clock is 27 s off).
_NOT_PLACES = {"localtime", "Factory", "posixrules"}


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_PLACES)


def validate_timezone(value: str) -> None:
    try:
        if not value or value != value.strip():
            raise zoneinfo.ZoneInfoNotFoundError(value)
        zoneinfo.ZoneInfo(value)
        if value not in _known_timezones():
            raise zoneinfo.ZoneInfoNotFoundError(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValidationError(
            f"'{value}' is not a known IANA time zone, e.g. Europe/Berlin.", code="invalid_timezone"
        ) from exc


def validate_phone_list(value: list) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of phone numbers in E.164 form.", code="invalid_phone")
    if len(value) > MAX_ALLOWED_CALLERS:
        raise ValidationError(
            gettext("At most %(limit)d numbers, not %(count)d.") % {"limit": MAX_ALLOWED_CALLERS, "count": len(value)},
            code="too_many",
        )
    for item in value:
        if not isinstance(item, str):
            raise ValidationError("Give a list of phone numbers in E.164 form.", code="invalid_phone")
        validate_e164(item)
