"""Query-string filters of the rota API's lists (django-filter). Time windows are parsed by the views,
because a naive time is read in the team's time zone."""

import datetime as dt

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from teams.api_serializers import MAX_ID, parse_query_instant
from teams.models import Override, Role, Rotation, Shift, SupportNumber, TeamMembership, TimeOff


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.Filter):
    """A whole-number id (NumberFilter would accept decimals like 1e5)."""

    field_class = forms.IntegerField

    def filter(self, qs, value):
        if value is not None and not -MAX_ID <= value <= MAX_ID:
            return qs.none()  # no row has such an id (and the database driver cannot even compare it)
        return super().filter(qs, value)


class InstantField(forms.CharField):
    """An ISO-8601 instant, converted to UTC; no offset means UTC. Bounded years, so the database never sees
    an offset or a year it cannot store."""

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_query_instant(text, tz=dt.UTC)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantFilter(filters.Filter):
    field_class = InstantField


class MemberFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=TeamMembership.Role.choices, help_text="Role in this team.")
    name = filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")


class SupportNumberFilter(filters.FilterSet):
    class Meta:
        model = SupportNumber
        fields = ["sms_enabled"]


class RotationFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Rotation
        fields = ["role"]


class ShiftFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)
    member = IdFilter(field_name="member_id", help_text="Only this member's shifts.")
    is_edited = filters.BooleanFilter(help_text="Only shifts changed (or made) by hand, or only generated ones.")

    class Meta:
        model = Shift
        fields = ["role", "member", "is_edited"]


class TimeOffFilter(filters.FilterSet):
    member = IdFilter(field_name="member_id", help_text="Only this member's time off.")

    class Meta:
        model = TimeOff
        fields = ["member"]


class OverrideFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)
    member = IdFilter(field_name="member_id", help_text="Only this member's overrides.")

    class Meta:
        model = Override
        fields = ["role", "member"]
