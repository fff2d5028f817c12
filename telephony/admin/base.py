"""What the telephony admins share: read-only logs scoped to the lead's teams, and actions they add to the
teams app's admins (teams must not import telephony, so telephony attaches them)."""

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.db.models import QuerySet

from teams.admin import NotFoundOutsideScope, is_lead_in_admin, led_team_ids
from teams.admin.time import TeamTimeAdmin


def may_see_team_logs(request) -> bool:
    """The leads of a team see its logs; the same people who may use the leads' admin."""
    return is_lead_in_admin(request)


class TeamLogAdmin(TeamTimeAdmin, NotFoundOutsideScope, admin.ModelAdmin):
    """A log: nobody adds, edits or deletes rows; a lead sees only rows of the teams they lead (rows
    without a team, such as calls to unknown numbers, are superuser-only). Another team's row is a 404.
    Times read in the row's team zone, with the zone named (UTC for rows without a team)."""

    def get_queryset(self, request) -> QuerySet:
        queryset = super().get_queryset(request)
        team_ids = led_team_ids(request)
        return queryset if team_ids is None else queryset.filter(team_id__in=team_ids)

    def has_module_permission(self, request):
        return may_see_team_logs(request)

    def has_view_permission(self, request, obj=None):
        return may_see_team_logs(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def action_attach(model, action, site: admin.AdminSite = admin.site) -> bool:
    """Add `action` to the admin registered for `model` on `site`; False when the model has no admin."""
    try:
        model_admin = site.get_model_admin(model)
    except NotRegistered:
        return False
    actions = list(model_admin.actions or [])
    if action not in actions:
        model_admin.actions = [*actions, action]
    return True


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page and never added, edited or deleted there; every field is read-only.
    The parent admin has already decided who may see the parent, and so its rows."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True


class EventHistoryInline(ReadOnlyInline):
    """The history rows of an alert or a swap: shown to whoever may see the team's logs."""

    def has_view_permission(self, request, obj=None):
        return may_see_team_logs(request)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "member")
