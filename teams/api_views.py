"""The rota API under /api/v1/: thin views that check access, parse input and call services or selectors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from teams import api_filters, selectors, services
from teams.api_base import (
    AT_PARAM,
    END_PARAM,
    SLUG_PARAM,
    START_PARAM,
    AuthenticateFirstMixin,
    TeamChildViewSet,
    TeamScopedMixin,
    WindowedMixin,
    check_schedule_size,
    is_naive_query_instant,
    query_instant,
    query_window,
)
from teams.api_permissions import IsPerson, require_lead, require_superuser, team_visible_or_404
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
    TimeOffSerializer,
)
from teams.models import (
    Member,
    Team,
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
    """The team's members. Creating one adds a new person to the team, or, when the phone is that of a person
    in another of your teams, adds that person as they are (one person, one phone, several teams); deleting
    one takes them out of the team."""

    serializer_class = MemberSerializer
    filterset_class = api_filters.MemberFilter
    team_rows = staticmethod(selectors.team_members_with_role)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        shared = None

        def shared_beyond_lead() -> set[int]:
            # Members also in a team the user does not lead: read once per request, when a lead asks.
            nonlocal shared
            if shared is None:
                shared = selectors.team_members_outside_led_teams(user=self.request.user, team=self.team)
            return shared

        context["shared_beyond_lead"] = shared_beyond_lead
        return context

    def perform_service_create(self, data):
        known = selectors.member_known_to(user=self.request.user, phone=data["phone"])
        if known is not None:
            return services.member_join(team=self.team, member=known, role=data.get("role", "member"))
        return services.member_create(team=self.team, **data)

    def perform_service_update(self, member, data):
        # A PUT sends every field: only a value that differs from the stored one is a change.
        personal = {key for key, value in data.items() if key != "role" and getattr(member, key) != value}
        if personal and selectors.member_outside_led_teams(user=self.request.user, member=member):
            raise exceptions.PermissionDenied(
                f"{member.name} is also in a team you do not lead: only their role in this team can change here."
            )
        return services.member_update(team=self.team, member=member, **data)

    def perform_service_delete(self, member):
        services.member_remove(team=self.team, member=member)


# --- Support numbers -------------------------------------------------------------------------------------


@extend_schema(tags=["numbers"], parameters=[SLUG_PARAM])
class SupportNumberViewSet(TeamChildViewSet):
    """The team's Twilio numbers."""

    serializer_class = SupportNumberSerializer
    filterset_class = api_filters.SupportNumberFilter
    team_rows = staticmethod(selectors.team_support_numbers)

    def perform_service_create(self, data):
        return services.support_number_create(team=self.team, user=self.request.user, **data)

    def perform_service_update(self, number, data):
        return services.support_number_update(number=number, user=self.request.user, **data)

    def perform_service_delete(self, number):
        services.support_number_delete(number=number)


# --- Rotations -------------------------------------------------------------------------------------------


@extend_schema(tags=["rotations"], parameters=[SLUG_PARAM])
class RotationViewSet(TeamChildViewSet):
    """Rotations (one per role). Creating or changing one (re)generates the future shifts nobody edited."""

    serializer_class = RotationSerializer
    filterset_class = api_filters.RotationFilter
    team_rows = staticmethod(selectors.team_rotations)

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

    def perform_service_delete(self, rotation):
        services.rotation_delete(rotation=rotation)


# --- Shifts and overrides --------------------------------------------------------------------------------


@extend_schema(tags=["shifts"], parameters=[SLUG_PARAM])
class ShiftViewSet(WindowedMixin, TeamChildViewSet):
    """Concrete shifts. A shift created or edited by hand is kept when its rotation regenerates."""

    serializer_class = ShiftSerializer
    filterset_class = api_filters.ShiftFilter
    team_rows = staticmethod(selectors.team_shifts)

    def perform_service_create(self, data):
        return services.shift_create(team=self.team, **data)

    def perform_service_update(self, shift, data):
        return services.shift_update(shift=shift, **data)

    def perform_service_delete(self, shift):
        services.shift_delete(shift=shift)


@extend_schema(tags=["overrides"], parameters=[SLUG_PARAM])
class OverrideViewSet(WindowedMixin, TeamChildViewSet):
    """Overrides: a member covers a role for a while; they beat shifts. Overlaps for one role are refused."""

    serializer_class = OverrideSerializer
    filterset_class = api_filters.OverrideFilter
    team_rows = staticmethod(selectors.team_overrides)

    def perform_service_create(self, data):
        user = self.request.user if getattr(self.request.user, "pk", None) else None
        return services.override_create(team=self.team, created_by=user, **data)

    def perform_service_update(self, override, data):
        return services.override_update(override=override, **data)

    def perform_service_delete(self, override):
        services.override_delete(override=override)


@extend_schema(tags=["time off"], parameters=[SLUG_PARAM])
class TimeOffViewSet(WindowedMixin, TeamChildViewSet):
    """Time off: the person is not rung, reminded or counted on call; their shifts then are gaps (reason
    time_off) unless an override covers them. A member with a login adds and edits their own; a lead anyone's."""

    serializer_class = TimeOffSerializer
    filterset_class = api_filters.TimeOffFilter
    team_rows = staticmethod(selectors.team_time_off)

    def initial(self, request, *args, **kwargs):
        # Not TeamScopedMixin's "writes are for leads": a member writes their own (checked per row below).
        APIView.initial(self, request, *args, **kwargs)
        self.team = team_visible_or_404(user=request.user, slug=kwargs["slug"])

    def _require_own(self, member: Member) -> None:
        """403 unless the user leads the team or `member` is the user themself."""
        if self.is_team_lead:
            return
        if member.user_id is None or member.user_id != self.request.user.pk:
            raise exceptions.PermissionDenied(gettext("Only a lead of this team may change another person's time off."))

    def perform_service_create(self, data):
        self._require_own(data["member"])
        user = self.request.user if getattr(self.request.user, "pk", None) else None
        return services.time_off_create(team=self.team, created_by=user, **data)

    def perform_service_update(self, time_off, data):
        self._require_own(time_off.member)
        self._require_own(data.get("member", time_off.member))
        return services.time_off_update(time_off=time_off, **data)

    def perform_service_delete(self, time_off):
        self._require_own(time_off.member)
        services.time_off_delete(time_off=time_off)


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
    return {
        "start": segment.start,
        "end": segment.end,
        "member": person(member),
        "source": segment.source,
        "reason": segment.reason,
    }


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
            data[role] = [
                {"start": segment.start, "end": segment.end, "reason": segment.reason} for segment in segments
            ]
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


class SchemaView(AuthenticateFirstMixin, SpectacularAPIView):
    pass


class SwaggerView(AuthenticateFirstMixin, SpectacularSwaggerView):
    pass


class RedocView(AuthenticateFirstMixin, SpectacularRedocView):
    pass
