"""Reads of the rota: who is on call, the schedule of a window, gaps. No N+1: queries per call are fixed."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, models
from django.db.models import Exists, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.utils import timezone
from django.utils.translation import gettext

from teams import rota
from teams.models import (
    ApiToken,
    Member,
    Override,
    Role,
    Rotation,
    RotationParticipant,
    Shift,
    SupportNumber,
    Team,
    TeamMembership,
    TimeOff,
    token_hash,
)

ROLES = (Role.PRIMARY, Role.SECONDARY)
NEXT_LOOKAHEAD = dt.timedelta(days=120)
# How far back oncall_with_next looks for the start of the current stretch.
NEXT_LOOKBACK = dt.timedelta(days=35)


@dataclass(frozen=True)
class OnCall:
    """Who covers a role at an instant, and the stretch of that cover."""

    role: str
    member: Member | None
    start: dt.datetime | None
    end: dt.datetime | None
    source: str | None
    # rota.TIME_OFF when nobody covers because the shift's person is away (then absent is that person).
    reason: str | None = None
    absent: Member | None = None


def _assignment(row: Shift | Override, source: str) -> rota.Assignment:
    return rota.Assignment(row.member_id, row.start, row.end, source, row.pk)


def _generated_until() -> dt.datetime:
    """Beat keeps shifts generated this far ahead (less a margin for an hourly run not yet made).

    Before this instant the stored rows are the whole truth (a hole is a gap); from it on, what the
    rotations will generate is projected around the stored rows. Every read uses this one cut-off, so "who
    is on call at T" and the schedule of any window containing T always agree.
    """
    return timezone.now() + dt.timedelta(weeks=settings.SHIFT_HORIZON_WEEKS) - dt.timedelta(days=1)


def rows_are_the_whole_truth(at: dt.datetime) -> bool:
    """Whether who is on call at `at` is read from the stored rows alone (before the projection starts)."""
    return at < _generated_until()


def _rotations(team_ids: list[int], *, away_between: tuple[dt.datetime, dt.datetime] | None = None) -> list[tuple]:
    """[(rotation, [members in order])] of the teams: one query. With `away_between` (start, end), each
    member says whether they have time off in the team then (member.is_away, a subquery of that query)."""
    participants = RotationParticipant.objects.filter(rotation__team_id__in=team_ids)
    if away_between is not None:
        participants = participants.annotate(
            is_away=Exists(
                TimeOff.objects.filter(
                    team_id=OuterRef("rotation__team_id"),
                    member_id=OuterRef("member_id"),
                    start__lt=away_between[1],
                    end__gt=away_between[0],
                )
            )
        )
    rotations: dict[int, tuple] = {}
    for participant in participants.select_related("rotation__team", "member").order_by("rotation_id", "position"):
        rotation = participant.rotation
        if away_between is not None:
            participant.member.is_away = participant.is_away
        rotations.setdefault(rotation.pk, (rotation, []))[1].append(participant.member)
    return list(rotations.values())


def _planned(rotation, members, start: dt.datetime, end: dt.datetime) -> list[rota.PlannedShift]:
    return rota.generate(
        start_local=rotation.start_local,
        length=rotation.shift_length,
        member_ids=[member.pk for member in members],
        tz=rotation.team.tz,
        window_start=start,
        window_end=end,
    )


def _plans(rotations: list[tuple], start: dt.datetime, end: dt.datetime, since: dt.datetime) -> list[tuple]:
    """[(rotation, members, planned shifts overlapping [max(start, since), end))]."""
    return [(rotation, members, _planned(rotation, members, max(start, since), end)) for rotation, members in rotations]


def _plans_span(plans: list[tuple], start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) widened to the planned shifts: the stored rows to read to trim the projections."""
    for _, _, planned in plans:
        if planned:
            start, end = min(start, planned[0].start), max(end, planned[-1].end)
    return start, end


def _projected_shifts(plans: list[tuple], stored: list[Shift], since: dt.datetime) -> list[Shift]:
    """The planned shifts (from _plans) from `since` on that are not stored yet.

    Unsaved Shift objects (pk None): what the hourly generation will write, so that "who is on call a year
    from now" has an answer. As the generation does, a planned shift is trimmed around the stored rows of
    its team and role (generated, edited or hand-made: they win), so a hand-made shift beyond the horizon
    takes its hours out of the planned shift and leaves the rest covered. `stored` must hold every row
    overlapping the planned shifts that reach into the window.
    """
    taken: dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for row in stored:
        if row.pk is not None:
            taken[(row.team_id, row.role)].append((row.start, row.end))
    projected = []
    for rotation, members, planned in plans:
        by_id = {member.pk: member for member in members}
        kept = sorted(taken[(rotation.team_id, rotation.role)])
        for plan in planned:
            for piece_start, piece_end in rota.subtract(max(plan.start, since), plan.end, kept):
                projected.append(
                    Shift(
                        team_id=rotation.team_id,
                        role=rotation.role,
                        member=by_id[plan.member_id],
                        start=piece_start,
                        end=piece_end,
                        rotation_id=rotation.pk,
                    )
                )
    return projected


