"""Read-only logs under /api/v1/teams/{slug}/: calls, voicemails and messages (the SMS outbox).

Anyone who can read the team (its members with a login, its leads, superusers) can read its logs.
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.routers import SimpleRouter

from teams.api_base import SLUG_PARAM, TeamRowsMixin
from teams.api_filters import InstantFilter
from telephony import selectors
from telephony.models import Alert, Call, DialAttempt, OutboundMessage, Voicemail

# --- Serializers -----------------------------------------------------------------------------------------


class DialAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DialAttempt
        fields = ["position", "target", "member", "phone", "dial_status", "accepted_at"]


class CallAlertSerializer(serializers.ModelSerializer):
    """The alert a missed caller raised: `voicemail` (they left a message) or `callback` (they asked for one)."""

    class Meta:
        model = Alert
        fields = ["id", "source", "state", "summary", "acknowledged_by", "acknowledged_at"]


class CallSerializer(serializers.ModelSerializer):
    attempts = DialAttemptSerializer(many=True, read_only=True)
    alerts = CallAlertSerializer(many=True, read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "call_sid",
            "from_number",
            "to_number",
            "status",
            "outcome",
            "menu_digit",
            "answered_by",
            "answered_number",
            "duration_seconds",
            "started_at",
            "ended_at",
            "attempts",
            "alerts",
        ]


class VoicemailSerializer(serializers.ModelSerializer):
    call_sid = serializers.CharField(source="call.call_sid", read_only=True, allow_null=True, default=None)
    alert = serializers.IntegerField(
        source="alert.pk", read_only=True, allow_null=True, default=None, help_text="The alert it raised."
    )

    class Meta:
        model = Voicemail
        fields = [
            "id",
            "call_sid",
            "alert",
            "recording_sid",
            "recording_url",
            "duration_seconds",
            "from_number",
            "transcription",
            "transcription_status",
            "created_at",
        ]


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboundMessage
        fields = [
            "id",
            "to",
            "body",
            "kind",
            "status",
            "member",
            "sender",
            "message_sid",
            "error_code",
            "error_message",
            "attempts",
            "created_at",
            "sent_at",
        ]


# --- Filters ---------------------------------------------------------------------------------------------


class CallFilter(filters.FilterSet):
    since = InstantFilter(field_name="started_at", lookup_expr="gte", help_text="Started at or after.")
    until = InstantFilter(field_name="started_at", lookup_expr="lt", help_text="Started before.")

    class Meta:
        model = Call
        fields = ["outcome", "since", "until"]


class VoicemailFilter(filters.FilterSet):
    since = InstantFilter(field_name="created_at", lookup_expr="gte", help_text="Left at or after.")
    until = InstantFilter(field_name="created_at", lookup_expr="lt", help_text="Left before.")

    class Meta:
        model = Voicemail
        fields = ["since", "until"]


class MessageFilter(filters.FilterSet):
    since = InstantFilter(field_name="created_at", lookup_expr="gte", help_text="Queued at or after.")
    until = InstantFilter(field_name="created_at", lookup_expr="lt", help_text="Queued before.")

    class Meta:
        model = OutboundMessage
        fields = ["kind", "status", "since", "until"]


# --- Views -----------------------------------------------------------------------------------------------


@extend_schema(tags=["logs"], parameters=[SLUG_PARAM])
class CallViewSet(TeamRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Inbound calls to the team's numbers, newest first, with each step of their escalation."""

    serializer_class = CallSerializer
    filterset_class = CallFilter
    team_rows = staticmethod(selectors.team_calls)


@extend_schema(tags=["logs"], parameters=[SLUG_PARAM])
class VoicemailViewSet(TeamRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Voicemails left for the team, newest first."""

    serializer_class = VoicemailSerializer
    filterset_class = VoicemailFilter
    team_rows = staticmethod(selectors.team_voicemails)


@extend_schema(tags=["logs"], parameters=[SLUG_PARAM])
class MessageViewSet(TeamRowsMixin, viewsets.ReadOnlyModelViewSet):
    """Text messages sent for the team (reminders, hand-offs, voicemail notices, alerts), newest first."""

    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    team_rows = staticmethod(selectors.team_messages)


TEAM = r"teams/(?P<slug>[-a-zA-Z0-9_]+)"
router = SimpleRouter()
router.register(f"{TEAM}/calls", CallViewSet, basename="team-call")
router.register(f"{TEAM}/voicemails", VoicemailViewSet, basename="team-voicemail")
router.register(f"{TEAM}/messages", MessageViewSet, basename="team-message")

urlpatterns = router.urls
