"""The team leads' pages for teams, members and support numbers."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from teams import calendar, selectors, services
from teams.admin.scoping import (
    LeadScopedAdmin,
    ScopedInline,
    ServiceFormSet,
    TeamListFilter,
    adopt_saved,
    changed_fields,
    led_team_ids,
)
from teams.admin.time import TeamTimeAdmin
from teams.admin.timeline import team_oncall_now, team_timeline
from teams.models import (
    Member,
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


class MembershipFormSet(ServiceFormSet):
    def clean(self):
        super().clean()
        for form in self.initial_forms:
            moved = form in self.deleted_forms or {"team", "member"} & set(form.changed_data)
            if form.instance.pk and moved:
                # Taking someone out of a team (or moving their row to another team or person) while they
                # are still planned on call would leave them rung.
                membership = self.stored(form)
                problem = services.member_removal_problem(team=membership.team, member=membership.member)
                if problem:
                    raise forms.ValidationError(problem)

    def create(self, **fields):
        return services.membership_add(**fields)

    def update(self, row, fields):
        services.membership_update(membership=row, **fields)

    def delete(self, row):
        services.membership_remove(team=row.team, member=row.member)


class SupportNumberFormSet(ServiceFormSet):
    def create(self, **fields):
        return services.support_number_create(**fields)

    def update(self, row, fields):
        services.support_number_update(number=row, **fields)

    def delete(self, row):
        services.support_number_delete(number=row)


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
    formset = SupportNumberFormSet
    extra = 0
    fields = ("phone_number", "sms_enabled")  # the menu is edited on the number's own page


class PhoneListField(forms.CharField):
    """A list of E.164 numbers typed one per line or comma-separated (the model validates each)."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]

    def has_changed(self, initial, data):
        return (initial or []) != self.to_python(data)


class TeamForm(forms.ModelForm):
    allowed_callers = PhoneListField(
        help_text="E.164 numbers allowed to call, one per line or comma-separated; empty means everyone."
    )
    desk_phones = PhoneListField(help_text=Team._meta.get_field("desk_phones").help_text)
    blocked_callers = PhoneListField(help_text=Team._meta.get_field("blocked_callers").help_text)
    vip_callers = PhoneListField(help_text=Team._meta.get_field("vip_callers").help_text)

    class Meta:
        model = Team
        fields = Team.SETTINGS


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

    delete = staticmethod(services.team_delete)
    row_keyword = "team"

    def save_model(self, request, obj, form, change):
        if not change:
            adopt_saved(obj, services.team_create(**{name: form.cleaned_data[name] for name in form.Meta.fields}))
            return
        # Through the service: a new time zone moves the future hand-offs at once.
        services.team_update(team=selectors.row_as_stored(obj), **changed_fields(form))

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
        rotations = selectors.rotations_of_teams(teams=queryset)
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
        extra_context["oncall_now"] = team_oncall_now(team=team, now=now)
        extra_context["timeline"] = team_timeline(team=team, params=request.GET, now=now)
        return super().change_view(request, object_id, form_url, extra_context)


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ("name", "phone", "email", "user", "timezone", "language")


