"""What the API's views share: the query-string parsing (instants and windows in the team's zone), the
base classes of the views under teams/{slug}/ (the team readable or a 404, led for writes or a 403), and
the check that authenticates before a format is chosen. The telephony app's API builds on them too."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response

from teams import rota, selectors
from teams.api_permissions import IsPerson, require_standing, team_and_standing, team_for_request
from teams.api_serializers import (
    parse_query_instant,
)
from teams.limits import MAX_SEGMENTS_PER_ROLE, MAX_WINDOW
from teams.models import Team

DEFAULT_WINDOW = dt.timedelta(days=7)

SLUG_PARAM = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The team's slug.")
AT_PARAM = OpenApiParameter(
    "at",
    OpenApiTypes.STR,
    description="ISO-8601 instant (default: now). Without an offset it is read in the team's time zone.",
)
START_PARAM = OpenApiParameter(
    "start", OpenApiTypes.STR, description="ISO-8601; without an offset read in the team's time zone."
)
END_PARAM = OpenApiParameter(
    "end", OpenApiTypes.STR, description="ISO-8601; without an offset read in the team's time zone."
)


# --- Query-string parsing --------------------------------------------------------------------------------


def query_instant(request, name: str, *, tz: ZoneInfo) -> dt.datetime | None:
    """The instant in ?name= (None if absent); 400 with the field named when malformed."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_query_instant(text, tz=tz)
    except ValueError as exc:
        raise exceptions.ValidationError({name: [str(exc)]}) from exc


def is_naive_query_instant(text: str) -> bool:
    """True when the value names a wall-clock time without an offset (read in a time zone)."""
    return parse_query_instant(text, tz=ZoneInfo("UTC")) != parse_query_instant(text, tz=ZoneInfo("Etc/GMT-14"))


def query_window(request, *, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """?start=&end= (default: now and a week later); end after start, at most 366 days apart."""
    start = query_instant(request, "start", tz=tz)
    end = query_instant(request, "end", tz=tz)
    if start is None:
        start = end - DEFAULT_WINDOW if end is not None else timezone.now()
    if end is None:
        end = start + DEFAULT_WINDOW
    if end <= start:
        raise exceptions.ValidationError({"end": ["The end must be after the start."]})
    if end - start > MAX_WINDOW:
        raise exceptions.ValidationError({"end": ["The window may span at most 366 days."]})
    return start, end


def check_schedule_size(*, team: Team, start: dt.datetime, end: dt.datetime) -> None:
    """400 (on `end`) when a rotation hands off more than MAX_SEGMENTS_PER_ROLE times in the window."""
    for rotation, handoffs in selectors.rotations_handoffs_in(team=team, start=start, end=end):
        if handoffs > MAX_SEGMENTS_PER_ROLE:
            days = max(1, (MAX_SEGMENTS_PER_ROLE - 2) * rotation.shift_length // dt.timedelta(days=1))
            raise exceptions.ValidationError(
                {
                    "end": [
                        gettext(
                            "This window holds about %(count)d %(role)s shifts of %(length)s; one request shows "
                            "at most %(limit)d per role: ask for at most %(days)d days at a time."
                        )
                        % {
                            "count": handoffs,
                            "role": rotation.role,
                            "length": rota.format_duration(rotation.shift_length),
                            "limit": MAX_SEGMENTS_PER_ROLE,
                            "days": days,
                        }
                    ]
                }
            )


# --- Base classes ----------------------------------------------------------------------------------------


class TeamStandingMixin:
    """Views under teams/{slug}/ that integration tokens may use too, where who may use each method is said
    once in `standings`, e.g. {"get": (LEAD, MEMBER), "post": (LEAD,)}. Before the handler runs, `self.team`
    is the team (404 when the caller may not see it) and `self.standing` the caller's standing in it (403,
    saying what they may do instead, when the method is not for them)."""

    standings: dict[str, tuple[str, ...]] = {}
    team: Team
    standing: str

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.team, self.standing = team_and_standing(request, kwargs["slug"])
        method = "get" if request.method == "HEAD" else request.method.lower()
        if method in self.standings:
            require_standing(self.standing, self.standings[method])


class ServiceStep:
    """A POST that moves one object on through `service`; `step` declares each such view of a base with its
    OpenAPI description: the base's `step_schema` (its tag and answer) and the step's own (no request body)."""

    service = None
    step_schema: dict = {}

    @classmethod
    def step(cls, name: str, service, **schema) -> type:
        view = type(name, (cls,), {"service": staticmethod(service), "__module__": cls.__module__})
        return extend_schema_view(post=extend_schema(request=None, **cls.step_schema, **schema))(view)


class TeamScopedMixin:
    """Views under teams/{slug}/: the team is readable by the user (else 404), led by them for writes (else 403)."""

    permission_classes = [IsPerson]
    team: Team

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.team = team_for_request(request, kwargs["slug"])

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["team"] = getattr(self, "team", None)
        context["is_lead"] = self.is_team_lead
        return context

    @cached_property
    def is_team_lead(self) -> bool:
        team = getattr(self, "team", None)
        return team is not None and selectors.is_lead(user=self.request.user, team=team)

    @property
    def is_schema_view(self) -> bool:
        return getattr(self, "swagger_fake_view", False)


class TeamRowsMixin(TeamScopedMixin):
    """Viewsets of one kind of the team's rows: `team_rows` is the selector that reads them, as listed."""

    team_rows = None

    def get_queryset(self):
        if self.is_schema_view:
            return self.get_serializer_class().Meta.model.objects.none()
        return self.team_rows(team=self.team)


class TeamChildViewSet(TeamRowsMixin, viewsets.ModelViewSet):
    """CRUD of one kind of object inside a team; subclasses say how to create, update and delete through
    services."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_create(serializer.validated_data)
        return Response(self.get_serializer(self.refetch(obj)).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        obj = self.get_object()
        serializer = self.get_serializer(obj, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_service_update(obj, serializer.validated_data)
        return Response(self.get_serializer(self.refetch(obj)).data)

    def refetch(self, obj):
        """The object as the list shows it (annotations, prefetches)."""
        return self.get_queryset().get(pk=obj.pk)

    def perform_service_create(self, data: dict):
        raise NotImplementedError

    def perform_service_update(self, obj, data: dict):
        raise NotImplementedError

    def perform_destroy(self, obj):
        self.perform_service_delete(obj)

    def perform_service_delete(self, obj):
        raise NotImplementedError


class WindowedMixin:
    """Lists filtered to the rows overlapping ?start=&end= (either may be left out)."""

    @extend_schema(parameters=[START_PARAM, END_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def filter_window(self, queryset):
        start = query_instant(self.request, "start", tz=self.team.tz)
        end = query_instant(self.request, "end", tz=self.team.tz)
        if start is not None and end is not None and end <= start:
            raise exceptions.ValidationError({"end": ["The end must be after the start."]})
        if start is not None:
            queryset = queryset.filter(end__gt=start)
        if end is not None:
            queryset = queryset.filter(start__lt=end)
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.action == "list":
            queryset = self.filter_window(queryset)
        return queryset


class AuthenticateFirstMixin:
    """Check the token before choosing the answer's format: a bad token is a 401 in the error shape whatever
    the Accept header (the Swagger page would otherwise meet it while rendering its template)."""

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        super().initial(request, *args, **kwargs)
