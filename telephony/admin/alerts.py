"""Admin: alerts. Superusers see every alert, a lead only their teams'; alerts change only through the
acknowledge and resolve actions, which record the admin user like any other transition."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from teams import selectors
from teams.admin import TeamListFilter
from teams.admin.time import local_day_filter
from telephony import alerts
from telephony.admin.alert_buttons import alert_button_urls
from telephony.admin.base import EventHistoryInline, TeamLogAdmin, may_see_team_logs
from telephony.models import Alert, AlertEvent


class AlertEventInline(EventHistoryInline):
    model = AlertEvent
    fields = ["created_at", "action", "actor", "user", "member", "detail"]


@admin.register(Alert)
class AlertAdmin(TeamLogAdmin):
    list_display = [
        "id",
        "team",
        "summary",
        "source",
        "state",
        "occurrences",
        "escalation_step",
        "pages_held_back",
        "created_at",
        "acknowledged_by",
        "resolved_by",
    ]
    list_display_links = ["id", "summary"]
    list_select_related = ["team", "call", "voicemail"]
    search_fields = ["summary", "dedupe_key", "source"]
    inlines = [AlertEventInline]
    actions = ["acknowledge", "resolve"]
    # Transitions go through the actions (they stop escalation and are recorded); nothing is edited by hand.
    readonly_fields = [*(f.name for f in Alert._meta.fields), "recording"]

    @admin.display(description=gettext_lazy("Recording"))
    def recording(self, alert):
        """A voicemail alert's message, one click away."""
        if not alert.voicemail_id or not alert.voicemail.recording_url:
            return "-"
        return format_html(
            '<a href="{}.mp3" target="_blank" rel="noopener">{}</a>', alert.voicemail.recording_url, _("Listen")
        )

    # A lead is offered only the teams they lead; days are cut at each team's midnight.
    list_filter = ["state", "source", ("team", TeamListFilter), local_day_filter("created_at")]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team", "call", "voicemail")

    def has_change_permission(self, request, obj=None):
        return may_see_team_logs(request)  # the acknowledge and resolve actions need it

    def _transition(self, request, queryset, service, done: str) -> None:
        user = request.user
        member = selectors.member_of_user(user=user)
        changed = 0
        for alert in queryset:
            _, was_changed = service(alert=alert, actor=user.get_username(), user=user, member=member, via="admin")
            changed += was_changed
        skipped = len(queryset) - changed
        self.message_user(request, f"{changed} alert(s) {done}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} alert(s) were already {done} or closed.", messages.WARNING)

    @admin.action(description="Acknowledge (stop paging)", permissions=["change"])
    def acknowledge(self, request, queryset):
        self._transition(request, queryset, alerts.alert_acknowledge, "acknowledged")

    @admin.action(description="Resolve (close)", permissions=["change"])
    def resolve(self, request, queryset):
        self._transition(request, queryset, alerts.alert_resolve, "resolved")

    # Acknowledge and Resolve buttons on the alert's page (and the lead's home) post to these.
    change_form_template = "admin/telephony/alert/change_form.html"

    def get_urls(self):
        return [*alert_button_urls(self), *super().get_urls()]
