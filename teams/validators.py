"""Field validators shared by models, services and the API."""

import datetime as dt
import functools
import re
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from teams.limits import MAX_ALLOWED_CALLERS, MAX_BUSINESS_HOURS_WINDOWS, MAX_DESK_PHONES, MAX_HOLIDAYS
from teams.rota import WEEKDAYS, clock_minutes


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


def validate_desk_phones(value: list) -> None:
    """Desk phones are rung in one Dial: E.164, each once, at most MAX_DESK_PHONES."""
    validate_phone_list(value)
    if len(value) > MAX_DESK_PHONES:
        raise ValidationError(
            gettext("At most %(limit)d desk phones ring at once, not %(count)d.")
            % {"limit": MAX_DESK_PHONES, "count": len(value)},
            code="too_many",
        )
    if len(set(value)) != len(value):
        raise ValidationError(gettext("Give each desk phone once."), code="duplicate")


# --- Call flow ---------------------------------------------------------------------------------------


def validate_business_hours(value: list) -> None:
    """`[{"days": ["mon", …], "start": "09:00", "end": "18:00"}]`, local times of the team's zone; an end
    may be 24:00 (a window never crosses midnight: write two)."""
    shape = gettext('Give a list of windows like {"days": ["mon", "tue"], "start": "09:00", "end": "18:00"}.')
    if not isinstance(value, list):
        raise ValidationError(shape, code="invalid")
    if len(value) > MAX_BUSINESS_HOURS_WINDOWS:
        raise ValidationError(
            gettext("At most %(limit)d windows, not %(count)d.")
            % {"limit": MAX_BUSINESS_HOURS_WINDOWS, "count": len(value)},
            code="too_many",
        )
    for window in value:
        if not isinstance(window, dict) or set(window) != {"days", "start", "end"}:
            raise ValidationError(shape, code="invalid")
        days = window["days"]
        if not isinstance(days, list) or not days or any(day not in WEEKDAYS for day in days):
            raise ValidationError(
                gettext("Days are some of %(days)s, not %(given)s.") % {"days": ", ".join(WEEKDAYS), "given": days},
                code="invalid_day",
            )
        try:
            start, end = clock_minutes(window["start"]), clock_minutes(window["end"])
        except ValueError as exc:
            raise ValidationError(
                gettext("Times are HH:MM from 00:00 to 24:00, not %(start)s to %(end)s.")
                % {"start": window["start"], "end": window["end"]},
                code="invalid_time",
            ) from exc
        if end <= start:
            raise ValidationError(
                gettext("A window ends after it starts (%(start)s to %(end)s); one past midnight is two windows.")
                % {"start": window["start"], "end": window["end"]},
                code="invalid_time",
            )


def validate_holidays(value: list) -> None:
    """`[{"date": "2026-12-25", "name": "Natal"}]`: whole local days, each date once."""
    shape = gettext('Give a list of days like {"date": "2026-12-25", "name": "Christmas"}.')
    if not isinstance(value, list):
        raise ValidationError(shape, code="invalid")
    if len(value) > MAX_HOLIDAYS:
        raise ValidationError(
            gettext("At most %(limit)d holidays, not %(count)d.") % {"limit": MAX_HOLIDAYS, "count": len(value)},
            code="too_many",
        )
    seen = set()
    for holiday in value:
        if not isinstance(holiday, dict) or not set(holiday) <= {"date", "name"} or "date" not in holiday:
            raise ValidationError(shape, code="invalid")
        try:
            day = dt.date.fromisoformat(holiday["date"]) if isinstance(holiday["date"], str) else None
        except ValueError:
            day = None
        if day is None or len(holiday["date"]) != 10:
            raise ValidationError(
                gettext("'%(date)s' is not a date like 2026-12-25.") % {"date": holiday["date"]}, code="invalid_date"
            )
        if not isinstance(holiday.get("name", ""), str) or len(holiday.get("name", "")) > 100:
            raise ValidationError(gettext("A holiday's name is text of at most 100 characters."), code="invalid")
        if day in seen:
            raise ValidationError(gettext("%(date)s is listed twice.") % {"date": holiday["date"]}, code="duplicate")
        seen.add(day)


