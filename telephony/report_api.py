"""The fairness report under /api/v1/teams/{slug}/report/?start=&end= (JSON, or CSV with ?format=csv)."""

import datetime as dt

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from teams.api_base import END_PARAM, SLUG_PARAM, START_PARAM, TeamScopedMixin, query_window
from telephony import report


class CsvRenderer(renderers.BaseRenderer):
    """The report's rows as CSV (?format=csv, or Accept: text/csv)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "members" in data:
            return report.report_csv(data).encode()
        # An error keeps its JSON shape, whatever format was asked for.
        return renderers.JSONRenderer().render(data)


class RoleHours(serializers.Serializer):
    primary = serializers.FloatField()
    secondary = serializers.FloatField()


class MemberRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MemberLoadOutput(serializers.Serializer):
    member = MemberRef()
    oncall_hours = RoleHours()
    night_hours = serializers.FloatField(help_text="On call 22:00-07:00 in the member's zone.")
    weekend_hours = serializers.FloatField(help_text="On call on Saturdays and Sundays in the member's zone.")
    holiday_hours = serializers.FloatField(help_text="On call on the team's holidays (team zone).")
    calls_answered = serializers.IntegerField()
    voicemails = serializers.IntegerField(help_text="Voicemail notices the member was sent.")
    alerts_acknowledged = serializers.IntegerField()
    pages_received = serializers.IntegerField(help_text="Alert pages the member was sent.")


class GapsOutput(serializers.Serializer):
    oncall_hours = RoleHours(help_text="Hours nobody covered, per role.")


class TeamRefOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()


class ReportOutput(serializers.Serializer):
    team = TeamRefOutput()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    window_hours = serializers.FloatField(help_text="Per role, the members' hours plus the gaps' add up to this.")
    holidays_known = serializers.BooleanField(help_text="False while the team has no holidays field.")
    gaps = GapsOutput()
    members = MemberLoadOutput(many=True)


DEFAULT_WINDOW = dt.timedelta(days=30)
FORMAT_PARAM = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: one row a member.")


class TeamReportView(TeamScopedMixin, APIView):
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CsvRenderer]

    @extend_schema(
        tags=["report"],
        operation_id="team_report",
        parameters=[SLUG_PARAM, START_PARAM, END_PARAM, FORMAT_PARAM],
        responses=ReportOutput,
        summary="Who carried the load: hours on call per role, nights, weekends, holidays, calls and pages.",
        description="The window defaults to the last 30 days and may span at most 366 days.",
    )
    def get(self, request, slug: str):
        if not request.query_params.get("start") and not request.query_params.get("end"):
            end = timezone.now()
            start = end - DEFAULT_WINDOW
        else:
            start, end = query_window(request, tz=self.team.tz)
        payload = report.report_payload(report.team_report(team=self.team, start=start, end=end))
        response = Response(ReportOutput(payload).data)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            response["Content-Disposition"] = f'attachment; filename="{self.team.slug}-report.csv"'
        return response


urlpatterns = [path("teams/<slug:slug>/report/", TeamReportView.as_view(), name="team-report")]