@admin.register(Member)
class MemberAdmin(LeadScopedAdmin):
    team_path = "memberships__team"
    form = MemberForm
    list_display = ("name", "phone", "email", "team_list", "opted_out")
    search_fields = ("name", "phone", "email")
    list_filter = (("memberships__team", TeamListFilter),)
    inlines = [MembershipInline]
    actions = ["regenerate_calendar_token"]
    readonly_fields = ("calendar_feed", "calendar_feed_withheld", "sms_opted_out_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__team")

    def _shared(self, request, member) -> bool:
        """Whether the member is also in a team the user does not lead (their details, feed and deletion are
        not the user's): asked of the database once per request and member, though a page asks it thrice."""
        known = request.__dict__.setdefault("_members_shared", {})
        if member.pk not in known:
            known[member.pk] = selectors.member_outside_led_teams(user=request.user, member=member)
        return known[member.pk]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self._shared(request, obj):
            # Shared with a team this lead does not lead: a new phone would reroute that team's calls.
            readonly += ["name", "phone", "email", "timezone", "language"]
        return readonly

    def get_fields(self, request, obj=None):
        # The feed lists every team of the member's (shifts, time off and its reasons): shown to leads of each.
        shared = (
            obj is not None
            and obj.user_id != request.user.pk  # one's own feed is always one's own
            and self._shared(request, obj)
        )
        feed = "calendar_feed_withheld" if shared else "calendar_feed"
        fields = ["name", "phone", "email", "timezone", "language", "sms_opted_out_at", feed]
        if request.user.is_superuser:
            fields.insert(3, "user")
        return fields

    def save_model(self, request, obj, form, change):
        editable = {name: form.cleaned_data[name] for name in MemberForm.Meta.fields if name in form.cleaned_data}
        if change:
            changed = {name: value for name, value in editable.items() if name in form.changed_data}
            services.member_update(member=selectors.row_as_stored(obj), **changed)
        else:
            adopt_saved(obj, services.member_create(team=None, **editable))

    def has_delete_permission(self, request, obj=None):
        # A person also in a team this lead does not lead belongs to that team too: deleting them would take
        # its shifts and rotation places with them (the API's DELETE only takes them out of the lead's team).
        if obj is not None and self._shared(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        # The bulk delete action: refused when it names such a person, without listing the other team's rows.
        shared = [obj for obj in objs if self._shared(request, obj)]
        if shared:
            names = ", ".join(str(member) for member in shared)
            return [], {}, {gettext("members also in a team you do not lead (%(names)s)") % {"names": names}}, []
        return super().get_deleted_objects(objs, request)

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

    @admin.display(description="Calendar feed")
    def calendar_feed_withheld(self, member):
        return "Shown to the member and to the leads of each of their teams."

    @admin.action(description="Regenerate the calendar feed token (old links stop working)")
    def regenerate_calendar_token(self, request, queryset):
        renewed = 0
        for member in queryset:
            # The feed carries every team of the member's: only a lead of each may break its links.
            own = member.user_id == request.user.pk
            if own or not self._shared(request, member):
                services.calendar_token_regenerate(owner=member)
                renewed += 1
        self.message_user(request, f"New calendar tokens for {renewed} member(s).")
        if renewed < queryset.count():
            self.message_user(
                request,
                f"{queryset.count() - renewed} member(s) also in a team you do not lead kept their token.",
                level=messages.WARNING,
            )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if led_team_ids(request) is not None and not form.instance.memberships.exists():
            messages.warning(request, "This member belongs to no team yet: add them to one of your teams.")


class SupportNumberForm(forms.ModelForm):
    """The number's menu may name only teams the lead may change (the same check as the API's)."""

    class Meta:
        model = SupportNumber
        fields = ("team", "phone_number", "sms_enabled", "menu", "menu_prompt")

    def clean_menu(self):
        menu = self.cleaned_data.get("menu") or []
        if "menu" in self.changed_data:
            problem = selectors.menu_problem(menu=menu, user=self.user)
            if problem:
                raise forms.ValidationError(problem)
        return menu


@admin.register(SupportNumber)
class SupportNumberAdmin(LeadScopedAdmin):
    form = SupportNumberForm
    list_display = ("phone_number", "team", "sms_enabled", "menu_keys", "twilio_sid")
    list_filter = (("team", TeamListFilter), "sms_enabled")
    search_fields = ("phone_number",)
    fields = ("team", "phone_number", "sms_enabled", "menu", "menu_prompt")
    delete = staticmethod(services.support_number_delete)
    row_keyword = "number"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    @admin.display(description=gettext_lazy("Menu"))
    def menu_keys(self, number):
        return ", ".join(f"{entry['digit']}: {entry['team']}" for entry in number.menu or []) or "-"

    def save_model(self, request, obj, form, change):
        # The form checked the menu's teams against this lead; the service checks the rest.
        if change:
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name in self.fields}
            services.support_number_update(number=selectors.row_as_stored(obj), user=request.user, **fields)
        else:
            fields = {name: form.cleaned_data[name] for name in self.fields}
            adopt_saved(obj, services.support_number_create(user=request.user, **fields))
