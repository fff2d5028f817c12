"""The rota API under /api/v1/: thin views that check access, parse input and call services or selectors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Prefetch, Subquery
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from teams import api_filters, rota, selectors, services
from teams.api_permissions import IsPerson, require_lead, require_superuser, team_for_request
from teams.api_serializers import (
    GapsSerializer,
    MemberSerializer,
    OnCallSerializer,
    OverrideSerializer,
    RotationSerializer,
    ScheduleSerializer,
    ShiftSerializer,
    SupportNumberSerializer,
    TeamSerializer,
    parse_query_instant,
)
from teams.limits import MAX_SEGMENTS_PER_ROLE
from teams.models import Member, Override, Rotation, RotationParticipant, Shift, SupportNumber, Team, TeamMembership

MAX_WINDOW = dt.timedelta(days=366)
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


# --- Output shapes (plain data from selector results) ----------------------------------------------------


def team_ref(team: Team) -> dict:
    return {"slug": team.slug, "name": team.name, "timezone": team.timezone}


def person(member: Member | None) -> dict | None:
    if member is None:
        return None
    return {"id": member.pk, "name": member.name, "phone": member.phone}


def cover(entry: selectors.OnCall | None) -> dict | None:
    if entry is None:
        return None
    return {"member": person(entry.member), "start": entry.start, "end": entry.end, "source": entry.source}


def oncall_payload(team: Team, at: dt.datetime, roles: dict[str, selectors.OnCallWithNext]) -> dict:
    data = {"team": team_ref(team), "at": at}
    for role, entry in roles.items():
        data[role] = {**cover(entry.current), "next": cover(entry.next)}
    return data


# --- Base classes ----------------------------------------------------------------------------------------


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


class TeamChildViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """CRUD of one kind of object inside a team; subclasses say how to create and update through services."""

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


# --- Teams -----------------------------------------------------------------------------------------------


@extend_schema(tags=["teams"])
class TeamViewSet(viewsets.ModelViewSet):
    """Teams you can see. Creating and deleting teams is for administrators; leads edit their teams."""

    permission_classes = [IsPerson]
    serializer_class = TeamSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Team.objects.none()
        return selectors.teams_visible_to(self.request.user).order_by("name", "pk")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "led_team_ids": self.led_team_ids}

    @cached_property
    def led_team_ids(self) -> set[int] | None:
        """The teams whose feed URL the user may see (those they lead); None for a superuser: all of them."""
        user = self.request.user
        if user.is_superuser:
            return None
        return set(selectors.teams_led_by(user).values_list("pk", flat=True))

    def create(self, request, *args, **kwargs):
        require_superuser(user=request.user, what="create teams")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.team_create(**serializer.validated_data)
        return Response(self.get_serializer(team).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        team = self.get_object()
        require_lead(user=request.user, team=team)
        serializer = self.get_serializer(team, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.team_update(team=team, **serializer.validated_data)
        return Response(self.get_serializer(team).data)

    def destroy(self, request, *args, **kwargs):
        team = self.get_object()
        require_superuser(user=request.user, what="delete teams")
        services.team_delete(team=team)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Members ---------------------------------------------------------------------------------------------


@extend_schema(tags=["members"], parameters=[SLUG_PARAM])
class MemberViewSet(TeamChildViewSet):
    """The team's members. Creating one adds a new person to the team; deleting one takes them out of it."""

    serializer_class = MemberSerializer
    filterset_class = api_filters.MemberFilter

    def get_queryset(self):
        if self.is_schema_view:
            return Member.objects.none()
        role = TeamMembership.objects.filter(team=self.team, member=OuterRef("pk")).values("role")[:1]
        return Member.objects.filter(memberships__team=self.team).annotate(role=Subquery(role)).order_by("name", "pk")

    def perform_service_create(self, data):
        return services.member_create(team=self.team, **data)

    def perform_service_update(self, member, data):
        personal = {key for key in data if key != "role"}
        if personal and selectors.member_outside_led_teams(user=self.request.user, member=member):
            raise exceptions.PermissionDenied(
                f"{member.name} is also in a team you do not lead: only their role in this team can change here."
            )
        return services.member_update(team=self.team, member=member, **data)

    def perform_destroy(self, member):
        services.member_remove(team=self.team, member=member)