def _away_during_shift() -> Exists:
    """True for a shift whose person has time off in its team during some of it (a subquery, no query)."""
    return Exists(
        TimeOff.objects.filter(
            team_id=OuterRef("team_id"),
            member_id=OuterRef("member_id"),
            start__lt=OuterRef("end"),
            end__gt=OuterRef("start"),
        )
    )


def _rows_overlapping(team_ids: Iterable[int], start: dt.datetime, end: dt.datetime):
    """Shifts, overrides and time off of the teams overlapping [start, end): one query, members included
    (a round trip counts on every webhook: an SMS WHO reads the member, the rotations and these).

    Past the generated horizon the rotations' future shifts are projected (one more query, first). The
    stored rows are then read over the whole of the planned shifts that reach into the window, so a
    projection is trimmed exactly as the generation will trim it.
    """
    team_ids = list(team_ids)
    since = _generated_until()
    plans = _plans(_rotations(team_ids, away_between=(start, end)), start, end, since) if end > since else []
    lo, hi = _plans_span(plans, start, end)
    shifts, overrides, time_off = _stored_rows(team_ids, (start, end), (lo, hi))
    if plans:
        shifts += _projected_shifts(plans, shifts, since)
    return shifts, overrides, time_off


# The columns of _stored_rows' three kinds of row, one statement: the row's own, then its person's.
_ROW_COLUMNS = ("row_kind", "row_id", "row_team", "row_role", "row_member", "row_start", "row_end", "row_rotation",
                "row_edited", "row_away")  # fmt: skip
_SHIFT, _OVERRIDE, _TIME_OFF = "shift", "override", "time_off"


def _person_columns(prefix: str | None) -> dict:
    """Every column of the row's Member (`prefix` the path to it), or typed NULLs for a row without one."""
    return {
        f"person_{field.attname}": F(f"{prefix}{field.attname}") if prefix is not None else Value(None, field)
        for field in Member._meta.concrete_fields
    }


def _stored_rows(team_ids: list[int], window: tuple, span: tuple) -> tuple[list[Shift], list[Override], list[TimeOff]]:
    """The shifts over `span` (each with its member and has_time_off), the overrides over `window` (with
    their member) and the time off over `span` of the teams: one statement, a UNION ALL of the three."""
    (start, end), (lo, hi) = window, span
    nothing, no = Value(None, models.IntegerField()), Value(False)
    people = _person_columns("member__")
    shifts = Shift.objects.filter(team_id__in=team_ids, end__gt=lo, start__lt=hi).annotate(
        row_kind=Value(_SHIFT), row_id=F("pk"), row_team=F("team_id"), row_role=F("role"),
        row_member=F("member_id"), row_start=F("start"), row_end=F("end"), row_rotation=F("rotation_id"),
        row_edited=F("is_edited"), row_away=_away_during_shift(), **people,
    )  # fmt: skip
    overrides = Override.objects.filter(team_id__in=team_ids, end__gt=start, start__lt=end).annotate(
        row_kind=Value(_OVERRIDE), row_id=F("pk"), row_team=F("team_id"), row_role=F("role"),
        row_member=F("member_id"), row_start=F("start"), row_end=F("end"), row_rotation=nothing,
        row_edited=no, row_away=no, **people,
    )  # fmt: skip
    away = TimeOff.objects.filter(team_id__in=team_ids, end__gt=lo, start__lt=hi).annotate(
        row_kind=Value(_TIME_OFF), row_id=F("pk"), row_team=F("team_id"), row_role=Value(""),
        row_member=F("member_id"), row_start=F("start"), row_end=F("end"), row_rotation=nothing,
        row_edited=no, row_away=no, **_person_columns(None),
    )  # fmt: skip
    names = [*_ROW_COLUMNS, *people]
    # Unordered parts (SQLite allows no ORDER BY in them); the rows are sorted below.
    rows = (
        shifts.order_by()
        .values_list(*names)
        .union(overrides.order_by().values_list(*names), away.order_by().values_list(*names), all=True)
    )
    person_fields = [field.attname for field in Member._meta.concrete_fields]
    members: dict[int, Member] = {}
    found: dict[str, list] = {_SHIFT: [], _OVERRIDE: [], _TIME_OFF: []}
    for kind, pk, team_id, role, member_id, row_start, row_end, rotation_id, is_edited, has_away, *person in rows:
        if kind == _TIME_OFF:
            found[kind].append(TimeOff(pk=pk, team_id=team_id, member_id=member_id, start=row_start, end=row_end))
            continue
        member = members.get(member_id)
        if member is None:
            member = members[member_id] = Member.from_db(connection.alias, person_fields, person)
        fields = {"pk": pk, "team_id": team_id, "role": role, "member": member, "start": row_start, "end": row_end}
        if kind == _SHIFT:
            row = Shift(**fields, rotation_id=rotation_id, is_edited=is_edited)
            row.has_time_off = has_away
        else:
            row = Override(**fields)
        row._state.adding, row._state.db = False, connection.alias
        found[kind].append(row)
    for rows_of_kind in found.values():
        rows_of_kind.sort(key=lambda row: (row.start, row.pk))
    return found[_SHIFT], found[_OVERRIDE], found[_TIME_OFF]


