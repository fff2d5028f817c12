"""Alerts under /api/v1/teams/{slug}/alerts/: raised by monitors, acknowledged and resolved by people.

Who may do what, through the API's own permission helpers (teams.api_permissions: another team's team or
alert is a 404, a step beyond one's standing a 403):
- a team integration token (scope "alerts"): raise, and resolve by dedupe_key; nothing else;
- a lead of the team or a superuser: everything;
- a member of the team with a login: read, acknowledge and resolve (they are the people on call), not raise.
"""

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from teams import selectors
from teams.api_base import ServiceStep, TeamStandingMixin
from teams.api_pagination import Pagination
from teams.api_permissions import INTEGRATION, LEAD, MEMBER
from teams.authentication import IntegrationPrincipal
from teams.models import Team
from telephony import alerts
from telephony.models import Alert, AlertEvent

SUMMARY_MAX = Alert._meta.get_field("summary").max_length


def _actor(request) -> str:
    return str(request.user) if isinstance(request.user, IntegrationPrincipal) else request.user.get_username()


def _alert_or_404(team: Team, alert_id: int) -> Alert:
    alert = alerts.alert_of_team(team=team, alert_id=alert_id)
    if alert is None:
        raise exceptions.NotFound("No such alert.")
    return alert


DETAILS_MAX = 1_000_000
DETAILS_KEPT = 20_000


class AlertInput(serializers.Serializer):
    summary = serializers.CharField(
        max_length=DETAILS_MAX,
        help_text=f"One line; longer than {SUMMARY_MAX} characters it is cut and kept in details.",
    )
    # A monitor's long output must still page: limits are generous and the details are cut, not refused.
    details = serializers.CharField(required=False, allow_blank=True, default="", max_length=DETAILS_MAX)
    source = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    dedupe_key = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        max_length=200,
        help_text="While an alert with this key is unresolved, raising it again only counts an occurrence.",
    )

    def validate(self, attrs):
        summary = " ".join(attrs["summary"].split())
        if not summary:
            raise serializers.ValidationError({"summary": ["Say what is wrong."]})
        if len(summary) > SUMMARY_MAX:
            # A monitor's long message must still page: keep the whole text in the details.
            attrs["details"] = f"{summary}\n\n{attrs['details']}".strip()
            summary = summary[: SUMMARY_MAX - 3] + "..."
        attrs["summary"] = summary
        attrs["details"] = attrs["details"][:DETAILS_KEPT]
        return attrs


class AlertOutput(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    call = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The call of a `voicemail` or `callback` alert (see calls/)."
    )
    call_sid = serializers.CharField(source="call.call_sid", read_only=True, allow_null=True, default=None)
    caller = serializers.CharField(source="call.from_number", read_only=True, allow_null=True, default=None)
    voicemail = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The voicemail of a `voicemail` alert (see voicemails/)."
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "team",
            "summary",
            "details",
            "source",
            "dedupe_key",
            "call",
            "call_sid",
            "caller",
            "voicemail",
            "state",
            "occurrences",
            "escalation_step",
            "next_escalation_at",
            "pages_held_back",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class AlertEventOutput(serializers.ModelSerializer):
    member = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = AlertEvent
        fields = ["action", "actor", "member", "detail", "created_at"]
        read_only_fields = fields


class AlertDetailOutput(AlertOutput):
    events = AlertEventOutput(many=True, read_only=True)

    class Meta(AlertOutput.Meta):
        fields = [*AlertOutput.Meta.fields, "events"]
        read_only_fields = fields


class AlertListQuery(serializers.Serializer):
    state = serializers.ChoiceField(choices=Alert.State.choices, required=False)


class ResolveByKeyInput(serializers.Serializer):
    dedupe_key = serializers.CharField(max_length=200)


