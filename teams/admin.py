"""The team leads' tool. A lead (staff, not superuser) sees and edits only the teams they lead:
list querysets, object pages (another team's object is a 404) and form choices are all scoped."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.forms.formsets import all_valid
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from teams import admin_timeline, calendar, rota, selectors, services
from teams.admin_time import LocalTimesForm, TeamTimeAdmin, local_day_filter
from teams.errors import RotaError
from teams.models import (
    ApiToken,
    Member,
    Override,
    Rotation,
    RotationParticipant,
    Shift,
    SupportNumber,
    Team,
    TeamMembership,
)

# The copy button: the Clipboard API where the page is a secure context (https, 127.0.0.1), else a prompt
# holding the URL, selected, to copy by hand.
COPY_JS = (
    "var b=this;if(navigator.clipboard&&window.isSecureContext){"
    "navigator.clipboard.writeText(b.dataset.url).then(function(){b.textContent=b.dataset.done;});"
    "}else{window.prompt(b.dataset.prompt,b.dataset.url);}"
)


def feed_link(url: str):
    """A calendar feed as a lead needs it: the full URL, clickable, and a button that copies it."""
    return format_html(
        '<a href="{url}" class="calendar-feed">{url}</a> '
        '<button type="button" class="button" data-url="{url}" data-done="{done}" data-prompt="{prompt}" '
        'onclick="{js}">{label}</button>',
        url=url,
        done=gettext("Copied"),
        prompt=gettext("Copy the calendar URL:"),
        js=COPY_JS,
        label=gettext("Copy"),
    )


def led_team_ids(request) -> list[int] | None:
    """The teams the user leads; None means every team (superuser). Cached per request."""
    if request.user.is_superuser:
        return None
    if not hasattr(request, "_led_team_ids"):
        request._led_team_ids = list(selectors.teams_led_by(request.user).values_list("pk", flat=True))
    return request._led_team_ids


def is_lead_in_admin(request) -> bool:
    """An active staff user who leads a team (or a superuser): who may use the team leads' admin at all."""
    user = request.user
    return user.is_active and user.is_staff and (user.is_superuser or bool(led_team_ids(request)))


def scope_choices(db_field, request, kwargs: dict) -> None:
    """A lead picks only their teams and those teams' members in any form."""
    team_ids = led_team_ids(request)
    if team_ids is not None:
        if db_field.related_model is Team:
            kwargs["queryset"] = Team.objects.filter(pk__in=team_ids)
        elif db_field.related_model is Member:
            kwargs["queryset"] = selectors.members_of_teams(team_ids)


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved form object stand for the row a service created (inlines, logs, redirect)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db


def _changed(form) -> dict:
    """The form's changed model fields with their cleaned values."""
    return {name: form.cleaned_data[name] for name in form.changed_data if name in form.Meta.fields}


class TeamListFilter(admin.RelatedFieldListFilter):
    """Filter by team offering only the teams the user leads (the stock filter lists every team's name)."""

    def field_choices(self, field, request, model_admin):
        team_ids = led_team_ids(request)
        ordering = self.field_admin_ordering(field, request, model_admin)
        limit = {} if team_ids is None else {"pk__in": team_ids}
        return field.get_choices(include_blank=False, limit_choices_to=limit, ordering=ordering)


class NotFoundOutsideScope:
    """Another team's object, or none at all: the same 404, so existence is not leaked."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj


class LeadScopedAdmin(NotFoundOutsideScope, admin.ModelAdmin):
    """Scopes everything to the user's teams through `team_path` (the lookup from the model to Team)."""

    team_path = "team"

    def _is_lead(self, request) -> bool:
        return is_lead_in_admin(request)

    def has_module_permission(self, request):
        return self._is_lead(request)

    def has_view_permission(self, request, obj=None):
        return self._is_lead(request)

    def has_change_permission(self, request, obj=None):
        return self._is_lead(request)

    def has_add_permission(self, request):
        return self._is_lead(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_lead(request)

    def scope(self, request, queryset: QuerySet) -> QuerySet:
        team_ids = led_team_ids(request)
        if team_ids is None:
            return queryset
        return queryset.filter(**{f"{self.team_path}__in": team_ids}).distinct()

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedInline(admin.TabularInline):
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request, obj=None):
        return True

    def has_change_permission(self, request, obj=None):
        return True

    def has_delete_permission(self, request, obj=None):
        return True

    def has_view_permission(self, request, obj=None):
        return True


class MembershipFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        for form in self.deleted_forms:
            membership = form.instance
            if membership.pk:
                # Taking someone out of a team while they are still planned on call would leave them rung.
                problem = services.member_removal_problem(team=membership.team, member=membership.member)
                if problem:
                    raise forms.ValidationError(problem)


class MembershipInline(ScopedInline):
    model = TeamMembership
    formset = MembershipFormSet
    extra = 1
    autocomplete_fields = ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("team", "member")
        team_ids = led_team_ids(request)
        return queryset if team_ids is None else queryset.filter(team_id__in=team_ids)