# Twilio fails the call on a voice it does not know, so only these (and Google's pattern) pass.
# https://www.twilio.com/docs/voice/twiml/say/text-speech#available-voices-and-languages
BASIC_VOICES = ("alice", "man", "woman")
# The <Say language> each of our languages is spoken with (Twilio's codes).
SAY_LOCALES = {"en": "en-US", "pt-br": "pt-BR"}
# Each Polly voice speaks one locale; Twilio may fail a <Say> whose voice and language do not match.
POLLY_LOCALES = {
    **dict.fromkeys(("Camila", "Vitoria", "Ricardo", "Thiago"), "pt-BR"),
    **dict.fromkeys(
        (
            "Joanna",
            "Matthew",
            "Salli",
            "Kimberly",
            "Kendra",
            "Ivy",
            "Justin",
            "Joey",
            "Kevin",
            "Ruth",
            "Stephen",
            "Danielle",
            "Gregory",
        ),
        "en-US",
    ),
    **dict.fromkeys(("Amy", "Emma", "Brian", "Arthur"), "en-GB"),
}
POLLY_VOICES = tuple(POLLY_LOCALES)
# alice speaks both of our languages; man and woman speak English only.
_BASIC_LOCALES = {"alice": tuple(SAY_LOCALES.values()), "man": ("en-US",), "woman": ("en-US",)}
_POLLY = re.compile(r"^Polly\.(?P<name>[A-Z][a-z]+)(?:-(?:Neural|Generative))?$")
_GOOGLE = re.compile(
    r"^Google\.(?P<locale>(?:en|pt)-[A-Z]{2})-(?:Standard|Wavenet|Neural2|Chirp3-HD|Chirp-HD|Journey)-[A-Za-z]+$"
)


def validate_voice(value: str) -> None:
    if not value or value in BASIC_VOICES or _GOOGLE.match(value):
        return
    match = _POLLY.match(value)
    if match and match["name"] in POLLY_VOICES:
        return
    raise ValidationError(
        gettext("'%(voice)s' is not a voice Twilio can speak with: alice, man, woman, Polly.<Name> or Google.<name>.")
        % {"voice": value},
        code="invalid_voice",
    )


def _voice_locales(voice: str) -> tuple[str, ...] | None:
    """The <Say language>s `voice` speaks; None for Twilio's default (empty) or a voice validate_voice refuses."""
    if voice in _BASIC_LOCALES:
        return _BASIC_LOCALES[voice]
    google, polly = _GOOGLE.match(voice or ""), _POLLY.match(voice or "")
    if google:
        return (google["locale"],)
    if polly and polly["name"] in POLLY_LOCALES:
        return (POLLY_LOCALES[polly["name"]],)
    return None


def validate_voice_speaks(voice: str, language: str) -> None:
    """The team's voice must speak its language (the <Say language> its prompts carry)."""
    locales, locale = _voice_locales(voice), SAY_LOCALES.get(language)
    if locales is None or locale is None or locale in locales:
        return
    basic = [name for name, spoken in _BASIC_LOCALES.items() if locale in spoken]
    polly = [f"Polly.{name}" for name, spoken in POLLY_LOCALES.items() if spoken == locale]
    raise ValidationError(
        gettext("%(voice)s does not speak %(locale)s: choose %(voices)s or a Google.%(locale)s-… voice.")
        % {"voice": voice, "locale": locale, "voices": ", ".join(basic + polly)},
        code="voice_language",
    )


def validate_https_url(value: str) -> None:
    if value and not value.startswith("https://"):
        raise ValidationError(gettext("Give an https:// URL (Twilio plays it to the caller)."), code="invalid_url")


def validate_menu(value: list) -> None:
    """`[{"digit": "1", "team": "billing"}]`: digits 1-9, each once. Whether the teams exist and the user may
    change them is checked where the user is known (teams.selectors.menu_problem)."""
    shape = gettext('Give a list of choices like {"digit": "1", "team": "billing"}.')
    if not isinstance(value, list):
        raise ValidationError(shape, code="invalid")
    digits = set()
    for choice in value:
        if not isinstance(choice, dict) or set(choice) != {"digit", "team"} or not isinstance(choice["team"], str):
            raise ValidationError(shape, code="invalid")
        digit = choice["digit"]
        if not isinstance(digit, str) or len(digit) != 1 or digit not in "123456789":
            raise ValidationError(
                gettext("A menu digit is one of 1 to 9, not %(digit)s.") % {"digit": digit}, code="invalid_digit"
            )
        if digit in digits:
            raise ValidationError(gettext("Digit %(digit)s is used twice.") % {"digit": digit}, code="duplicate")
        digits.add(digit)
