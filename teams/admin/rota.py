"""The team leads' pages for the rota: rotations (with a preview of a change), shifts, overrides, time off."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.forms.formsets import all_valid
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from teams import rota, selectors, services
from teams.admin.scoping import LeadScopedAdmin, ScopedInline, TeamListFilter, adopt_saved, changed_fields
from teams.admin.time import LocalTimesForm, TeamTimeAdmin, local_day_filter
from teams.models import (
    Override,
    Rotation,
    RotationParticipant,
    Shift,
    TimeOff,
)


class ParticipantFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            raise forms.ValidationError("A rotation needs at least one member.")
        team = self.instance.team if self.instance.team_id else None
        if team:
            member_ids = {f.cleaned_data["member"].pk for f in kept if f.cleaned_data.get("member")}
            known = selectors.team_member_ids(team=team, member_ids=member_ids)
            if member_ids - known:
                raise forms.ValidationError(f"Everyone in the rotation must be a member of {team}.")

    def save(self, commit=True):
        """Store the participants in the order of their positions, in one go like the API does: saving row by row
        broke on the (rotation, position) unique constraint as soon as a lead swapped two people."""
        if not commit:
            return super().save(commit=False)
        kept = [
            (form.cleaned_data["position"], index, form.cleaned_data["member"])
            for index, form in enumerate(self.forms)
            if form.cleaned_data and not self._should_delete_form(form) and form.cleaned_data.get("member")
        ]
        ordered = [kept_member.pk for *_pos, kept_member in sorted(kept)]
        services.rotation_set_members(rotation=self.instance, member_ids=ordered)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []


class ParticipantInline(ScopedInline):
    model = RotationParticipant
    formset = ParticipantFormSet
    extra = 1
    min_num = 1
    fields = ("position", "member")


class IsoDurationField(forms.CharField):
    """A shift length typed and shown in ISO-8601 (P7D, PT12H, P1DT12H), read by the API's own parser."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "P7D", "size": 12}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return rota.format_duration(value) if isinstance(value, dt.timedelta) else value

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return None
        try:
            return rota.parse_duration(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


@admin.register(Rotation)
class RotationAdmin(TeamTimeAdmin, LeadScopedAdmin):
    """Rotations; an edit can be previewed (who changes in the next weeks, new double bookings) before it is
    saved, and everyone whose time on call it moves is told by SMS once it is saved."""

    list_display = ("name", "team", "role", "start_date", "start_time", "shift_length_iso", "updated_at")
    list_filter = (("team", TeamListFilter), "role")
    inlines = [ParticipantInline]
    actions = ["generate_shifts_now"]
    change_form_template = "admin/teams/rotation/change_form.html"
    # Like the API: the future shifts it planned go too (a plain delete left weeks of them on call).
    delete = staticmethod(services.rotation_delete)
    row_keyword = "rotation"
    formfield_overrides = {models.DurationField: {"form_class": IsoDurationField}}

    @admin.display(description=_("Shift length"), ordering="shift_length")
    def shift_length_iso(self, rotation):
        return rota.format_duration(rotation.shift_length)

    def get_urls(self):
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="teams_rotation_preview",
        )
        return [preview, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        preview_url = reverse("admin:teams_rotation_preview", args=[object_id])
        extra_context = {**(extra_context or {}), "preview_url": preview_url}
        return super().change_view(request, object_id, form_url, extra_context)

    def preview_view(self, request, object_id):
        rotation = self.get_object(request, unquote(object_id))
        change_url = reverse("admin:teams_rotation_change", args=[rotation.pk])
        if request.method != "POST" or not self.has_change_permission(request, rotation):
            return HttpResponseRedirect(change_url)
        form = self.get_form(request, rotation, change=True)(request.POST, request.FILES, instance=rotation)
        formsets, _inlines = self._create_formsets(request, rotation, change=True)
        if not (form.is_valid() and all_valid(formsets)):
            return self.change_view(request, object_id)  # the form again, with its errors; nothing saved

        def apply():
            # As a save would (save_model, then the participants): only the changed fields, through the services.
            changed = services.rotation_form_save(
                rotation=selectors.row_as_stored(rotation), fields=changed_fields(form)
            )
            for formset in formsets:
                formset.save()
            return changed

        now = timezone.now()
        preview = services.rotation_preview(rotation=rotation, apply=apply, now=now)
        team = selectors.rotation_team(rotation_id=rotation.pk)
        names = dict(selectors.members_of_teams([team.pk]).values_list("pk", "name"))
        nobody = _("nobody")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Preview of the changes to %(rotation)s") % {"rotation": rotation.name},
            "original": rotation,
            "team": team,
            "weeks": services.ROTATION_PREVIEW.days // 7,
            "changes": [
                {
                    "start": rota.format_local(c.start, team.tz),
                    "end": rota.format_local(c.end, team.tz),
                    "before": names.get(c.before_member_id, nobody),
                    "after": names.get(c.after_member_id, nobody),
                }
                for c in preview.changes
            ],
            "double_bookings": [
                {
                    "who": names.get(s.member_id, "?"),
                    "start": rota.format_local(s.start, team.tz),
                    "end": rota.format_local(s.end, team.tz),
                }
                for s in preview.new_double_bookings
            ],
            "fields": [
                (key, value)
                for key, values in request.POST.lists()
                if key not in ("csrfmiddlewaretoken", "_preview", "_save", "_continue")
                for value in values
            ],
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/teams/rotation/preview.html", context)

    def save_model(self, request, obj, form, change):
        if change:
            services.rotation_form_save(rotation=selectors.row_as_stored(obj), fields=changed_fields(form))
        else:
            services.rotation_form_save(rotation=obj)

    def save_related(self, request, form, formsets, change):
        now = timezone.now()
        before = services.rotation_schedule(rotation=form.instance, now=now) if change else None
        super().save_related(request, form, formsets, change)
        counts = services.shifts_generate(rotations=[form.instance], now=now)
        messages.info(
            request,
            f"Future shifts regenerated: {counts['created']} created, {counts['updated']} updated, "
            f"{counts['deleted']} removed. Past and hand-edited shifts were kept.",
        )
        if before is not None:
            changes = services.rotation_changes_announce(rotation=form.instance, before=before, now=now)
            people = {c.before_member_id for c in changes} | {c.after_member_id for c in changes}
            people.discard(None)
            if people:
                messages.info(request, f"{len(people)} people whose time on call moved will get an SMS.")

    @admin.action(description="Generate shifts now (up to the horizon)")
    def generate_shifts_now(self, request, queryset):
        counts = services.shifts_generate(rotations=queryset.select_related("team"))
        self.message_user(request, f"Shifts generated: {counts['created']} created, {counts['updated']} updated.")


class ShiftForm(LocalTimesForm):
    class Meta:
        model = Shift
        fields = ("team", "role", "member", "start", "end")


class OverrideForm(LocalTimesForm):
    class Meta:
        model = Override
        fields = ("team", "role", "member", "start", "end", "reason")


class IntervalAdmin(TeamTimeAdmin, LeadScopedAdmin):
    """Shifts, overrides and time off: start and end are typed and shown in the team's time zone, with the zone
    named. Every save goes through the services (`create`; `update` and `delete` take the row as
    `row_keyword`), under the team's lock, so two leads cannot book overlapping intervals at once."""

    list_select_related = ("team", "member")
    create = None
    update = None
    records_creator = True

    def save_model(self, request, obj, form, change):
        if change:
            row = type(obj).objects.get(pk=obj.pk)
            type(self).update(**{self.row_keyword: row}, **changed_fields(form))
        else:
            fields = {name: form.cleaned_data[name] for name in self.form.Meta.fields}
            if self.records_creator:
                fields["created_by"] = request.user
            adopt_saved(obj, type(self).create(**fields))


@admin.register(Shift)
class ShiftAdmin(IntervalAdmin):
    form = ShiftForm
    list_display = ("team", "role", "member", "start", "end", "is_edited", "rotation")
    list_filter = (("team", TeamListFilter), "role", "is_edited", local_day_filter("start"))
    list_select_related = ("team", "member", "rotation")
    search_fields = ("member__name",)
    fields = ("team", "role", "member", "start", "end", "is_edited", "rotation")
    readonly_fields = ("is_edited", "rotation")
    ordering = ("start",)

    # shift_update marks the shift edited, so regeneration of the rotation leaves it alone.
    create = staticmethod(services.shift_create)
    update = staticmethod(services.shift_update)
    delete = staticmethod(services.shift_delete)
    row_keyword = "shift"
    records_creator = False


@admin.register(Override)
class OverrideAdmin(IntervalAdmin):
    form = OverrideForm
    list_display = ("team", "role", "member", "start", "end", "reason", "created_by")
    list_filter = (("team", TeamListFilter), "role", local_day_filter("start"))
    list_select_related = ("team", "member", "created_by")
    search_fields = ("member__name", "reason")
    fields = ("team", "role", "member", "start", "end", "reason")
    ordering = ("-start",)

    create = staticmethod(services.override_create)
    update = staticmethod(services.override_update)
    delete = staticmethod(services.override_delete)
    row_keyword = "override"


class TimeOffForm(LocalTimesForm):
    class Meta:
        model = TimeOff
        fields = ("team", "member", "start", "end", "reason")


@admin.register(TimeOff)
class TimeOffAdmin(IntervalAdmin):
    """Who is away: their shifts then are gaps (the leads are alerted) unless an override covers them."""

    form = TimeOffForm
    list_display = ("team", "member", "start", "end", "reason", "created_by")
    list_filter = (("team", TeamListFilter), local_day_filter("start"))
    list_select_related = ("team", "member", "created_by")
    search_fields = ("member__name", "reason")
    fields = ("team", "member", "start", "end", "reason")
    ordering = ("-start",)

    # time_off_create refuses time off over an override of the same person.
    create = staticmethod(services.time_off_create)
    update = staticmethod(services.time_off_update)
    delete = staticmethod(services.time_off_delete)
    row_keyword = "time_off"