def _group(shifts: list[Shift], overrides: list[Override], time_off: Iterable[TimeOff] = ()):
    """{(team_id, role): ([shift assignments], [override assignments])}, {member_id: Member} and
    {team_id: [time off assignments]}."""
    groups: dict[tuple[int, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    members: dict[int, Member] = {}
    for row in shifts:
        groups[(row.team_id, row.role)][0].append(_assignment(row, rota.SHIFT))
        members[row.member_id] = row.member
    for row in overrides:
        groups[(row.team_id, row.role)][1].append(_assignment(row, rota.OVERRIDE))
        members[row.member_id] = row.member
    away: dict[int, list[rota.Assignment]] = defaultdict(list)
    for row in time_off:
        away[row.team_id].append(rota.Assignment(row.member_id, row.start, row.end, rota.TIME_OFF, row.pk))
    return groups, members, away


def _per_role(team_ids: Iterable[int], groups, away):
    """(team_id, role, shift assignments, override assignments, the team's time off) for every role of the
    teams, from `_group`'s result."""
    for team_id in team_ids:
        for role in ROLES:
            shifts, overrides = groups.get((team_id, role), ([], []))
            yield team_id, role, shifts, overrides, away.get(team_id, ())


def schedules_for_teams(
    *, team_ids: Iterable[int], start: dt.datetime, end: dt.datetime
) -> tuple[dict[tuple[int, str], list[rota.Segment]], dict[int, Member]]:
    """The final schedule per (team, role) over [start, end), in two queries whatever the number of teams."""
    team_ids = list(team_ids)
    groups, members, away = _group(*_rows_overlapping(team_ids, start, end))
    result = {}
    for team_id, role, shifts, overrides, team_away in _per_role(team_ids, groups, away):
        result[(team_id, role)] = rota.schedule(shifts, overrides, start, end, team_away)
    return result, members


def team_schedule(*, team: Team, start: dt.datetime, end: dt.datetime) -> dict[str, list[rota.Segment]]:
    """The final, merged schedule of a team per role."""
    schedules, _ = schedules_for_teams(team_ids=[team.pk], start=start, end=end)
    return {role: schedules[(team.pk, role)] for role in ROLES}


def team_schedule_with_members(*, team: Team, start: dt.datetime, end: dt.datetime):
    schedules, members = schedules_for_teams(team_ids=[team.pk], start=start, end=end)
    return {role: schedules[(team.pk, role)] for role in ROLES}, members


def rotations_handoffs_in(*, team: Team, start: dt.datetime, end: dt.datetime) -> list[tuple[Rotation, int]]:
    """Each rotation of the team with (an upper bound of) its hand-offs in [start, end): one query, no
    projection, so a window too large to compute is refused before it is computed."""
    window = end - start
    return [(rotation, window // rotation.shift_length + 2) for rotation in Rotation.objects.filter(team=team)]


def team_gaps(*, team: Team, start: dt.datetime, end: dt.datetime) -> dict[str, list[rota.Segment]]:
    return {role: rota.gaps(segments) for role, segments in team_schedule(team=team, start=start, end=end).items()}


def oncall_at(*, team: Team, at: dt.datetime) -> dict[str, OnCall]:
    """Who is on call for each role of a team at `at`: two queries on indexed columns.

    The stretch (start, end) is the covering override or shift itself. A shift whose person is on time off
    at `at` covers nothing: the role reads nobody, with reason rota.TIME_OFF and the absent person (the
    shift query itself says so: no query more).
    """
    return oncall_at_for_teams(team_ids=[team.pk], at=at)[team.pk]


def oncall_at_for_teams(*, team_ids: Iterable[int], at: dt.datetime) -> dict[int, dict[str, OnCall]]:
    """Who covers each role of the teams at `at`: the covering override or shift row (its start and end).

    Two queries on indexed columns; three past the generated horizon, where the rotations are projected.
    """
    team_ids = list(team_ids)
    since = _generated_until()
    instant = at + dt.timedelta(microseconds=1)
    away_now = Exists(
        TimeOff.objects.filter(team_id=OuterRef("team_id"), member_id=OuterRef("member_id"), start__lte=at, end__gt=at)
    )
    if at >= since:
        plans = _plans(_rotations(team_ids, away_between=(at, instant)), at, instant, since)
        lo, hi = _plans_span(plans, at, instant)
        shifts = list(
            Shift.objects.filter(team_id__in=team_ids, end__gt=lo, start__lt=hi)
            .annotate(is_away=away_now)
            .select_related("member")
        )
        projected = _projected_shifts(plans, shifts, since)
        for row in projected:
            row.is_away = row.member.is_away
        shifts += projected
    else:
        shifts = list(
            Shift.objects.filter(team_id__in=team_ids, end__gt=at, start__lte=at)
            .annotate(is_away=away_now)
            .select_related("member")
        )
    overrides = Override.objects.filter(team_id__in=team_ids, end__gt=at, start__lte=at).select_related("member")
    return oncall_from_rows(team_ids=team_ids, shifts=shifts, overrides=list(overrides), at=at)


def oncall_from_rows(*, team_ids: Iterable[int], shifts: list, overrides: list, at: dt.datetime):
    """Who covers each role of the teams at `at`, from rows already read: the shifts covering `at` (each
    with `is_away`: its person has time off then) and the overrides covering it. No query.

    Rows are Shift and Override objects or anything with their attributes (pk, team_id, role, member_id,
    member, start, end): the incoming call reads them in its one statement (telephony.incoming_sql).
    """
    instant = at + dt.timedelta(microseconds=1)
    # The time off that matters here is the one at `at`: an instant's worth stands for it.
    time_off = [
        TimeOff(team_id=row.team_id, member_id=row.member_id, start=at, end=instant) for row in shifts if row.is_away
    ]
    team_ids = list(team_ids)
    groups, members, away_by_team = _group(shifts, overrides, time_off)
    result: dict[int, dict[str, OnCall]] = {team_id: {} for team_id in team_ids}
    for team_id, role, shift_items, override_items, away in _per_role(team_ids, groups, away_by_team):
        cover = rota.oncall_at(shift_items, override_items, at, away)
        if cover is not None:
            result[team_id][role] = OnCall(role, members[cover.member_id], cover.start, cover.end, cover.source)
            continue
        absence = rota.shift_absence_at(shift_items, at, away)
        if absence is None:
            result[team_id][role] = OnCall(role, None, None, None, None)
        else:
            result[team_id][role] = OnCall(role, None, None, None, None, rota.TIME_OFF, members[absence.member_id])
    return result


@dataclass(frozen=True)
class OnCallWithNext:
    current: OnCall
    next: OnCall | None


def oncall_with_next(*, team_ids: Iterable[int], at: dt.datetime) -> dict[int, dict[str, OnCallWithNext]]:
    """Who is on call at `at` and who comes next, per team and role, from the merged schedule.

    The current entry is the person's whole stretch on call: start is when they took over, end when they
    hand over (back-to-back shifts, or an override and a shift of the same person, read as one stretch), so
    current.end is next.start whenever nobody is missing in between. A stretch reaching past the look-back
    or the look-ahead is reported on that side as the row covering `at` (a one-person rotation is on call
    shift after shift). Next is the first person on call after the stretch: someone else, or the same
    person after a gap. Three queries whatever the number of teams.
    """
    team_ids = list(team_ids)
    window_start, window_end = at - NEXT_LOOKBACK, at + NEXT_LOOKAHEAD
    groups, members, away_by_team = _group(*_rows_overlapping(team_ids, window_start, window_end))
    result: dict[int, dict[str, OnCallWithNext]] = {team_id: {} for team_id in team_ids}
    for team_id, role, shift_items, override_items, away in _per_role(team_ids, groups, away_by_team):
        segments = rota.schedule(shift_items, override_items, window_start, window_end, away)
        stretch = rota.stretch_at(segments, at)
        if stretch is None:
            gap = rota.segment_at(segments, at)
            if gap is not None and gap.reason == rota.TIME_OFF:
                current = OnCall(role, None, None, None, None, rota.TIME_OFF, members.get(gap.absent_member_id))
            else:
                current = OnCall(role, None, None, None, None)
        else:
            row = rota.oncall_at(shift_items, override_items, at, away)
            start = row.start if stretch.start <= window_start else stretch.start
            end = row.end if stretch.end >= window_end else stretch.end
            current = OnCall(role, members[stretch.member_id], start, end, stretch.source)
        upcoming = rota.next_person(segments, at)
        nxt = None
        if upcoming is not None:
            end = upcoming.end
            if end >= window_end:
                end = rota.oncall_at(shift_items, override_items, upcoming.start, away).end
            nxt = OnCall(role, members[upcoming.member_id], upcoming.start, end, upcoming.source)
        result[team_id][role] = OnCallWithNext(current, nxt)
    return result


def time_off_between(*, team_ids: Iterable[int], start: dt.datetime, end: dt.datetime) -> list[TimeOff]:
    """The time off of the teams overlapping [start, end), members included: one query."""
    return list(
        TimeOff.objects.filter(team_id__in=list(team_ids), end__gt=start, start__lt=end)
        .select_related("member", "team")
        .order_by("start", "pk")
    )


# How far back "who carried the least" looks when a gap needs a cover.
COVER_LOOKBACK = dt.timedelta(days=30)


def cover_suggestions(
    *, team_id: int, gaps: list[rota.Segment], now: dt.datetime
) -> dict[tuple[dt.datetime, dt.datetime], Member | None]:
    """For each gap of a team: the teammate with the fewest hours on call (any role) in the last 30 days who
    is free for the whole gap (not away, not on call in either role, not the person whose time off made it).
    None when nobody is. A fixed handful of queries for all the gaps of the team."""
    if not gaps:
        return {}
    end = max(gap.end for gap in gaps)
    schedules, _ = schedules_for_teams(
        team_ids=[team_id], start=min(now - COVER_LOOKBACK, *(g.start for g in gaps)), end=end
    )
    hours: dict[int, float] = defaultdict(float)
    for segments in schedules.values():
        for segment in segments:
            if segment.member_id is None or segment.start >= now:
                continue
            span = min(segment.end, now) - max(segment.start, now - COVER_LOOKBACK)
            if span > dt.timedelta(0):
                hours[segment.member_id] += span / dt.timedelta(hours=1)
    away = time_off_between(team_ids=[team_id], start=min(g.start for g in gaps), end=end)
    teammates = list(Member.objects.filter(memberships__team_id=team_id).order_by("name", "pk"))
    suggestions: dict[tuple[dt.datetime, dt.datetime], Member | None] = {}
    for gap in gaps:
        busy = {gap.absent_member_id}
        busy.update(row.member_id for row in away if row.start < gap.end and row.end > gap.start)
        for segments in schedules.values():
            busy.update(s.member_id for s in segments if s.member_id and s.start < gap.end and s.end > gap.start)
        free = [member for member in teammates if member.pk not in busy]
        suggestions[(gap.start, gap.end)] = min(free, key=lambda m: hours[m.pk], default=None)
    return suggestions


def support_numbers_among(*, phones: Iterable[str]) -> set[str]:
    """Which of these phones are our own support numbers: one query on the unique column."""
    phones = {phone for phone in phones if phone}
    if not phones:
        return set()
    return set(SupportNumber.objects.filter(phone_number__in=phones).values_list("phone_number", flat=True))


def team_by_support_number(*, phone_number: str) -> Team | None:
    number = SupportNumber.objects.select_related("team").filter(phone_number=phone_number).first()
    return number.team if number else None


def support_numbers(*, phone_numbers: Iterable[str] | None = None) -> QuerySet[SupportNumber]:
    """Every support number (only these, when given) with its team, by number."""
    numbers = SupportNumber.objects.select_related("team").order_by("phone_number")
    return numbers if phone_numbers is None else numbers.filter(phone_number__in=list(phone_numbers))


def team_by_slug(*, slug: str) -> Team | None:
    return Team.objects.filter(slug=slug).first()


def teams_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    """Superusers see every team; anyone else the teams they belong to (as lead or member)."""
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__member__user=user).distinct()


def menu_problem(*, menu: list, user: AbstractBaseUser | AnonymousUser | None) -> str | None:
    """Why a number's menu cannot be saved by `user`, or None: every team it names must exist and be one
    the user may change (a lead's own teams; None is a script or the shell, which may name any team)."""
    slugs = [entry["team"] for entry in menu or () if isinstance(entry, dict) and isinstance(entry.get("team"), str)]
    if not slugs:
        return None
    teams = Team.objects.filter(slug__in=slugs) if user is None else teams_led_by(user).filter(slug__in=slugs)
    known = set(teams.values_list("slug", flat=True))
    unknown = [slug for slug in slugs if slug not in known]
    if unknown:
        return gettext("No team you may change is called %(teams)s.") % {"teams": ", ".join(unknown)}
    return None


def teams_led_by(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(memberships__member__user=user, memberships__role=TeamMembership.Role.LEAD).distinct()


def team_led_by(*, user: AbstractBaseUser | AnonymousUser, slug: str) -> Team | None:
    """The team `slug` if the user leads it (a superuser: any team)."""
    return teams_led_by(user).filter(slug=slug).first()


def is_lead(*, user: AbstractBaseUser | AnonymousUser, team: Team) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return TeamMembership.objects.filter(team=team, member__user=user, role=TeamMembership.Role.LEAD).exists()


def member_known_to(*, user: AbstractBaseUser | AnonymousUser, phone: str) -> Member | None:
    """The person with this phone when `user` already sees them (a member of one of the user's teams; any
    person for a superuser), else None."""
    people = Member.objects.filter(phone=phone)
    if not user.is_superuser:
        people = people.filter(memberships__team__in=teams_visible_to(user))
    return people.first()


def team_members_outside_led_teams(*, user: AbstractBaseUser | AnonymousUser, team: Team) -> set[int]:
    """The ids of the team's members who also belong to a team the user does not lead (one query; none for a
    superuser): their personal feed and details are not the user's."""
    if user.is_superuser:
        return set()
    shared = TeamMembership.objects.filter(member__memberships__team=team).exclude(team__in=teams_led_by(user))
    return set(shared.values_list("member_id", flat=True))


def member_outside_led_teams(*, user: AbstractBaseUser | AnonymousUser, member: Member) -> bool:
    """True when the member also belongs to a team the user does not lead (their details are not the
    user's to change: a new phone would reroute that other team's calls and alert replies)."""
    if user.is_superuser:
        return False
    return TeamMembership.objects.filter(member=member).exclude(team__in=teams_led_by(user)).exists()


def team_leads(*, team: Team) -> list[Member]:
    return list(
        Member.objects.filter(memberships__team=team, memberships__role=TeamMembership.Role.LEAD).order_by("pk")
    )


def members_of_teams(team_ids: Iterable[int]) -> QuerySet[Member]:
    return Member.objects.filter(memberships__team_id__in=list(team_ids)).distinct()


def members_among(*, member_ids: Iterable[int] | QuerySet, exclude_member_id: int | None = None) -> list[Member]:
    """The members whose ids are in `member_ids` (a subquery keeps it one query) but one, by id."""
    members = Member.objects.filter(pk__in=member_ids).order_by("pk")
    return list(members if exclude_member_id is None else members.exclude(pk=exclude_member_id))


def member_by_id(*, member_id: int) -> Member | None:
    """The member, or None; an id past the database's integer range (a URL can carry any digits) finds none."""
    return Member.objects.filter(pk=member_id).first()


def member_by_phone(*, phone: str) -> Member | None:
    return Member.objects.filter(phone=phone).first()


def member_of_user(*, user) -> Member | None:
    """The member linked to a login, or None (anonymous, a team's integration token, a user who is no member)."""
    return getattr(user, "member", None)


def member_with_teams_by_phone(*, phone: str, texted: str = "") -> tuple[Member | None, list[Team], Team | None]:
    """The member texting from `phone` (the first by id: a phone may be shared), their teams by name, and
    which of them owns the number `texted` (None if none does), in one query (a second only for a member in
    no team)."""
    if not phone:
        return None, [], None
    first = Member.objects.filter(phone=phone).order_by("pk").values("pk")[:1]
    memberships = list(
        TeamMembership.objects.filter(member_id=Subquery(first))
        .annotate(texted=Exists(SupportNumber.objects.filter(team_id=OuterRef("team_id"), phone_number=texted)))
        .select_related("member", "team")
        .order_by("team__name", "team_id")
    )
    if memberships:
        texted_team = next((membership.team for membership in memberships if membership.texted), None)
        return memberships[0].member, [membership.team for membership in memberships], texted_team
    return Member.objects.filter(phone=phone).order_by("pk").first(), [], None


def phone_is_opted_out(*, phone: str) -> bool:
    """Whether someone with this phone has opted out of SMS (STOP)."""
    return Member.objects.filter(phone=phone, sms_opted_out_at__isnull=False).exists()


def api_token_by_key(*, key: str) -> ApiToken | None:
    """The unrevoked API token with this key, with its user and team."""
    return (
        ApiToken.objects.select_related("user", "team")
        .filter(key_hash=token_hash(key), revoked_at__isnull=True)
        .first()
    )


def team_member(*, team: Team, member_id: int) -> Member | None:
    """The member `member_id` if they belong to `team`."""
    return Member.objects.filter(pk=member_id, memberships__team=team).first()


# --- A team's rows, as the API lists them (querysets: the API filters and pages them) ----------------------


def team_members_with_role(*, team: Team) -> QuerySet[Member]:
    """The team's members by name, each with `role`: their role in this team."""
    role = TeamMembership.objects.filter(team=team, member=OuterRef("pk")).values("role")[:1]
    return Member.objects.filter(memberships__team=team).annotate(role=Subquery(role)).order_by("name", "pk")


def team_support_numbers(*, team: Team) -> QuerySet[SupportNumber]:
    return SupportNumber.objects.filter(team=team).order_by("phone_number")


def team_rotations(*, team: Team) -> QuerySet[Rotation]:
    """The team's rotations by role, their participants in rota order."""
    participants = Prefetch("participants", queryset=RotationParticipant.objects.order_by("position"))
    return Rotation.objects.filter(team=team).prefetch_related(participants).order_by("role")


def team_shifts(*, team: Team) -> QuerySet[Shift]:
    return Shift.objects.filter(team=team).select_related("member").order_by("start", "role", "pk")


def team_overrides(*, team: Team) -> QuerySet[Override]:
    return Override.objects.filter(team=team).select_related("member").order_by("start", "role", "pk")


def team_time_off(*, team: Team) -> QuerySet[TimeOff]:
    return TimeOff.objects.filter(team=team).select_related("member").order_by("start", "pk")


def team_shift(*, team: Team, shift_id: int) -> Shift | None:
    """The shift `shift_id` of `team`, with its member."""
    return Shift.objects.select_related("member").filter(team=team, pk=shift_id).first()


def role_people_free(
    *, team_id: int, role: str, start: dt.datetime, end: dt.datetime, exclude_member_id: int | None = None
) -> list[Member]:
    """The people of the role's rotation (every member of the team when the role has none) who are not away
    and not on call in the team's other role at any moment of [start, end), by name: who may cover the role
    then (one person in both roles would be rung once, and the chain would lose its second person)."""
    rotation = Rotation.objects.filter(team_id=team_id, role=role).first()
    if rotation is not None:
        people = Member.objects.filter(pk__in=RotationParticipant.objects.filter(rotation=rotation).values("member_id"))
    else:
        people = Member.objects.filter(memberships__team_id=team_id)
    away = TimeOff.objects.filter(team_id=team_id, start__lt=end, end__gt=start).values("member_id")
    busy = other_role_on_call(team_id=team_id, role=role, start=start, end=end)
    return list(people.exclude(pk=exclude_member_id).exclude(pk__in=away).exclude(pk__in=busy).order_by("name", "pk"))


# The members on call in the team's other role (not `role`) at some moment of [start, end): by an override
# then, or by a shift then that the overrides of other people do not cover end to end over the overlap (the
# overlap's first instant is not covered, or one of those overrides ends inside it where no other takes
# over; overrides of a role never overlap). `{team}`, `{role}`, `{start}` and `{end}` are SQL expressions.
_OTHER_ROLE_ON_CALL = """
SELECT o.member_id FROM {override} o
WHERE o.team_id = {team} AND o.role <> {role} AND o.start < {end} AND o."end" > {start}
UNION
SELECT s.member_id FROM {shift} s
WHERE s.team_id = {team} AND s.role <> {role} AND s.start < {end} AND s."end" > {start}
  AND (
    NOT EXISTS (
      SELECT 1 FROM {override} d
      WHERE d.team_id = s.team_id AND d.role = s.role AND d.member_id <> s.member_id
        AND (d.start <= s.start OR d.start <= {start}) AND d."end" > s.start AND d."end" > {start})
    OR EXISTS (
      SELECT 1 FROM {override} c
      WHERE c.team_id = s.team_id AND c.role = s.role AND c.member_id <> s.member_id
        AND c.start < s."end" AND c.start < {end} AND c."end" > s.start AND c."end" > {start}
        AND c."end" < s."end" AND c."end" < {end}
        AND NOT EXISTS (
          SELECT 1 FROM {override} d
          WHERE d.team_id = s.team_id AND d.role = s.role AND d.member_id <> s.member_id
            AND d.start <= c."end" AND d."end" > c."end")))"""


def other_role_on_call_sql(*, team: str, role: str, start: str, end: str) -> str:
    """The SELECT of the ids of the members on call in the team's other role at some moment of the span
    (`_OTHER_ROLE_ON_CALL`), its team, role and span given as SQL expressions (columns or placeholders)."""
    tables = {"override": Override._meta.db_table, "shift": Shift._meta.db_table}
    return _OTHER_ROLE_ON_CALL.format(team=team, role=role, start=start, end=end, **tables)


def other_role_on_call(*, team_id: int, role: str, start: dt.datetime, end: dt.datetime) -> models.expressions.RawSQL:
    """`other_role_on_call_sql` for these values, as a subquery for `pk__in`."""
    values = {
        "team": team_id,
        "role": role,
        "start": connection.ops.adapt_datetimefield_value(start),
        "end": connection.ops.adapt_datetimefield_value(end),
    }
    template = other_role_on_call_sql(team="{team}", role="{role}", start="{start}", end="{end}")
    order = re.findall(r"\{(team|role|start|end)\}", template)
    sql = template.format(**dict.fromkeys(values, "%s"))
    # Identifiers from the models, every value a parameter.
    return models.expressions.RawSQL(sql, [values[name] for name in order])  # noqa: S611


def teams_with_budget(*, team_id: int | None = None) -> list[Team]:
    """The teams that set a monthly budget (only `team_id`, when given)."""
    teams = Team.objects.filter(monthly_budget__isnull=False)
    return list(teams if team_id is None else teams.filter(pk=team_id))


def support_numbers_all() -> set[str]:
    return set(SupportNumber.objects.values_list("phone_number", flat=True))


# --- Reads for the notices the telephony app sends ---------------------------------------------------------


def reminder_candidates(
    *, now: dt.datetime
) -> tuple[list[Override], list[Shift], dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]]]:
    """Overrides and shifts that enter some team's reminder lead time by `now` (teams with reminders on),
    and what takes hours out of those shifts (overrides, and their people's time off), per (team, role),
    sorted: three queries whatever the teams, four when someone due is away."""
    leads = list(
        Team.objects.filter(reminder_lead_minutes__gt=0)
        .order_by("reminder_lead_minutes")
        .values_list("reminder_lead_minutes", flat=True)
        .distinct()
    )
    if not leads:
        return [], [], {}
    # One condition per distinct lead time (a handful), not per team: the query stays one query.
    due = Q()
    for lead in leads:
        due |= Q(team__reminder_lead_minutes=lead, start__lte=now + dt.timedelta(minutes=lead))
    overrides = list(Override.objects.filter(due, start__gt=now).select_related("team", "member"))
    # A shift whose start an override covers may begin for its owner later than the row says (or never).
    shifts = list(
        Shift.objects.filter(due, end__gt=now)
        .annotate(has_time_off=_away_during_shift())
        .select_related("team", "member")
    )
    covers: dict[tuple[int, str], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    if shifts:
        for team_id, role, start, end in (
            Override.objects.filter(
                team_id__in={row.team_id for row in shifts}, end__gt=now, start__lt=max(row.end for row in shifts)
            )
            .order_by("start")
            .values_list("team_id", "role", "start", "end")
        ):
            covers[(team_id, role)].append((start, end))
    away = [row for row in shifts if row.has_time_off]
    if away:
        # Time off takes its hours out of the person's own shift, as an override would: the role's shifts do
        # not overlap, so the piece cut to the shift touches nobody else's reminder.
        by_person: dict[tuple[int, int], list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for team_id, member_id, start, end in TimeOff.objects.filter(
            team_id__in={row.team_id for row in away},
            member_id__in={row.member_id for row in away},
            end__gt=now,
            start__lt=max(row.end for row in away),
        ).values_list("team_id", "member_id", "start", "end"):
            by_person[(team_id, member_id)].append((start, end))
        for row in away:
            for start, end in by_person[(row.team_id, row.member_id)]:
                if start < row.end and end > row.start:
                    covers[(row.team_id, row.role)].append((max(start, row.start), min(end, row.end)))
        for intervals in covers.values():
            intervals.sort()
    return overrides, shifts, covers


def teams_with_boundaries(*, start: dt.datetime, end: dt.datetime) -> set[int]:
    """Teams with a shift or override starting or ending in [start, end]: every change of who is on call is
    such a boundary. Two small indexed queries."""
    boundary = Q(start__gte=start, start__lte=end) | Q(end__gte=start, end__lte=end)
    team_ids: set[int] = set()
    for model in (Shift, Override):
        team_ids.update(model.objects.filter(boundary).order_by().values_list("team_id", flat=True).distinct())
    return team_ids


def last_ends_before(*, pairs: set[tuple[int, str]], at: dt.datetime) -> dict[tuple[int, str], dt.datetime]:
    """For (team, role) pairs: the last end of a shift or override at or before `at`. Two queries."""
    team_ids = sorted({team_id for team_id, _ in pairs})
    ends: dict[tuple[int, str], dt.datetime] = {}
    for model in (Shift, Override):
        for row in (
            model.objects.filter(team_id__in=team_ids, end__lte=at)
            .order_by()
            .values("team_id", "role")
            .annotate(last_end=Max("end"))
        ):
            key = (row["team_id"], row["role"])
            if key in pairs and (key not in ends or row["last_end"] > ends[key]):
                ends[key] = row["last_end"]
    return ends


def leads_of_teams() -> tuple[dict[int, Team], dict[int, list[Member]]]:
    """Every team that has leads, and its leads in a stable order: one query."""
    teams: dict[int, Team] = {}
    leads: dict[int, list[Member]] = defaultdict(list)
    for membership in (
        TeamMembership.objects.filter(role=TeamMembership.Role.LEAD)
        .select_related("member", "team")
        .order_by("team_id", "member_id")
    ):
        leads[membership.team_id].append(membership.member)
        teams[membership.team_id] = membership.team
    return teams, dict(leads)


def row_as_stored(obj):
    """`obj`'s row as the database holds it now (an admin form's instance already carries the new values)."""
    return type(obj)._default_manager.get(pk=obj.pk)


def teams_among(*, team_ids: Iterable[int]) -> QuerySet[Team]:
    return Team.objects.filter(pk__in=list(team_ids))


def team_zones() -> set[str]:
    """The time zones the teams are in."""
    return set(Team.objects.values_list("timezone", flat=True).distinct())


def rotations_of_teams(*, teams: Iterable[Team] | QuerySet[Team]) -> QuerySet[Rotation]:
    """The rotations of the teams, each with its team."""
    return Rotation.objects.filter(team__in=teams).select_related("team")


def rotation_team(*, rotation_id: int) -> Team:
    return Team.objects.get(rotations__pk=rotation_id)


def team_member_ids(*, team: Team, member_ids: Iterable[int]) -> set[int]:
    """Which of `member_ids` are members of `team`."""
    memberships = TeamMembership.objects.filter(team=team, member_id__in=list(member_ids))
    return set(memberships.values_list("member_id", flat=True))


def shift_rotation_starts(*, shift_ids: Iterable[int]) -> dict[int, tuple[int | None, dt.datetime]]:
    """{shift id: (its rotation's id or None, its start)}."""
    rows = Shift.objects.filter(pk__in=list(shift_ids)).values_list("pk", "rotation_id", "start")
    return {pk: (rotation_id, start) for pk, rotation_id, start in rows}


def rotation_roles(*, team_ids: Iterable[int]) -> set[tuple[int, str]]:
    """The (team, role) pairs that have a rotation: the roles a team staffs."""
    return set(Rotation.objects.filter(team_id__in=list(team_ids)).order_by().values_list("team_id", "role"))


def teams_by_id(*, team_ids: Iterable[int]) -> dict[int, Team]:
    return Team.objects.in_bulk(list(team_ids))


def members_by_id(*, member_ids: Iterable[int]) -> dict[int, Member]:
    return Member.objects.in_bulk(list(member_ids))
