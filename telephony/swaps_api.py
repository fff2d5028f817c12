"""Shift swaps under /api/v1/teams/{slug}/swaps/: ask, take, approve, decline, cancel.

Who may do what (another team's team or swap is a 404, a step beyond one's standing a 403):
- ask (`{"shift", "reason"?}`): the shift's own person (with a login) or a lead;
- take: a teammate for themself; a lead for anyone (`{"member"}` names the taker);
- approve / decline: a lead; cancel: the asker or a lead, until it is approved.
"""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from teams import selectors
from teams.api_base import ServiceStep, TeamStandingMixin
from teams.api_pagination import Pagination
from teams.api_permissions import LEAD, MEMBER, require_standing
from teams.models import Member, Team
from telephony import swaps
from telephony.models import Swap, SwapEvent


class SwapInput(serializers.Serializer):
    shift = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The id of one future shift.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class TakeInput(serializers.Serializer):
    member = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="The taker, when a lead acts for them."
    )


class PersonOutput(serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = ["id", "name"]


class SwapEventOutput(serializers.ModelSerializer):
    class Meta:
        model = SwapEvent
        fields = ["action", "actor", "via", "created_at"]


class SwapOutput(serializers.ModelSerializer):
    asker = PersonOutput()
    taker = PersonOutput(allow_null=True)
    events = SwapEventOutput(many=True)

    class Meta:
        model = Swap
        fields = [
            "id",
            "shift",
            "role",
            "start",
            "end",
            "asker",
            "taker",
            "reason",
            "state",
            "override",
            "events",
            "created_at",
            "updated_at",
        ]


def _swaps(team: Team):
    return (
        Swap.objects.filter(team=team)
        .select_related("asker", "taker")
        .prefetch_related("events")
        .order_by("-created_at", "-pk")
    )


def _swap_or_404(team: Team, swap_id: int) -> Swap:
    swap = _swaps(team).filter(pk=swap_id).first()
    if swap is None:
        raise exceptions.NotFound("No such swap.")
    return swap


def _own_member(request) -> Member | None:
    return selectors.member_of_user(user=request.user)


def _output(team: Team, swap: Swap) -> dict:
    return SwapOutput(_swap_or_404(team, swap.pk)).data


class SwapListCreate(TeamStandingMixin, GenericAPIView):
    standings = {"get": (LEAD, MEMBER), "post": (LEAD, MEMBER)}
    pagination_class = Pagination
    serializer_class = SwapOutput
    queryset = Swap.objects.none()

    @extend_schema(
        tags=["swaps"],
        operation_id="swaps_list",
        summary="The team's shift swaps, newest first",
        responses=SwapOutput(many=True),
    )
    def get(self, request, slug: str):
        team = self.team
        page = self.paginate_queryset(_swaps(team))
        return self.get_paginated_response(SwapOutput(page, many=True).data)

    @extend_schema(
        tags=["swaps"],
        operation_id="swaps_create",
        summary="Ask for cover of one future shift: its rotation's teammates get an SMS offer",
        request=SwapInput,
        responses={201: SwapOutput},
    )
    def post(self, request, slug: str):
        team, standing = self.team, self.standing
        data = SwapInput(data=request.data)
        data.is_valid(raise_exception=True)
        shift = selectors.team_shift(team=team, shift_id=data.validated_data["shift"])
        if shift is None:
            raise exceptions.ValidationError({"shift": ["No such shift in this team."]})
        own = _own_member(request)
        if standing != LEAD and (own is None or own.pk != shift.member_id):
            raise exceptions.PermissionDenied("Only the shift's own person or a lead of the team may ask for a swap.")
        swap = swaps.swap_request(
            shift=shift, actor=swaps.Actor.of_user(request.user, via="API"), reason=data.validated_data["reason"]
        )
        return Response(_output(team, swap), status=status.HTTP_201_CREATED)


class SwapDetail(TeamStandingMixin, APIView):
    standings = {"get": (LEAD, MEMBER)}

    @extend_schema(
        tags=["swaps"], operation_id="swaps_retrieve", summary="One swap with its history", responses=SwapOutput
    )
    def get(self, request, slug: str, id: int):
        team = self.team
        return Response(SwapOutput(_swap_or_404(team, id)).data)


class SwapTake(TeamStandingMixin, APIView):
    standings = {"post": (LEAD, MEMBER)}

    @extend_schema(
        tags=["swaps"],
        operation_id="swaps_take",
        summary="Take the swap: the first teammate wins (a lead may name the taker)",
        request=TakeInput,
        responses=SwapOutput,
    )
    def post(self, request, slug: str, id: int):
        team, standing = self.team, self.standing
        swap = _swap_or_404(team, id)
        data = TakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        own = _own_member(request)
        member_id = data.validated_data.get("member")
        if member_id is not None and (own is None or member_id != own.pk):
            require_standing(standing, (LEAD,))
            taker = selectors.team_member(team=team, member_id=member_id)
            if taker is None:
                raise exceptions.ValidationError({"member": [f"Member {member_id} is not a member of this team."]})
        elif own is not None:
            taker = own
        else:
            raise exceptions.ValidationError({"member": ["Name the member who takes the swap."]})
        swap = swaps.swap_take(swap=swap, taker=taker, actor=swaps.Actor.of_user(request.user, via="API"))
        return Response(_output(team, swap))


class _LeadStep(ServiceStep, TeamStandingMixin, APIView):
    """POST …/swaps/{id}/<step>/ by a lead of the team."""

    standings = {"post": (LEAD,)}
    step_schema = {"tags": ["swaps"], "responses": SwapOutput}

    def post(self, request, slug: str, id: int):
        team = self.team
        swap = _swap_or_404(team, id)
        swap = type(self).service(swap=swap, actor=swaps.Actor.of_user(request.user, via="API"))
        return Response(_output(team, swap))


SwapApprove = _LeadStep.step(
    "SwapApprove",
    swaps.swap_approve,
    operation_id="swaps_approve",
    summary="Approve a taken swap: the taker gets an override over the shift",
)
SwapDecline = _LeadStep.step(
    "SwapDecline",
    swaps.swap_decline,
    operation_id="swaps_decline",
    summary="Decline a taken swap: the asker keeps the shift",
)


class SwapCancel(TeamStandingMixin, APIView):
    standings = {"post": (LEAD, MEMBER)}

    @extend_schema(
        tags=["swaps"],
        operation_id="swaps_cancel",
        summary="Cancel the swap (its asker or a lead), until it is approved",
        request=None,
        responses=SwapOutput,
    )
    def post(self, request, slug: str, id: int):
        team, standing = self.team, self.standing
        swap = _swap_or_404(team, id)
        own = _own_member(request)
        if standing != LEAD and (own is None or own.pk != swap.asker_id):
            raise exceptions.PermissionDenied("Only the asker or a lead of the team may cancel this swap.")
        swap = swaps.swap_cancel(swap=swap, actor=swaps.Actor.of_user(request.user, via="API"))
        return Response(_output(team, swap))


urlpatterns = [
    path("teams/<slug:slug>/swaps/", SwapListCreate.as_view(), name="swap-list"),
    path("teams/<slug:slug>/swaps/<int:id>/", SwapDetail.as_view(), name="swap-detail"),
    path("teams/<slug:slug>/swaps/<int:id>/take/", SwapTake.as_view(), name="swap-take"),
    path("teams/<slug:slug>/swaps/<int:id>/approve/", SwapApprove.as_view(), name="swap-approve"),
    path("teams/<slug:slug>/swaps/<int:id>/decline/", SwapDecline.as_view(), name="swap-decline"),
    path("teams/<slug:slug>/swaps/<int:id>/cancel/", SwapCancel.as_view(), name="swap-cancel"),
]