# --- Support numbers -------------------------------------------------------------------------------------


@extend_schema(tags=["numbers"], parameters=[SLUG_PARAM])
class SupportNumberViewSet(TeamChildViewSet):
    """The team's Twilio numbers."""

    serializer_class = SupportNumberSerializer
    filterset_class = api_filters.SupportNumberFilter

    def get_queryset(self):
        if self.is_schema_view:
            return SupportNumber.objects.none()
        return SupportNumber.objects.filter(team=self.team).order_by("phone_number")

    def perform_service_create(self, data):
        return services.support_number_create(team=self.team, **data)

    def perform_service_update(self, number, data):
        return services.support_number_update(number=number, **data)


# --- Rotations -------------------------------------------------------------------------------------------


@extend_schema(tags=["rotations"], parameters=[SLUG_PARAM])
class RotationViewSet(TeamChildViewSet):
    """Rotations (one per role). Creating or changing one (re)generates the future shifts nobody edited."""

    serializer_class = RotationSerializer
    filterset_class = api_filters.RotationFilter

    def get_queryset(self):
        if self.is_schema_view:
            return Rotation.objects.none()
        participants = Prefetch("participants", queryset=RotationParticipant.objects.order_by("position"))
        return Rotation.objects.filter(team=self.team).prefetch_related(participants).order_by("role")

    @staticmethod
    def _arguments(data: dict) -> dict:
        arguments = dict(data)
        if "members" in arguments:
            arguments["member_ids"] = arguments.pop("members")
        if "start" in arguments:
            arguments["start_local"] = arguments.pop("start")
        return arguments

    def perform_service_create(self, data):
        return services.rotation_create(team=self.team, **self._arguments(data))

    def perform_service_update(self, rotation, data):
        return services.rotation_update(rotation=rotation, **self._arguments(data))

    def perform_destroy(self, rotation):
        services.rotation_delete(rotation=rotation)


# --- Shifts and overrides --------------------------------------------------------------------------------


class WindowedMixin:
    """Lists filtered to the rows overlapping ?start=&end= (either may be left out)."""

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


WINDOW_DOC = extend_schema(parameters=[START_PARAM, END_PARAM])


@extend_schema(tags=["shifts"], parameters=[SLUG_PARAM])
class ShiftViewSet(WindowedMixin, TeamChildViewSet):
    """Concrete shifts. A shift created or edited by hand is kept when its rotation regenerates."""

    serializer_class = ShiftSerializer
    filterset_class = api_filters.ShiftFilter

    def get_queryset(self):
        if self.is_schema_view:
            return Shift.objects.none()
        return Shift.objects.filter(team=self.team).select_related("member").order_by("start", "role", "pk")

    @WINDOW_DOC
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_service_create(self, data):
        return services.shift_create(team=self.team, **data)

    def perform_service_update(self, shift, data):
        return services.shift_update(shift=shift, **data)


@extend_schema(tags=["overrides"], parameters=[SLUG_PARAM])
class OverrideViewSet(WindowedMixin, TeamChildViewSet):
    """Overrides: a member covers a role for a while; they beat shifts. Overlaps for one role are refused."""

    serializer_class = OverrideSerializer
    filterset_class = api_filters.OverrideFilter

    def get_queryset(self):
        if self.is_schema_view:
            return Override.objects.none()
        return Override.objects.filter(team=self.team).select_related("member").order_by("start", "role", "pk")

    @WINDOW_DOC
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_service_create(self, data):
        user = self.request.user if getattr(self.request.user, "pk", None) else None
        return services.override_create(team=self.team, created_by=user, **data)

    def perform_service_update(self, override, data):
        return services.override_update(override=override, **data)


# --- Who is on call, the schedule, gaps ------------------------------------------------------------------


