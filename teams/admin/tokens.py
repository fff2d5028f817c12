"""API tokens: users see and revoke their own; a lead also sees their teams' alerts-only tokens."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from teams import selectors, services
from teams.admin.scoping import NotFoundOutsideScope, led_team_ids
from teams.errors import RotaError
from teams.models import (
    ApiToken,
)


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
                kwargs["queryset"] = selectors.teams_among(team_ids=led_team_ids(request) or [])
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
        count = services.tokens_revoke(tokens=queryset)
        self.message_user(request, f"Revoked {count} token(s).")
