"""Shapes of the rota API: input parsing and output. No business rules here; the services hold them."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from teams import calendar, rota, selectors
from teams.limits import MAX_ALLOWED_CALLERS, MAX_ROTATION_MEMBERS
from teams.models import Member, Override, Role, Rotation, Shift, SupportNumber, Team, TeamMembership, TimeOff

SOURCES = (rota.SHIFT, rota.OVERRIDE)
REASONS = (rota.TIME_OFF,)
# The largest id a BigAutoField can hold: larger numbers name nothing and overflow the database driver.
MAX_ID = 2**63 - 1

# --- Parsing times (durations: rota.parse_duration) ----------------------------------------------------------


def parse_instant(text: str, *, tz: ZoneInfo) -> dt.datetime:
    """An ISO-8601 date-time as a UTC instant; a naive one is read as wall time in `tz`. ValueError if bad."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Give a date-time in ISO-8601 form, e.g. 2026-11-30T09:00:00+01:00.")
    value = _parse_iso(text, example="2026-11-30T09:00:00+01:00")
    try:
        if value.tzinfo is None:
            return rota.localize(value, tz)
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"'{text}' is out of range.") from exc


# "2026-11-30T09:00:00 01:00": a "+" sent unencoded in a query string arrives as a space.
_SPACE_FOR_PLUS = re.compile(
    r"^(?P<instant>.+[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?) (?P<offset>\d{2}(?::?\d{2})?)$"
)


def parse_query_instant(text: str, *, tz: ZoneInfo) -> dt.datetime:
    """parse_instant for a query-string value, where an unencoded "+05:45" offset arrives as " 05:45"."""
    text = (text or "").strip()
    match = _SPACE_FOR_PLUS.match(text)
    if match:
        text = f"{match['instant']}+{match['offset']}"
    return parse_instant(text, tz=tz)


def _parse_iso(text: str, *, example: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"'{text}' is not an ISO-8601 date-time, e.g. {example}.") from exc
    problem = rota.year_problem(value.year, what="a date-time")
    if problem:
        raise ValueError(problem)
    return value


# --- Fields ----------------------------------------------------------------------------------------------


class _TextField(serializers.Field):
    """A value given as a string: anything else, or a string `parse` refuses (ValueError), is a 400 saying why."""

    default_error_messages = {"invalid": "{message}"}
    not_a_string = ""  # what to say when the value is not a string

    def parse(self, text: str):
        raise NotImplementedError

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", message=self.not_a_string)
        try:
            return self.parse(data)
        except ValueError as exc:
            self.fail("invalid", message=str(exc))


@extend_schema_field(OpenApiTypes.DATETIME)
class TeamDateTimeField(_TextField):
    """An ISO-8601 instant in; a naive one is read in the team's time zone (context["team"]). UTC out."""

    not_a_string = "Give a date-time as an ISO-8601 string."

    def parse(self, text: str) -> dt.datetime:
        return parse_instant(text, tz=self.context["team"].tz)

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(value.astimezone(dt.UTC))


@extend_schema_field(
    {
        "type": "string",
        "example": "2026-11-30T09:00:00",
        "description": "Local wall-clock time in the team's time zone, without an offset.",
    }
)
class LocalWallTimeField(_TextField):
    """A naive local wall time in the team's time zone; an aware one is converted to that zone."""

    not_a_string = "Give the local start as a string, e.g. 2026-11-30T09:00:00."

    def parse(self, text: str) -> dt.datetime:
        value = _parse_iso(text.strip(), example="2026-11-30T09:00:00")
        if value.tzinfo is not None:
            value = rota.to_local_wall(value, self.context["team"].tz)
        return value.replace(microsecond=0)

    def to_representation(self, value):
        return value.isoformat()


@extend_schema_field(
    {"type": "string", "example": "P7D", "description": "ISO-8601 duration in weeks, days, hours, minutes."}
)
class IsoDurationField(_TextField):
    not_a_string = "Give the duration as an ISO-8601 string, e.g. P7D."

    def parse(self, text: str) -> dt.timedelta:
        return rota.parse_duration(text)

    def to_representation(self, value):
        return rota.format_duration(value)


class TeamMemberField(serializers.PrimaryKeyRelatedField):
    """A member id that must belong to the team in context; others read as unknown, whether they exist or not."""

    default_error_messages = {
        "does_not_exist": "Member {pk_value} is not a member of this team.",
        "incorrect_type": "Give the member's id as a number.",
    }

    def get_queryset(self):
        return selectors.members_of_teams([self.context["team"].pk])


# --- Teams -----------------------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    allowed_callers = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=MAX_ALLOWED_CALLERS,
        required=False,
        help_text="E.164 numbers allowed to call; empty means everyone. Null for members who do not lead the team "
        "(so are blocked_callers, vip_callers and desk_phones).",
    )
    calendar_url = serializers.SerializerMethodField(
        help_text="The team's iCal feed (secret). Shown to the team's leads; null for other members."
    )

    class Meta:
        model = Team
        fields = [*Team.SETTINGS, "calendar_url"]

    # Who may call in, who is blocked or a VIP, the desk's phones: people's numbers, for the team's leads.
    LEADS_ONLY = ("allowed_callers", "blocked_callers", "vip_callers", "desk_phones")

    def _is_led(self, team) -> bool:
        led = self.context.get("led_team_ids", ())  # None: every team (a superuser)
        return led is None or team.pk in led

    def to_representation(self, team):
        data = super().to_representation(team)
        if not self._is_led(team):
            data.update(dict.fromkeys(self.LEADS_ONLY))
        return data

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_calendar_url(self, team):
        return calendar.team_feed_url(team) if self._is_led(team) else None


class TeamRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()


# --- Members ---------------------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(
        choices=TeamMembership.Role.choices,
        default=TeamMembership.Role.MEMBER,
        help_text="Role in this team. A lead needs a login, linked in the admin.",
    )
    has_login = serializers.SerializerMethodField()
    sms_opted_out = serializers.SerializerMethodField()
    calendar_url = serializers.SerializerMethodField(
        help_text="The member's iCal feed (secret, every team of theirs). Shown to the member themself, and to the "
        "team's leads when they lead each of the member's teams."
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "name",
            "phone",
            "email",
            "timezone",
            "language",
            "role",
            "has_login",
            "sms_opted_out",
            "calendar_url",
        ]
        # Uniqueness is checked by the service (full_clean), once.
        extra_kwargs = {"phone": {"validators": []}}

    def get_has_login(self, member) -> bool:
        return member.user_id is not None

    def get_sms_opted_out(self, member) -> bool:
        return member.is_opted_out

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_calendar_url(self, member):
        request = self.context.get("request")
        is_self = request is not None and member.user_id is not None and member.user_id == request.user.pk
        if not is_self and not (self.context.get("is_lead") and member.pk not in self.context["shared_beyond_lead"]()):
            return None
        return calendar.member_feed_url(member)


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()


# --- Support numbers -------------------------------------------------------------------------------------


class SupportNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportNumber
        fields = ["id", "phone_number", "sms_enabled", "menu", "menu_prompt"]
        extra_kwargs = {"phone_number": {"validators": []}}


# --- Rotations -------------------------------------------------------------------------------------------


class RotationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    members = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=MAX_ROTATION_MEMBERS,
        help_text="Member ids in rotation order; they must belong to the team.",
    )
    start = LocalWallTimeField(help_text="First hand-off, local wall-clock time in the team's time zone.")
    shift_length = IsoDurationField()

    class Meta:
        model = Rotation
        fields = ["id", "name", "role", "members", "start", "shift_length", "updated_at"]
        read_only_fields = ["updated_at"]

    def to_representation(self, rotation):
        # Prefetched participants are already in position order.
        return {
            "id": rotation.pk,
            "name": rotation.name,
            "role": rotation.role,
            "members": [p.member_id for p in rotation.participants.all()],
            "start": rotation.start_local.isoformat(),
            "shift_length": rota.format_duration(rotation.shift_length),
            "updated_at": serializers.DateTimeField().to_representation(rotation.updated_at),
        }


# --- Shifts and overrides --------------------------------------------------------------------------------


class ShiftSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    member = TeamMemberField()
    member_name = serializers.CharField(source="member.name", read_only=True)
    start = TeamDateTimeField()
    end = TeamDateTimeField()

    class Meta:
        model = Shift
        fields = ["id", "role", "member", "member_name", "start", "end", "rotation", "is_edited"]
        read_only_fields = ["rotation", "is_edited"]


class OverrideSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    member = TeamMemberField()
    member_name = serializers.CharField(source="member.name", read_only=True)
    start = TeamDateTimeField()
    end = TeamDateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = Override
        fields = ["id", "role", "member", "member_name", "start", "end", "reason"]


class TimeOffSerializer(serializers.ModelSerializer):
    member = TeamMemberField()
    member_name = serializers.CharField(source="member.name", read_only=True)
    start = TeamDateTimeField()
    end = TeamDateTimeField()
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = TimeOff
        fields = ["id", "member", "member_name", "start", "end", "reason", "created_at"]
        read_only_fields = ["created_at"]


# --- On call, schedule, gaps (outputs only) --------------------------------------------------------------


class CoverSerializer(serializers.Serializer):
    member = PersonSerializer(allow_null=True, help_text="Null when nobody covers the role.")
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=SOURCES, allow_null=True)


class RoleOnCallSerializer(CoverSerializer):
    next = CoverSerializer(allow_null=True, help_text="The next different person on call, within 120 days.")


class OnCallSerializer(serializers.Serializer):
    team = TeamRefSerializer()
    at = serializers.DateTimeField()
    primary = RoleOnCallSerializer()
    secondary = RoleOnCallSerializer()


class ReasonOnlyWhenSetMixin:
    """`reason` appears only on the segments that have one, so every other segment keeps version 1's shape."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("reason") is None:
            data.pop("reason", None)
        return data


class SegmentSerializer(ReasonOnlyWhenSetMixin, serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    member = PersonSerializer(allow_null=True)
    source = serializers.ChoiceField(choices=SOURCES, allow_null=True)
    reason = serializers.ChoiceField(
        choices=REASONS,
        required=False,
        help_text="Only on a gap with a known cause: time_off (the shift's person is away).",
    )


class ScheduleSerializer(serializers.Serializer):
    team = TeamRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    primary = SegmentSerializer(many=True)
    secondary = SegmentSerializer(many=True)


class GapSerializer(ReasonOnlyWhenSetMixin, serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.ChoiceField(
        choices=REASONS, required=False, help_text="Only with a known cause: time_off (the shift's person is away)."
    )


class GapsSerializer(serializers.Serializer):
    team = TeamRefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    primary = GapSerializer(many=True)
    secondary = GapSerializer(many=True)