@extend_schema(tags=["on call"], parameters=[SLUG_PARAM])
class TeamOnCallView(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_oncall",
        parameters=[AT_PARAM],
        responses=OnCallSerializer,
        summary="Who is on call for the team at an instant, and who is next.",
    )
    def get(self, request, slug: str):
        at = query_instant(request, "at", tz=self.team.tz) or timezone.now()
        roles = selectors.oncall_with_next(team_ids=[self.team.pk], at=at)[self.team.pk]
        return Response(OnCallSerializer(oncall_payload(self.team, at, roles)).data)


def segment_payload(segment, members: dict[int, Member]) -> dict:
    member = members.get(segment.member_id) if segment.member_id is not None else None
    return {"start": segment.start, "end": segment.end, "member": person(member), "source": segment.source}


@extend_schema(tags=["on call"], parameters=[SLUG_PARAM])
class TeamScheduleView(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_schedule",
        parameters=[START_PARAM, END_PARAM],
        responses=ScheduleSerializer,
        summary="The final schedule per role (overrides applied, gaps as segments without a member).",
        description="The window defaults to a week from now and may span at most 366 days.",
    )
    def get(self, request, slug: str):
        start, end = query_window(request, tz=self.team.tz)
        check_schedule_size(team=self.team, start=start, end=end)
        schedule, members = selectors.team_schedule_with_members(team=self.team, start=start, end=end)
        data = {"team": team_ref(self.team), "start": start, "end": end}
        for role, segments in schedule.items():
            data[role] = [segment_payload(segment, members) for segment in segments]
        return Response(ScheduleSerializer(data).data)


@extend_schema(tags=["on call"], parameters=[SLUG_PARAM])
class TeamGapsView(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_gaps",
        parameters=[START_PARAM, END_PARAM],
        responses=GapsSerializer,
        summary="The stretches in which a role has nobody on call.",
        description="The window defaults to a week from now and may span at most 366 days.",
    )
    def get(self, request, slug: str):
        start, end = query_window(request, tz=self.team.tz)
        check_schedule_size(team=self.team, start=start, end=end)
        gaps = selectors.team_gaps(team=self.team, start=start, end=end)
        data = {"team": team_ref(self.team), "start": start, "end": end}
        for role, segments in gaps.items():
            data[role] = [{"start": segment.start, "end": segment.end} for segment in segments]
        return Response(GapsSerializer(data).data)


@extend_schema(tags=["on call"])
class OnCallView(APIView):
    permission_classes = [IsPerson]

    @extend_schema(
        operation_id="oncall_all",
        parameters=[
            OpenApiParameter(
                "at",
                OpenApiTypes.STR,
                description="ISO-8601 instant (default: now). Without an offset it is read in each team's time zone.",
            )
        ],
        responses=OnCallSerializer(many=True),
        summary="Who is on call now in every team you can see, and who is next.",
    )
    def get(self, request):
        teams = list(selectors.teams_visible_to(request.user).order_by("name", "pk"))
        at = query_instant(request, "at", tz=ZoneInfo("UTC")) or timezone.now()
        # "09:00" means 09:00 where each team is: one instant per time zone, one read per distinct zone
        # (never per team), so the query count does not grow with the number of teams.
        instants = {team.timezone: at for team in teams}
        if request.query_params.get("at") and is_naive_query_instant(request.query_params["at"]):
            instants = {zone: query_instant(request, "at", tz=ZoneInfo(zone)) for zone in instants}
        oncall = {}
        for zone, instant in instants.items():
            team_ids = [team.pk for team in teams if team.timezone == zone]
            oncall.update(selectors.oncall_with_next(team_ids=team_ids, at=instant))
        data = [oncall_payload(team, instants[team.timezone], oncall[team.pk]) for team in teams]
        return Response(OnCallSerializer(data, many=True).data)


# --- The schema and its Swagger UI -----------------------------------------------------------------------


class AuthenticateFirstMixin:
    """Check the token before choosing the answer's format: a bad token is a 401 in the error shape whatever
    the Accept header (the Swagger page would otherwise meet it while rendering its template)."""

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        super().initial(request, *args, **kwargs)


class SchemaView(AuthenticateFirstMixin, SpectacularAPIView):
    pass


class SwaggerView(AuthenticateFirstMixin, SpectacularSwaggerView):
    pass


class RedocView(AuthenticateFirstMixin, SpectacularRedocView):
    pass
