"""Admin: calls and voicemails, read-only logs. Superusers see everything, a lead only their teams' rows.

Also hooks the "Set webhooks on Twilio" action onto the SupportNumber admin: teams never imports telephony,
so the action is attached from here (teams' admin is loaded first: `teams` precedes `telephony` in
INSTALLED_APPS).
"""

import logging

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from teams.admin import TeamListFilter
from teams.admin.time import local_day_filter
from teams.models import SupportNumber
from telephony import numbers
from telephony.admin.base import ReadOnlyInline, TeamLogAdmin, action_attach
from telephony.models import Alert, Call, DialAttempt, Voicemail
from telephony.selectors import calls_with_passes

logger = logging.getLogger(__name__)


def call_ending(call: Call) -> str:
    """How the call ended, as a lead reads it: "Answered by Ana (1 passed)", "Call-back requested"..."""
    if call.outcome == Call.Outcome.ANSWERED:
        who = call.answered_by.name if call.answered_by_id else call.answered_number
        text = _("Answered by %(who)s") % {"who": who or "?"}
    else:
        text = str(call.get_outcome_display())
    passed = getattr(call, "passed_count", 0)
    if passed:
        text += " " + ngettext("(%(count)d passed)", "(%(count)d passed)", passed) % {"count": passed}
    return text


def alert_link(alert: Alert | None) -> str:
    if alert is None:
        return "-"
    url = reverse("admin:telephony_alert_change", args=[alert.pk])
    return format_html('<a href="{}">#{} {}</a> ({})', url, alert.pk, alert.summary, alert.get_state_display())


def _recording_link(voicemail: Voicemail) -> str:
    if not voicemail.recording_url:
        return "-"
    return format_html('<a href="{}.mp3" target="_blank" rel="noopener">Listen</a>', voicemail.recording_url)


class DialAttemptInline(ReadOnlyInline):
    model = DialAttempt
    fields = ("position", "target", "member", "phone", "dial_status", "accepted_at", "dial_call_sid", "created_at")


class VoicemailInline(ReadOnlyInline):
    model = Voicemail
    fields = ("created_at", "duration_seconds", "recording", "transcription")

    @admin.display(description=gettext_lazy("Recording"))
    def recording(self, voicemail):
        return _recording_link(voicemail)


class CallAlertInline(ReadOnlyInline):
    """The alert a missed caller raised (their voicemail, or their call-back request)."""

    model = Alert
    fields = ("alert", "source", "state", "acknowledged_by", "acknowledged_at")
    verbose_name = gettext_lazy("alert of this call")
    verbose_name_plural = gettext_lazy("alerts of this call")

    @admin.display(description=gettext_lazy("Alert"))
    def alert(self, alert):
        return alert_link(alert)


@admin.register(Call)
class CallAdmin(TeamLogAdmin):
    list_display = ("started_at", "team", "from_number", "to_number", "ended", "duration_seconds")
    list_filter = ("outcome", ("team", TeamListFilter), local_day_filter("started_at"))
    search_fields = ("call_sid", "from_number", "to_number", "answered_by__name")
    list_select_related = ("team", "answered_by")
    ordering = ("-started_at",)
    inlines = (DialAttemptInline, VoicemailInline, CallAlertInline)
    fields = (
        "call_sid",
        "team",
        "from_number",
        "to_number",
        "outcome",
        "menu_digit",
        "answered_by",
        "answered_number",
        "status",
        "duration_seconds",
        "started_at",
        "ended_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return calls_with_passes(super().get_queryset(request))

    @admin.display(description=gettext_lazy("How it ended"), ordering="outcome")
    def ended(self, call):
        return call_ending(call)


@admin.register(Voicemail)
class VoicemailAdmin(TeamLogAdmin):
    list_display = ("created_at", "team", "from_number", "duration_seconds", "recording", "transcription_short")
    list_filter = (("team", TeamListFilter), "transcription_status", local_day_filter("created_at"))
    search_fields = ("from_number", "recording_sid", "transcription")
    list_select_related = ("team", "alert")
    ordering = ("-created_at",)
    fields = (
        "team",
        "call",
        "alert",
        "from_number",
        "created_at",
        "duration_seconds",
        "recording",
        "recording_sid",
        "transcription_status",
        "transcription",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("Recording"))
    def recording(self, voicemail):
        return _recording_link(voicemail)

    @admin.display(description=gettext_lazy("Alert"))
    def alert(self, voicemail):
        return alert_link(getattr(voicemail, "alert", None))

    @admin.display(description="Transcription")
    def transcription_short(self, voicemail):
        text = voicemail.transcription or voicemail.transcription_status or "-"
        return text if len(text) <= 80 else text[:79] + "…"


action_attach(SupportNumber, numbers.sync_numbers_action)
