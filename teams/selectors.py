"""Reads of the rota: who is on call, the schedule of a window, gaps. No N+1: queries per call are fixed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from teams import rota
from teams.models import Member, Override, Role, RotationParticipant, Shift, SupportNumber, Team, TeamMembership

ROLES = (Role.PRIMARY, Role.SECONDARY)
NEXT_LOOKAHEAD = dt.timedelta(days=120)


@dataclass(frozen=True)
class OnCall:
    """Who covers a role at an instant, and the stretch of that cover."""

    role: str
    member: Member | None
    start: dt.datetime | None
    end: dt.datetime | None
    source: str | None


def _assignment(row: Shift | Override, source: str) -> rota.Assignment:
    return rota.Assignment(row.member_id, row.start, row.end, source, row.pk)


def _generated_until() -> dt.datetime:
    """Beat keeps shifts generated this far ahead (less a margin for an hourly run not yet made)."""
    return timezone.now() + dt.timedelta(weeks=settings.SHIFT_HORIZON_WEEKS) - dt.timedelta(days=1)


def _projected_shifts(team_ids: list[int], start: dt.datetime, end: dt.datetime, stored: list[Shift]) -> list[Shift]:
    """Shifts the rotations will generate in [start, end) that are not stored yet (beyond the horizon).

    Unsaved Shift objects (pk None): what the hourly generation will write, so that "who is on call a year
    from now" has an answer. Stored shifts of the same team and role always win. One query.
    """
    now = timezone.now()
    rotations: dict[int, tuple] = {}
    for participant in (
        RotationParticipant.objects.filter(rotation__team_id__in=team_ids)
        .select_related("rotation__team", "member")
        .order_by("rotation_id", "position")
    ):
        rotation = participant.rotation
        rotations.setdefault(rotation.pk, (rotation, []))[1].append(participant.member)
    taken: dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for row in stored:
        taken[(row.team_id, row.role)].append((row.start, row.end))
    projected = []
    for rotation, members in rotations.values():
        by_id = {member.pk: member for member in members}
        planned = rota.generate(
            start_local=rotation.start_local,
            length=rotation.shift_length,
            member_ids=[member.pk for member in members],
            tz=rotation.team.tz,
            window_start=max(start, now),
            window_end=end,
        )
        kept = taken[(rotation.team_id, rotation.role)]
        for plan in planned:
            if any(k_start < plan.end and k_end > plan.start for k_start, k_end in kept):
                continue  # stored rows (generated, edited or hand-made) already decide this stretch
            projected.append(
                Shift(
                    team_id=rotation.team_id,
                    role=rotation.role,
                    member=by_id[plan.member_id],
                    start=plan.start,
                    end=plan.end,
                    rotation_id=rotation.pk,
                )
            )
    return projected


def _rows_overlapping(team_ids: Iterable[int], start: dt.datetime, end: dt.datetime):
    """Shifts and overrides of the teams overlapping [start, end): two queries, members included.

    Past the generated horizon the rotations' future shifts are projected (one more query).
    """
    team_ids = list(team_ids)
    shifts = list(Shift.objects.filter(team_id__in=team_ids, end__gt=start, start__lt=end).select_related("member"))
    overrides = list(
        Override.objects.filter(team_id__in=team_ids, end__gt=start, start__lt=end).select_related("member")
    )
    if end > _generated_until():
        shifts += _projected_shifts(team_ids, start, end, shifts)
    return shifts, overrides


def _group(shifts: list[Shift], overrides: list[Override]):
    """{(team_id, role): ([shift assignments], [override assignments])} and {member_id: Member}."""
    groups: dict[tuple[int, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    members: dict[int, Member] = {}
    for row in shifts:
        groups[(row.team_id, row.role)][0].append(_assignment(row, rota.SHIFT))
        members[row.member_id] = row.member
    for row in overrides:
        groups[(row.team_id, row.role)][1].append(_assignment(row, rota.OVERRIDE))
        members[row.member_id] = row.member
    return groups, members


def schedules_for_teams(
    *, team_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> tuple[dict[tuple[int, str], list[rota.Segment]], dict[int, Member]]:
    """The final schedule per (team, role) over [start, end), in two queries whatever the number of teams."""
    team_ids = list(team_ids)
    groups, members = _group(*_rows_overlapping(team_ids, start, end))
    result = {}
    for team_id in team_ids:
        for role in ROLES:
            shifts, overrides = groups.get((team_id, role), ([], []))
            result[(team_id, role)] = rota.schedule(shifts, overrides, start, end)
    return result, members


def team_schedule(*, team: Team, start: dt.datetime, end: dt.datetime) -> dict[str, list[rota.Segment]]:
    """The final, merged schedule of a team per role."""
    schedules, _ = schedules_for_teams(team_ids=[team.pk], start=start, end=end)
    return {role: schedules[(team.pk, role)] for role in ROLES}


def team_schedule_with_members(*, team: Team, start: dt.datetime, end: dt.datetime):
    schedules, members = schedules_for_teams(team_ids=[team.pk], start=start, end=end)
    return {role: schedules[(team.pk, role)] for role in ROLES}, members


def team_gaps(*, team: Team, start: dt.datetime, end: dt.datetime) -> dict[str, list[rota.Segment]]:
    return {role: rota.gaps(segments) for role, segments in team_schedule(team=team, start=start, end=end).items()}


def oncall_at(*, team: Team, at: dt.datetime) -> dict[str, OnCall]:
    """Who is on call for each role of a team at `at`: two queries on indexed columns.

    The stretch (start, end) is the covering override or shift itself.
    """
    return oncall_at_for_teams(team_ids=[team.pk], at=at)[team.pk]


def oncall_at_for_teams(*, team_ids: Iterable[int], at: dt.datetime) -> dict[int, dict[str, OnCall]]:
    team_ids = list(team_ids)
    shifts = list(Shift.objects.filter(team_id__in=team_ids, end__gt=at, start__lte=at).select_related("member"))
    overrides = Override.objects.filter(team_id__in=team_ids, end__gt=at, start__lte=at).select_related("member")
    if at >= _generated_until():
        shifts += _projected_shifts(team_ids, at, at + dt.timedelta(microseconds=1), shifts)
    groups, members = _group(shifts, list(overrides))
    result: dict[int, dict[str, OnCall]] = {}
    for team_id in team_ids:
        result[team_id] = {}
        for role in ROLES:
            shift_items, override_items = groups.get((team_id, role), ([], []))
            cover = rota.oncall_at(shift_items, override_items, at)
            if cover is None:
                result[team_id][role] = OnCall(role, None, None, None, None)
            else:
                member = members[cover.member_id]
                result[team_id][role] = OnCall(role, member, cover.start, cover.end, cover.source)
    return result


@dataclass(frozen=True)
class OnCallWithNext:
    current: OnCall
    next: OnCall | None


def oncall_with_next(*, team_ids: Iterable[int], at: dt.datetime) -> dict[int, dict[str, OnCallWithNext]]:
    """Who is on call at `at` and who comes next, per team and role, from the merged schedule.

    The current stretch runs from the start of the merged segment to its end (a person's back-to-back
    shifts read as one stretch). Two queries whatever the number of teams.
    """
    team_ids = list(team_ids)
    schedules, members = schedules_for_teams(team_ids=team_ids, start=at, end=at + NEXT_LOOKAHEAD)
    # The stretch may have started before `at`: find its real start from the covering rows.
    covering = oncall_at_for_teams(team_ids=team_ids, at=at) if team_ids else {}
    result: dict[int, dict[str, OnCallWithNext]] = {}
    for team_id in team_ids:
        result[team_id] = {}
        for role in ROLES:
            segments = schedules[(team_id, role)]
            current_segment = rota.segment_at(segments, at)
            now = covering[team_id][role]
            if current_segment is None or current_segment.member_id is None:
                current = OnCall(role, None, None, None, None)
            else:
                end = current_segment.end
                if end >= at + NEXT_LOOKAHEAD and now.end is not None:
                    # The same person beyond the look-ahead: report their current shift's end, not the
                    # window's edge (a one-person rotation is on call shift after shift).
                    end = now.end
                current = OnCall(
                    role,
                    members[current_segment.member_id],
                    now.start or current_segment.start,
                    end,
                    current_segment.source,
                )
            upcoming = rota.next_person(segments, at)
            nxt = None
            if upcoming is not None:
                nxt = OnCall(role, members[upcoming.member_id], upcoming.start, upcoming.end, upcoming.source)
            result[team_id][role] = OnCallWithNext(current, nxt)
    return result


def team_by_support_number(*, phone_number: str) -> Team | None:
    number = SupportNumber.objects.select_related("team").filter(phone_number=phone_number).first()
    return number.team if number else None


def teams_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """Superusers see every team; anyone else the teams they belong to (as lead or member)."""
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__member__user=user).distinct()


def teams_led_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__member__user=user, memberships__role=TeamMembership.Role.LEAD).distinct()


def is_lead(*, user: AbstractBaseUser | AnonymousUser, team: Team) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return TeamMembership.objects.filter(team=team, member__user=user, role=TeamMembership.Role.LEAD).exists()


def team_leads(*, team: Team) -> list[Member]:
    return list(
        Member.objects.filter(memberships__team=team, memberships__role=TeamMembership.Role.LEAD).order_by("pk")
    )


def members_of_teams(team_ids: Iterable[int]) -> QuerySet[Member]:
    return Member.objects.filter(memberships__team_id__in=list(team_ids)).distinct()


def support_numbers_all() -> set[str]:
    return set(SupportNumber.objects.values_list("phone_number", flat=True))