class SupportNumberInline(ScopedInline):
    model = SupportNumber
    extra = 0
    fields = ("phone_number", "sms_enabled")


class TeamForm(forms.ModelForm):
    allowed_callers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E.164 numbers allowed to call, one per line or comma-separated; empty means everyone.",
    )

    class Meta:
        model = Team
        fields = Team.SETTINGS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.initial["allowed_callers"] = "\n".join(self.instance.allowed_callers or [])

    def clean_allowed_callers(self):
        text = self.cleaned_data.get("allowed_callers") or ""
        return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]


@admin.register(Team)
class TeamAdmin(TeamTimeAdmin, LeadScopedAdmin):
    team_path = "pk"
    team_zone_path = "timezone"
    form = TeamForm
    list_display = ("name", "slug", "timezone", "ring_timeout", "oncall_now")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline, SupportNumberInline]
    actions = ["generate_shifts_now", "regenerate_calendar_token"]
    readonly_fields = ("calendar_feed",)
    change_form_template = "admin/teams/team/change_form.html"

    def scope(self, request, queryset):
        team_ids = led_team_ids(request)
        return queryset if team_ids is None else queryset.filter(pk__in=team_ids)

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if not change:
            _adopt(obj, services.team_create(**{name: form.cleaned_data[name] for name in form.Meta.fields}))
            return
        # Through the service: a new time zone moves the future hand-offs at once.
        services.team_update(team=Team.objects.get(pk=obj.pk), **_changed(form))

    def get_changelist_instance(self, request):
        # One query for the whole page: each team object carries its on-call (the admin is shared
        # between threads, so nothing per-request is kept on self).
        changelist = super().get_changelist_instance(request)
        teams = list(changelist.result_list)
        oncall = selectors.oncall_at_for_teams(team_ids=[t.pk for t in teams], at=timezone.now())
        for team in teams:
            team.oncall_roles = oncall[team.pk]
        return changelist

    @admin.display(description="On call now")
    def oncall_now(self, team):
        roles = getattr(team, "oncall_roles", None)
        if roles is None:
            roles = selectors.oncall_at(team=team, at=timezone.now())
        return " / ".join(f"{role}: {cover.member or 'nobody'}" for role, cover in roles.items())

    @admin.display(description="Calendar feed")
    def calendar_feed(self, team):
        if not team.pk:
            return "-"
        return feed_link(calendar.team_feed_url(team))

    @admin.action(description="Generate shifts now (up to the horizon)")
    def generate_shifts_now(self, request, queryset):
        rotations = Rotation.objects.filter(team__in=queryset).select_related("team")
        counts = services.shifts_generate(rotations=rotations)
        self.message_user(
            request,
            f"Shifts generated: {counts['created']} created, {counts['updated']} updated, {counts['deleted']} removed.",
        )

    @admin.action(description="Regenerate the calendar feed token (old links stop working)")
    def regenerate_calendar_token(self, request, queryset):
        for team in queryset:
            services.calendar_token_regenerate(owner=team)
        self.message_user(request, f"New calendar tokens for {queryset.count()} team(s).")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        team = self.get_object(request, object_id)
        now = timezone.now()
        extra_context["oncall_now"] = admin_timeline.team_oncall_now(team=team, now=now)
        extra_context["timeline"] = admin_timeline.team_timeline(team=team, params=request.GET, now=now)
        return super().change_view(request, object_id, form_url, extra_context)


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ("name", "phone", "email", "user", "timezone")


@admin.register(Member)
class MemberAdmin(LeadScopedAdmin):
    team_path = "memberships__team"
    form = MemberForm
    list_display = ("name", "phone", "email", "team_list", "opted_out")
    search_fields = ("name", "phone", "email")
    list_filter = (("memberships__team", TeamListFilter),)
    inlines = [MembershipInline]
    actions = ["regenerate_calendar_token"]
    readonly_fields = ("calendar_feed", "sms_opted_out_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__team")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and selectors.member_outside_led_teams(user=request.user, member=obj):
            # Shared with a team this lead does not lead: a new phone would reroute that team's calls.
            readonly += ["name", "phone", "email", "timezone"]
        return readonly

    def get_fields(self, request, obj=None):
        fields = ["name", "phone", "email", "timezone", "sms_opted_out_at", "calendar_feed"]
        if request.user.is_superuser:
            fields.insert(3, "user")
        return fields

    def save_model(self, request, obj, form, change):
        editable = {name: form.cleaned_data[name] for name in MemberForm.Meta.fields if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in editable.items() if name in form.changed_data}
            services.member_update(member=Member.objects.get(pk=obj.pk), **changed)
        else:
            _adopt(obj, services.member_create(team=None, **editable))

    @admin.display(description="Teams")
    def team_list(self, member):
        return ", ".join(m.team.name for m in member.memberships.all())

    @admin.display(boolean=True, description="Opted out of SMS")
    def opted_out(self, member):
        return member.is_opted_out

    @admin.display(description="Calendar feed")
    def calendar_feed(self, member):
        if not member.pk:
            return "-"
        return feed_link(calendar.member_feed_url(member))

    @admin.action(description="Regenerate the calendar feed token (old links stop working)")
    def regenerate_calendar_token(self, request, queryset):
        for member in queryset:
            services.calendar_token_regenerate(owner=member)
        self.message_user(request, f"New calendar tokens for {queryset.count()} member(s).")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if led_team_ids(request) is not None and not form.instance.memberships.exists():
            messages.warning(request, "This member belongs to no team yet: add them to one of your teams.")


