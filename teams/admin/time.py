"""The admin in the team's time zone: date-times are typed and read in the team's zone, with the zone in sight.

- `LocalTimesForm`: start/end typed as wall-clock times in the team's zone (a native date-time input, no
  server-time note), placed in the zone by the rota's rule; a skipped or repeated wall time says what it
  became (`wall_notes`, shown by the admin after saving).
- `TeamTimeAdmin`: every date-time column of a list reads in its row's team zone with the zone named, an
  object's page renders in its team's zone, and `LocalDayFilter` cuts days at the team's midnight.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from teams import rota, selectors, timeline
from teams.models import Team

UTC_ZONE = ZoneInfo("UTC")


def team_of(obj) -> Team | None:
    if isinstance(obj, Team):
        return obj
    return getattr(obj, "team", None) if getattr(obj, "team_id", None) else None


def zone_of(obj) -> ZoneInfo:
    """The zone an object's times are read in: its team's; UTC (named as such) for rows without a team."""
    team = team_of(obj)
    return team.tz if team else UTC_ZONE


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock date-time, kept naive for the form to place in the team's zone. A value typed with an
    explicit offset ("2026-12-11T09:00+01:00") is an instant and stays one."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "60"}, format="%Y-%m-%dT%H:%M")
    input_formats = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        for fmt in () if parsed else self.input_formats:
            try:
                parsed = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 - a wall time, placed by the form
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValidationError(
                _("Enter a date and time such as 2026-12-11 09:00 (in the team's time zone)."), code="invalid"
            )
        return parsed.replace(microsecond=0)


class LocalTimesForm(forms.ModelForm):
    """A model form whose `local_time_fields` are typed in the time zone of the form's team."""

    local_time_fields: tuple[str, ...] = ("start", "end")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wall_notes: list[str] = []
        team = team_of(self.instance) or self._initial_team()
        zone_text = self._zone_text(team)
        for name in self.local_time_fields:
            if name not in self.fields:
                continue
            old = self.fields[name]
            self.fields[name] = LocalDateTimeField(required=old.required, label=old.label, help_text=zone_text)
            value = getattr(self.instance, name, None)
            if team is not None and value is not None and self.instance.pk:
                self.initial[name] = rota.to_local_wall(value, team.tz)

    def _initial_team(self) -> Team | None:
        team_id = self.initial.get("team")
        field = self.fields.get("team")
        if field is None:
            return None
        choices = field.queryset
        if team_id:
            return choices.filter(pk=team_id).first() if str(team_id).isdigit() else None
        only = list(choices[:2])  # one query: the single team a lead leads, if it is one
        return only[0] if len(only) == 1 else None

    def _zone_text(self, team: Team | None) -> str:
        if team is not None:
            return _("In %(zone)s, the time zone of %(team)s.") % {"zone": team.timezone, "team": team.name}
        field = self.fields.get("team")
        zones = sorted({(t.name, t.timezone) for t in field.queryset}) if field is not None else []
        listed = ", ".join(f"{name}: {zone}" for name, zone in zones)
        return _("In the chosen team's time zone (%(zones)s).") % {"zones": listed}

    def clean(self):
        cleaned = super().clean()
        team = cleaned.get("team") or team_of(self.instance)
        for name in self.local_time_fields:
            wall = cleaned.get(name)
            if wall is None or wall.tzinfo is not None:
                continue
            if team is None:
                cleaned[name] = None  # the missing team is reported on its own field
                continue
            cleaned[name] = rota.localize(wall, team.tz)
            note = wall_note(wall, team.tz)
            if note:
                self.wall_notes.append(note)
        return cleaned


def wall_note(wall: dt.datetime, tz: ZoneInfo) -> str | None:
    """What a skipped or repeated wall time became, in words; None for an ordinary one."""
    kind = rota.wall_time_kind(wall, tz)
    if kind is None:
        return None
    values = {
        "wall": rota.format_wall(wall),
        "zone": tz.key,
        "saved": rota.format_local(rota.localize(wall, tz), tz),
    }
    if kind == "nonexistent":
        return _("%(wall)s does not exist in %(zone)s (the clocks jump forward): saved as %(saved)s.") % values
    return _("%(wall)s happens twice in %(zone)s (the clocks go back): the first one was taken, %(saved)s.") % values


def _local_column(model, name: str):
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=name)
    def column(obj):
        value = getattr(obj, name)
        return rota.format_local(value, zone_of(obj)) if value else "-"

    column.__name__ = f"{name}_local"
    return column


class TeamTimeAdmin:
    """Mixed into a ModelAdmin whose model has a `team` (or is Team): times in the team's zone, zone named."""

    team_zone_path = "team__timezone"

    def get_list_display(self, request):
        columns = []
        for name in super().get_list_display(request):
            if isinstance(name, str) and _is_datetime(self.model, name):
                columns.append(_local_column(self.model, name))
            else:
                columns.append(name)
        return columns

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        zone = zone_of(obj) if obj is not None else None
        if zone is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        extra_context = {**(extra_context or {}), "team_zone": zone.key}
        with timezone.override(zone):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()  # rendered here, inside the zone, not later by the handler
        return response

    def save_form(self, request, form, change):
        for note in getattr(form, "wall_notes", ()):
            messages.warning(request, note)
        return super().save_form(request, form, change)


def _is_datetime(model, name: str) -> bool:
    try:
        return isinstance(model._meta.get_field(name), models.DateTimeField)
    except FieldDoesNotExist:  # a method or an admin callable, not a field
        return False


def local_day_filter(field_name: str, title: str | None = None):
    """A list filter by day ranges cut at each team's local midnight (Django's own cuts them in UTC)."""

    class LocalDayFilter(admin.SimpleListFilter):
        parameter_name = f"{field_name}_day"

        def __init__(self, request, params, model, model_admin):
            self.title = title or model._meta.get_field(field_name).verbose_name
            self.zone_path = getattr(model_admin, "team_zone_path", "team__timezone")
            self.model_admin = model_admin
            super().__init__(request, params, model, model_admin)

        def lookups(self, request, model_admin):
            return [
                ("today", gettext_lazy("Today (team time)")),
                ("past_7", gettext_lazy("Past 7 days")),
                ("next_7", gettext_lazy("Next 7 days")),
                ("this_month", gettext_lazy("This month")),
                ("next_month", gettext_lazy("Next month")),
            ]

        def queryset(self, request, queryset):
            if self.value() not in dict(self.lookup_choices):
                return queryset
            now = timezone.now()
            zones = selectors.team_zones() | {"UTC"}
            condition = Q()
            for zone_name in zones:
                start, end = day_range(self.value(), now, ZoneInfo(zone_name))
                in_range = Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
                if zone_name == "UTC":
                    condition |= in_range & (Q(**{self.zone_path: "UTC"}) | Q(**{f"{self.zone_path}__isnull": True}))
                else:
                    condition |= in_range & Q(**{self.zone_path: zone_name})
            return queryset.filter(condition)

    return LocalDayFilter


def day_range(choice: str, now: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    today = now.astimezone(tz).date()
    if choice == "today":
        return rota.local_days(today, 1, tz)
    if choice == "past_7":
        return rota.local_days(today - dt.timedelta(days=6), 7, tz)
    if choice == "next_7":
        return rota.local_days(today, 7, tz)
    month = today.replace(day=1)
    if choice == "next_month":
        month = (month + dt.timedelta(days=32)).replace(day=1)
    window = timeline.month_window(month.year, month.month, tz)
    return window.start, window.end
