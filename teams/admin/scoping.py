"""What every admin of the leads' tool shares: a lead sees and edits only the teams they lead (list
querysets, object pages, where another team's object is a 404, and form choices), and saves go through the
services."""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404

from teams import selectors
from teams.models import (
    Member,
    Team,
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
            kwargs["queryset"] = selectors.teams_among(team_ids=team_ids)
        elif db_field.related_model is Member:
            kwargs["queryset"] = selectors.members_of_teams(team_ids)


def adopt_saved(obj, saved) -> None:
    """Make the admin's unsaved form object stand for the row a service created (inlines, logs, redirect)."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db


def changed_fields(form) -> dict:
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
    # Deletes go through this service (taking the row as `row_keyword`); None = Django's own delete.
    delete = None
    row_keyword = ""

    def delete_model(self, request, obj):
        if type(self).delete is None:
            return super().delete_model(request, obj)
        type(self).delete(**{self.row_keyword: obj})

    def delete_queryset(self, request, queryset):
        if type(self).delete is None:
            return super().delete_queryset(request, queryset)
        for obj in queryset:
            type(self).delete(**{self.row_keyword: obj})

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


class ServiceFormSet(forms.BaseInlineFormSet):
    """An inline whose rows are written by services, as the admin's own forms are: `create(**fields)` for a
    new row, `update(row, fields)` with only the changed fields of the stored row, `delete(row)`. The rules
    the services enforce at save time are checked in `clean` first, so a bad row is an error on the form."""

    def create(self, **fields):
        raise NotImplementedError

    def update(self, row, fields: dict) -> None:
        raise NotImplementedError

    def delete(self, row) -> None:
        raise NotImplementedError

    def stored(self, form):
        """The row as it is in the database (the form's instance already carries the typed values)."""
        return selectors.row_as_stored(form.instance)

    def _model_fields(self, form, names) -> dict:
        model_fields = {field.name for field in self.model._meta.concrete_fields if not field.primary_key}
        return {name: form.cleaned_data[name] for name in names if name in model_fields and name in form.cleaned_data}

    def save(self, commit=True):
        if not commit:
            return super().save(commit=False)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form in self.initial_forms:
            if form.instance.pk is None:
                continue
            if form in self.deleted_forms:
                self.delete(self.stored(form))
                self.deleted_objects.append(form.instance)
            elif form.has_changed():
                self.update(self.stored(form), self._model_fields(form, form.changed_data))
                self.changed_objects.append((form.instance, form.changed_data))
        for form in self.extra_forms:
            if not form.has_changed() or (self.can_delete and self._should_delete_form(form)):
                continue
            fields = {**self._model_fields(form, form.fields), self.fk.name: self.instance}
            adopt_saved(form.instance, self.create(**fields))
            self.new_objects.append(form.instance)
        return self.new_objects + [row for row, _changed in self.changed_objects]


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