class AlertListCreate(TeamStandingMixin, GenericAPIView):
    standings = {"get": (LEAD, MEMBER), "post": (LEAD, INTEGRATION)}
    pagination_class = Pagination
    serializer_class = AlertOutput
    queryset = Alert.objects.none()  # the schema generator's model hint; the real list is per team

    @extend_schema(
        tags=["alerts"],
        operation_id="alerts_list",
        summary="A team's alerts, newest first",
        parameters=[AlertListQuery],
        responses=AlertOutput(many=True),
    )
    def get(self, request, slug: str):
        team = self.team
        query = AlertListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(alerts.alerts_of_team(team=team, state=query.validated_data.get("state")))
        return self.get_paginated_response(AlertOutput(page, many=True).data)

    @extend_schema(
        tags=["alerts"],
        operation_id="alerts_create",
        summary="Raise an alert: the person on call is paged by SMS at once",
        description=(
            "201 with the new alert. If an unresolved alert of the team has the same dedupe_key, that alert is "
            "answered with 200 and its occurrences counter raised; nobody is paged again."
        ),
        request=AlertInput,
        responses={201: AlertOutput, 200: OpenApiResponse(AlertOutput, description="Folded into an open alert.")},
    )
    def post(self, request, slug: str):
        team = self.team
        data = AlertInput(data=request.data)
        data.is_valid(raise_exception=True)
        alert, created = alerts.alert_raise(team=team, actor=_actor(request), user=request.user, **data.validated_data)
        return Response(AlertOutput(alert).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AlertDetail(TeamStandingMixin, APIView):
    standings = {"get": (LEAD, MEMBER)}

    @extend_schema(
        tags=["alerts"],
        operation_id="alerts_retrieve",
        summary="One alert with its history",
        responses=AlertDetailOutput,
    )
    def get(self, request, slug: str, alert_id: int):
        team = self.team
        alert = _alert_or_404(team, alert_id)
        return Response(AlertDetailOutput(alert).data)


class _AlertTransition(ServiceStep, TeamStandingMixin, APIView):
    """POST …/alerts/{id}/<transition>/: a lead or member of the team moves the alert on through `service`."""

    standings = {"post": (LEAD, MEMBER)}
    step_schema = {"tags": ["alerts"], "responses": AlertOutput}

    def post(self, request, slug: str, alert_id: int):
        team = self.team
        alert = _alert_or_404(team, alert_id)
        member = selectors.member_of_user(user=request.user)  # recorded on the event next to the user
        alert, _ = type(self).service(alert=alert, actor=_actor(request), user=request.user, member=member, via="API")
        return Response(AlertOutput(alert).data)


AlertAcknowledge = _AlertTransition.step(
    "AlertAcknowledge",
    alerts.alert_acknowledge,
    operation_id="alerts_ack",
    summary="Acknowledge: stops the escalation",
    description="Idempotent: an alert already acknowledged or resolved is answered unchanged.",
)
AlertResolve = _AlertTransition.step(
    "AlertResolve",
    alerts.alert_resolve,
    operation_id="alerts_resolve",
    summary="Resolve: closes the alert",
    description="Idempotent: an alert already resolved is answered unchanged.",
)


class AlertResolveByKey(TeamStandingMixin, APIView):
    standings = {"post": (LEAD, MEMBER, INTEGRATION)}

    @extend_schema(
        tags=["alerts"],
        operation_id="alerts_resolve_by_key",
        summary="Resolve the unresolved alert with this dedupe_key (the monitor's recovery)",
        description="404 when no unresolved alert of the team has this dedupe_key.",
        request=ResolveByKeyInput,
        responses=AlertOutput,
    )
    def post(self, request, slug: str):
        team = self.team
        data = ResolveByKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        alert = alerts.alert_resolve_by_key(
            team=team, dedupe_key=data.validated_data["dedupe_key"], actor=_actor(request), user=request.user, via="API"
        )
        if alert is None:
            raise exceptions.NotFound("No unresolved alert of this team has that dedupe_key.")
        return Response(AlertOutput(alert).data)


urlpatterns = [
    path("teams/<slug:slug>/alerts/", AlertListCreate.as_view(), name="alert-list"),
    path("teams/<slug:slug>/alerts/resolve/", AlertResolveByKey.as_view(), name="alert-resolve-by-key"),
    path("teams/<slug:slug>/alerts/<int:alert_id>/", AlertDetail.as_view(), name="alert-detail"),
    path("teams/<slug:slug>/alerts/<int:alert_id>/ack/", AlertAcknowledge.as_view(), name="alert-ack"),
    path("teams/<slug:slug>/alerts/<int:alert_id>/resolve/", AlertResolve.as_view(), name="alert-resolve"),
]
