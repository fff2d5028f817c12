"""Admin: the SMS outbox, read-only. Superusers see every message, a lead only their teams' messages.

Also the "Send a test SMS" action for the Member admin. teams never imports telephony, so the action is
attached from here to whatever admin is registered for Member (teams' admin is loaded first: `teams`
comes before `telephony` in INSTALLED_APPS).
"""

from django.contrib import admin, messages
from django.db.models import QuerySet

from teams.admin import TeamListFilter, led_team_ids
from teams.admin.time import local_day_filter
from teams.models import Member
from telephony.admin.base import TeamLogAdmin, action_attach
from telephony.models import OutboundMessage
from telephony.sms import sms_send_test


@admin.register(OutboundMessage)
class OutboundMessageAdmin(TeamLogAdmin):
    list_display = ("created_at", "kind", "to", "member", "team", "status", "error_code", "attempts", "sent_at")
    list_filter = ("status", "kind", ("team", TeamListFilter), local_day_filter("created_at"))
    search_fields = ("to", "dedupe_key", "message_sid", "member__name")
    list_select_related = ("team", "member")
    ordering = ("-created_at",)


@admin.action(description="Send a test SMS")
def send_test_sms(modeladmin, request, queryset: QuerySet[Member]) -> None:
    """Queue one test SMS per selected member the user may reach (superuser, or a lead of one of their teams)."""
    team_ids = led_team_ids(request)
    queued, skipped, refused = [], [], []
    for member in queryset:
        teams = member.teams.order_by("name")
        if team_ids is not None:
            teams = teams.filter(pk__in=team_ids)
        team = teams.first()
        if team_ids is not None and team is None:
            refused.append(member.name)
            continue
        message = sms_send_test(member=member, team=team, requested_by=request.user)
        (skipped if message.status == OutboundMessage.Status.SKIPPED else queued).append(member.name)
    if queued:
        modeladmin.message_user(request, f"Test SMS queued for {', '.join(queued)}.", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request, f"Not sent to {', '.join(skipped)}: opted out of SMS (STOP).", messages.WARNING
        )
    if refused:
        modeladmin.message_user(request, f"Not sent to {', '.join(refused)}: not in a team you lead.", messages.ERROR)


def send_test_sms_install(site: admin.AdminSite = admin.site) -> bool:
    """Add the action to the Member admin registered on `site`; False when Member has no admin yet."""
    return action_attach(Member, send_test_sms, site)


send_test_sms_install()
