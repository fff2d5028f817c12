"""Admin: shift swaps. A lead sees their teams' swaps with every step, and approves, declines or cancels
them through the actions (the same services as the API and SMS, recorded with the admin user)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from teams.admin import TeamListFilter
from teams.admin.time import local_day_filter
from teams.errors import RotaError
from telephony import swaps
from telephony.admin.base import EventHistoryInline, TeamLogAdmin, may_see_team_logs
from telephony.models import Swap, SwapEvent


class SwapEventInline(EventHistoryInline):
    model = SwapEvent
    fields = ["created_at", "action", "actor", "via", "user", "member"]


@admin.register(Swap)
class SwapAdmin(TeamLogAdmin):
    list_display = ["id", "team", "role", "asker", "start", "end", "taker", "state", "created_at"]
    list_select_related = ["team", "asker", "taker"]
    list_filter = ["state", ("team", TeamListFilter), local_day_filter("start")]
    search_fields = ["asker__name", "taker__name", "reason"]
    inlines = [SwapEventInline]
    actions = ["approve", "decline", "cancel"]
    # Steps go through the actions (recorded, people told); nothing is edited by hand.
    readonly_fields = [f.name for f in Swap._meta.fields]

    def has_change_permission(self, request, obj=None):
        return may_see_team_logs(request)  # the actions need it

    def _step(self, request, queryset, service, done: str) -> None:
        actor = swaps.Actor.of_user(request.user, via="admin")
        changed = 0
        for swap in queryset:
            try:
                service(swap=swap, actor=actor)
                changed += 1
            except RotaError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if changed:
            self.message_user(request, _("%(count)d swap(s) %(done)s.") % {"count": changed, "done": done})

    @admin.action(description=_("Approve (the taker covers the shift)"), permissions=["change"])
    def approve(self, request, queryset):
        self._step(request, queryset, swaps.swap_approve, _("approved"))

    @admin.action(description=_("Decline (the asker keeps the shift)"), permissions=["change"])
    def decline(self, request, queryset):
        self._step(request, queryset, swaps.swap_decline, _("declined"))

    @admin.action(description=_("Cancel"), permissions=["change"])
    def cancel(self, request, queryset):
        self._step(request, queryset, swaps.swap_cancel, _("cancelled"))