@admin.register(SupportNumber)
class SupportNumberAdmin(LeadScopedAdmin):
    list_display = ("phone_number", "team", "sms_enabled", "twilio_sid")
    list_filter = (("team", TeamListFilter), "sms_enabled")
    search_fields = ("phone_number",)
    fields = ("team", "phone_number", "sms_enabled")

    def save_model(self, request, obj, form, change):
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name in self.fields}
            services.support_number_update(number=SupportNumber.objects.get(pk=obj.pk), **fields)
        else:
            _adopt(obj, services.support_number_create(**{name: form.cleaned_data[name] for name in self.fields}))


class ParticipantFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            raise forms.ValidationError("A rotation needs at least one member.")
        team = self.instance.team if self.instance.team_id else None
        if team:
            member_ids = {f.cleaned_data["member"].pk for f in kept if f.cleaned_data.get("member")}
            known = set(
                TeamMembership.objects.filter(team=team, member_id__in=member_ids).values_list("member_id", flat=True)
            )
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
            changed = form.save()
            for formset in formsets:
                formset.save()
            return changed

        now = timezone.now()
        preview = services.rotation_preview(rotation=rotation, apply=apply, now=now)
        team = Rotation.objects.select_related("team").get(pk=rotation.pk).team
        names = dict(Member.objects.filter(memberships__team=team).values_list("pk", "name"))
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

    def delete_model(self, request, obj):
        # Like the API: the future shifts it planned go too (a plain delete left weeks of them on call).
        services.rotation_delete(rotation=obj)

    def delete_queryset(self, request, queryset):
        for rotation in queryset.select_related("team"):
            services.rotation_delete(rotation=rotation)

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
    """Shifts and overrides: start and end are typed and shown in the team's time zone, with the zone named."""

    list_select_related = ("team", "member")


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

    def save_model(self, request, obj, form, change):
        # Through the services: the team's lock keeps two leads from booking overlapping shifts at once, and
        # the shift is marked edited so regeneration of the rotation leaves it alone.
        if change:
            services.shift_update(shift=Shift.objects.get(pk=obj.pk), **_changed(form))
        else:
            _adopt(obj, services.shift_create(**{name: form.cleaned_data[name] for name in ShiftForm.Meta.fields}))


@admin.register(Override)
class OverrideAdmin(IntervalAdmin):
    form = OverrideForm
    list_display = ("team", "role", "member", "start", "end", "reason", "created_by")
    list_filter = (("team", TeamListFilter), "role", local_day_filter("start"))
    list_select_related = ("team", "member", "created_by")
    search_fields = ("member__name", "reason")
    fields = ("team", "role", "member", "start", "end", "reason")
    ordering = ("-start",)

    def save_model(self, request, obj, form, change):
        # Through the services, under the team's lock: no two overlapping overrides.
        if change:
            services.override_update(override=Override.objects.get(pk=obj.pk), **_changed(form))
        else:
            fields = {name: form.cleaned_data[name] for name in OverrideForm.Meta.fields}
            _adopt(obj, services.override_create(**fields, created_by=request.user))


@admin.register(ApiToken)
class ApiTokenAdmin(NotFoundOutsideScope, admin.ModelAdmin):
    """Users see and revoke their own tokens; the clear token is shown once, when created."""

    list_display = ("prefix", "name", "user", "team", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope",)
    fields = ("name", "scope", "user", "team")
    actions = ["revoke"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "team")
        if request.user.is_superuser:
            return queryset
        team_ids = led_team_ids(request) or []
        return queryset.filter(user=request.user) | queryset.filter(team_id__in=team_ids, scope="alerts")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.name == "user":
                # request.user is a lazy wrapper: type() of it is not the user model.
                kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
            elif db_field.name == "team":
                kwargs["queryset"] = Team.objects.filter(pk__in=led_team_ids(request) or [])
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        scope = form.cleaned_data.get("scope") or ApiToken.Scope.FULL
        user = form.cleaned_data.get("user") or request.user
        if not request.user.is_superuser:
            user = request.user  # a lead makes full tokens only for themselves
        try:
            key, row = services.token_create(
                user=user, team=form.cleaned_data.get("team"), scope=scope, name=form.cleaned_data.get("name", "")
            )
        except RotaError as exc:
            messages.error(request, f"Token not created: {exc.message}")
            return
        obj.pk = row.pk
        messages.success(request, f"New token (shown only now, copy it): {key}")

    def save_related(self, request, form, formsets, change):
        pass

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")
