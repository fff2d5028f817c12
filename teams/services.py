"""Writes to the rota. Every change goes through one function here, which validates and saves."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from teams import rota, selectors
from teams.errors import RotaError
from teams.limits import MAX_ROTATION_MEMBERS
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
    new_calendar_token,
    numbers_whose_menu_names,
    token_hash,
    token_new,
)

logger = logging.getLogger(__name__)

# How far ahead a rotation change is previewed to the lead and announced to the people it moves.
ROTATION_PREVIEW = dt.timedelta(weeks=8)


def _save(obj, *, exclude: Iterable[str] = ()):
    """Validate and insert a new row."""
    obj.full_clean(exclude=list(exclude))
    obj.save()
    return obj


def _update(obj, fields: dict):
    """Validate the changed row and write only the fields that changed (and its auto_now stamps), so two
    edits of different fields of one row do not overwrite each other."""
    for key, value in fields.items():
        setattr(obj, key, value)
    obj.full_clean()
    stamps = [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
    names = {obj._meta.get_field(key).name for key in fields}
    if names:
        obj.save(update_fields=sorted(names | set(stamps)))
    return obj


def team_lock(*, team_id: int) -> Team:
    """Lock a team's row until the transaction ends and return it fresh: writes to its rota (overlap checks
    then see each other's rows) and its alert pages (the hourly cap) are serialised per team.

    FOR NO KEY UPDATE, not FOR UPDATE: those writers still wait for each other, but a row that only refers
    to the team goes on. An incoming call's INSERT checks its foreign key to the team with FOR KEY SHARE,
    which FOR UPDATE blocks: every call to the team would wait until the rota's transaction ended."""
    return Team.objects.select_for_update(no_key=True).get(pk=team_id)


def _lock_team(team: Team) -> None:
    team_lock(team_id=team.pk)


def _save_locked(obj):
    """Insert a row of a team's rota (shift, override, time off) under the team's lock, so its overlap
    checks see every other writer's rows."""
    with transaction.atomic():
        _lock_team(obj.team)
        return _save(obj)


def _update_locked(obj, fields: dict):
    """`_update` under the lock of the row's team (see `_save_locked`)."""
    with transaction.atomic():
        _lock_team(obj.team)
        return _update(obj, fields)


def team_create(**fields) -> Team:
    return _save(Team(**fields))


def team_delete(*, team: Team) -> None:
    """Delete a team with its rota (shifts, overrides, rotations, numbers, memberships); its logs keep their
    rows without a team."""
    team.delete()


def calendar_token_regenerate(*, owner: Team | Member) -> str:
    """A new secret for the team's or member's iCal feed: links with the old one stop working."""
    owner.calendar_token = new_calendar_token()
    owner.save(update_fields=["calendar_token"])
    return owner.calendar_token


def member_create(
    *, team: Team | None, name: str, phone: str, email: str = "", role: str = "member", **extra
) -> Member:
    """Create a member and add them to the team (the admin adds the teams afterwards: team None)."""
    try:
        with transaction.atomic():
            member = _save(Member(name=name, phone=phone, email=email, **extra))
            if team is not None:
                membership_add(team=team, member=member, role=role)
    except IntegrityError:
        # Another request stored this phone between the check and the insert: the check says so now.
        Member(name=name, phone=phone, email=email, **extra).validate_unique()
        raise
    return member


def team_update(*, team: Team, now: dt.datetime | None = None, **fields) -> Team:
    """Change a team. A new time zone moves the future hand-offs to the rotations' wall times in it.

    The shift in progress keeps the end its person was told; the next person in the rotation takes over
    at that instant and hands over at the first hand-off in the new zone (see README, "Changing a team's
    time zone").
    """
    with transaction.atomic():
        old_slug, old_timezone = team.slug, team.timezone
        _update(team, fields)
        if team.slug != old_slug:
            _menus_follow_slug(old_slug, team.slug)
        if team.timezone != old_timezone:
            shifts_generate(
                rotations=Rotation.objects.filter(team=team).select_related("team"), now=now, keep_started_turns=True
            )
    return team


def _menus_follow_slug(old: str, new: str) -> None:
    """A renamed team keeps its keys: every menu naming its old slug names the new one."""
    for number in numbers_whose_menu_names(old):
        number.menu = [{**entry, "team": new} if entry.get("team") == old else entry for entry in number.menu]
        SupportNumber.objects.filter(pk=number.pk).update(menu=number.menu)


def member_update(*, team: Team | None = None, member: Member, role: str | None = None, **fields) -> Member:
    """Change a member's details and, with `role`, their role in the team."""
    with transaction.atomic():
        _update(member, fields)
        if role is not None and team is not None:
            membership_add(team=team, member=member, role=role)
    return member


def member_removal_problem(*, team: Team, member: Member, now: dt.datetime | None = None) -> str | None:
    """Why the member cannot leave the team now (they would still be rung), or None."""
    now = now or timezone.now()
    if Rotation.objects.filter(team=team, participants__member=member).exists():
        return f"{member.name} is in one of {team.name}'s rotations: take them out of it first."
    busy = {"team": team, "member": member, "end__gt": now}
    if Shift.objects.filter(**busy).exists() or Override.objects.filter(**busy).exists():
        return f"{member.name} has current or future {team.name} shifts or overrides: reassign them first."
    return None


def member_remove(*, team: Team, member: Member, now: dt.datetime | None = None) -> None:
    """Take a member out of a team; the person goes too when they belong to no other team.

    Refused while they are in the team's rotation or have current or future cover: they would still be rung.
    """
    with transaction.atomic():
        membership_remove(team=team, member=member, now=now)
        if not member.memberships.exists():
            member.delete()


def membership_remove(*, team: Team, member: Member, now: dt.datetime | None = None) -> None:
    """Take a member out of a team; the person stays (the admin's membership rows). Refused like
    member_remove."""
    with transaction.atomic():
        _lock_team(team)
        _check_removal(team, member, now)
        TeamMembership.objects.filter(team=team, member=member).delete()


def _check_removal(team: Team, member: Member, now: dt.datetime | None = None) -> None:
    problem = member_removal_problem(team=team, member=member, now=now)
    if problem:
        raise RotaError(problem)


def member_opt_out(*, phone: str, member_id: int | None = None, at: dt.datetime | None = None) -> int:
    """Record that the people with this phone (and `member_id`) want no more SMS; the first opt-out time is
    kept. Returns how many people changed."""
    at = at or timezone.now()
    who = Q(phone=phone) | Q(pk=member_id) if member_id else Q(phone=phone)
    return Member.objects.filter(who, sms_opted_out_at__isnull=True).update(sms_opted_out_at=at)


def member_opt_in(*, phone: str) -> int:
    """START: the people with this phone get SMS again."""
    return Member.objects.filter(phone=phone, sms_opted_out_at__isnull=False).update(sms_opted_out_at=None)


def _check_menu(menu, user) -> None:
    problem = selectors.menu_problem(menu=menu, user=user)
    if problem:
        raise RotaError(problem, field="menu")


def support_number_update(*, number: SupportNumber, user=None, **fields) -> SupportNumber:
    """Change a number; a new menu may name only teams `user` may change (None: any team)."""
    if "menu" in fields:
        _check_menu(fields["menu"], user)
    return _update(number, fields)


def support_number_delete(*, number: SupportNumber) -> None:
    """The number stops reaching the team; calls already logged keep their rows."""
    number.delete()


def rotation_delete(*, rotation: Rotation, now: dt.datetime | None = None) -> None:
    """Delete a rotation with the future shifts it planned that nobody edited; the rest is history."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_team(rotation.team)
        Shift.objects.filter(rotation=rotation, is_edited=False, start__gt=now).delete()
        rotation.delete()


def member_join(*, team: Team, member: Member, role: str = "member") -> Member:
    """A person already known (in another team) joins `team` in `role`, as they are: their name, phone and
    details stay theirs. Refused when they are in the team already."""
    with transaction.atomic():
        _lock_team(team)
        if TeamMembership.objects.filter(team=team, member=member).exists():
            raise RotaError(
                gettext("%(member)s (%(phone)s) is already a member of %(team)s.")
                % {"member": member.name, "phone": member.phone, "team": team.name},
                field="phone",
            )
        membership_add(team=team, member=member, role=role)
    return member


def membership_add(*, team: Team, member: Member, role: str = "member") -> TeamMembership:
    """The member joins the team in `role`, or takes that role if already in it."""
    TeamMembership(team=team, member=member, role=role).full_clean(validate_unique=False, validate_constraints=False)
    membership, created = TeamMembership.objects.get_or_create(team=team, member=member, defaults={"role": role})
    if not created and membership.role != role:
        _update(membership, {"role": role})
    return membership


def membership_update(*, membership: TeamMembership, **fields) -> TeamMembership:
    """Change a membership's role, team or person, saving only those fields. Moving it off its team or person
    is refused, as taking them out is, while they would still be rung."""
    with transaction.atomic():
        _lock_team(membership.team)
        if any(name in fields and fields[name] != getattr(membership, name) for name in ("team", "member")):
            _check_removal(membership.team, membership.member)
        return _update(membership, fields)


def support_number_create(
    *,
    team: Team,
    phone_number: str,
    sms_enabled: bool = True,
    menu: list | None = None,
    menu_prompt: str = "",
    user=None,
) -> SupportNumber:
    _check_menu(menu, user)
    number = SupportNumber(
        team=team, phone_number=phone_number, sms_enabled=sms_enabled, menu=menu or [], menu_prompt=menu_prompt
    )
    return _save(number)


def _check_participants(team: Team, member_ids: Sequence[int]) -> None:
    if not member_ids:
        raise RotaError("A rotation needs at least one member.", field="members")
    if len(member_ids) > MAX_ROTATION_MEMBERS:
        raise RotaError(
            gettext("A rotation has at most %(limit)d places, not %(count)d.")
            % {"limit": MAX_ROTATION_MEMBERS, "count": len(member_ids)},
            field="members",
        )
    known = set(TeamMembership.objects.filter(team=team, member_id__in=member_ids).values_list("member_id", flat=True))
    strangers = [m for m in member_ids if m not in known]
    if strangers:
        raise RotaError(f"Not members of {team.name}: {', '.join(str(m) for m in strangers)}.", field="members")


def rotation_create(
    *,
    team: Team,
    name: str,
    role: str,
    member_ids: Sequence[int],
    start_local: dt.datetime,
    shift_length: dt.timedelta,
    now: dt.datetime | None = None,
) -> Rotation:
    """Create a rotation and generate its shifts up to the horizon."""
    with transaction.atomic():
        _lock_team(team)
        _check_participants(team, member_ids)
        if Rotation.objects.filter(team=team, role=role).exists():
            raise RotaError(f"{team.name} already has a {role} rotation: edit that one.", field="role")
        rotation = _save(
            Rotation(
                team=team,
                name=name,
                role=role,
                start_date=start_local.date(),
                start_time=start_local.time().replace(microsecond=0),
                shift_length=shift_length,
            )
        )
        rotation_set_members(rotation=rotation, member_ids=member_ids)
        shifts_generate(rotations=[rotation], now=now)
    return rotation


def rotation_update(*, rotation: Rotation, member_ids: Sequence[int] | None = None, now=None, **fields) -> Rotation:
    """Change a rotation; future shifts nobody edited by hand are regenerated, the past stays. Everyone whose
    time on call moves in the next weeks is told after the commit (`rotation_changes_announce`)."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_team(rotation.team)
        before = rotation_schedule(rotation=rotation, now=now)
        if "start_local" in fields:
            start_local = fields.pop("start_local")
            fields["start_date"] = start_local.date()
            fields["start_time"] = start_local.time().replace(microsecond=0)
        _update(rotation, fields)
        if member_ids is not None:
            _check_participants(rotation.team, member_ids)
            rotation_set_members(rotation=rotation, member_ids=member_ids)
        shifts_generate(rotations=[rotation], now=now)
        rotation_changes_announce(rotation=rotation, before=before, now=now)
    return rotation


def rotation_form_save(*, rotation: Rotation, fields: dict | None = None) -> Rotation:
    """The admin's two-step save of a rotation: its own row first (new, or only the changed `fields`),
    validated; the form then stores the members and regenerates (`rotation_set_members`, `shifts_generate`,
    `rotation_changes_announce`), as rotation_update does in one call for the API."""
    if rotation.pk is None:
        return _save(rotation)
    return _update(rotation, fields or {})


def rotation_schedule(*, rotation: Rotation, now: dt.datetime) -> list[rota.Segment]:
    """The final schedule of the rotation's role over the weeks a change is previewed and announced for."""
    return selectors.team_schedule(team=rotation.team, start=now, end=now + ROTATION_PREVIEW)[rotation.role]


def rotation_changes_announce(*, rotation: Rotation, before: list[rota.Segment], now: dt.datetime) -> list[rota.Change]:
    """Compare the role's schedule with `before` and hand the changes, after commit, to the notifier that
    settings.ROTA_CHANGE_NOTIFIER names (the telephony app's SMS; the rota knows nothing of phones)."""
    changes = rota.schedule_changes(before, rotation_schedule(rotation=rotation, now=now))
    notifier_path = getattr(settings, "ROTA_CHANGE_NOTIFIER", "")
    if changes and notifier_path:
        notifier = import_string(notifier_path)
        team_id, role = rotation.team_id, rotation.role
        transaction.on_commit(lambda: notifier(team_id=team_id, role=role, changes=changes))
    return changes


@dataclass(frozen=True)
class RotationPreview:
    """What a rotation change would do over the preview weeks: who changes in its role, and the double
    bookings (one person primary and secondary at once) it would create."""

    changes: list[rota.Change]
    new_double_bookings: list[rota.Segment]


class _Rollback(Exception):
    pass


def rotation_preview(*, rotation: Rotation, apply: Callable[[], Rotation], now: dt.datetime) -> RotationPreview:
    """Measure a change without keeping it: `apply` writes it, shifts are generated as a save would, the
    schedules are compared, and everything is rolled back."""
    end = now + ROTATION_PREVIEW
    try:
        with transaction.atomic():
            _lock_team(rotation.team)
            before = selectors.team_schedule(team=rotation.team, start=now, end=end)
            changed = apply()
            shifts_generate(rotations=[changed], now=now)
            after = selectors.team_schedule(team=rotation.team, start=now, end=end)
            raise _Rollback
    except _Rollback:
        pass
    old = {(s.member_id, s.start, s.end) for s in rota.double_bookings(before[Role.PRIMARY], before[Role.SECONDARY])}
    return RotationPreview(
        changes=rota.schedule_changes(before[changed.role], after[changed.role]),
        new_double_bookings=[
            s
            for s in rota.double_bookings(after[Role.PRIMARY], after[Role.SECONDARY])
            if (s.member_id, s.start, s.end) not in old
        ],
    )


def rotation_set_members(*, rotation: Rotation, member_ids: Sequence[int]) -> None:
    RotationParticipant.objects.filter(rotation=rotation).delete()
    RotationParticipant.objects.bulk_create(
        RotationParticipant(rotation=rotation, member_id=member_id, position=position)
        for position, member_id in enumerate(member_ids)
    )


def shifts_generate(
    *,
    rotations: Iterable[Rotation] | None = None,
    now: dt.datetime | None = None,
    horizon: dt.timedelta | None = None,
    keep_started_turns: bool = False,
) -> dict[str, int]:
    """Bring the shifts of the rotations in line with them, from now to the horizon, with bulk writes.

    Idempotent. Shifts that have started are history and never change; shifts edited by hand and
    hand-made shifts stay, and the rotation's shifts are trimmed around them. The teams are locked and the
    rotations read again inside the lock, so a generation running alongside an edit of the rotation never
    writes the old pattern over the new one. A rotation moved to another role leaves its future shifts in
    the old role (those nobody edited go; started and edited ones stay there as hand-made history). Queries
    do not grow with the number of shifts or rotations. One rotation that fails is logged and skipped.

    With `keep_started_turns` (a change of time zone), a started shift's person is not kept on past the end
    they were told: the piece of the new pattern that would extend them goes to the next person in the
    rotation instead.
    """
    now = now or timezone.now()
    horizon = horizon or dt.timedelta(weeks=settings.SHIFT_HORIZON_WEEKS)
    window_end = now + horizon
    empty = {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    with transaction.atomic():
        if rotations is None:
            rotation_ids = None
            team_ids = list(Rotation.objects.values_list("team_id", flat=True).distinct())
        else:
            rotations = list(rotations)
            rotation_ids = [r.pk for r in rotations if r.pk is not None]
            team_ids = list({r.team_id for r in rotations})
        if not team_ids:
            return empty
        # Lock in one order (no deadlock between two runs), then read what the rotations are now. NO KEY, as
        # in team_lock: calls to these teams go on while the shifts are generated.
        locking = Team.objects.select_for_update(no_key=True).filter(pk__in=team_ids).order_by("pk")
        list(locking.values_list("pk", flat=True))
        fresh = Rotation.objects.select_related("team").filter(team_id__in=team_ids)
        if rotation_ids is not None:
            fresh = fresh.filter(pk__in=rotation_ids)
        rotations = list(fresh)
        if not rotations:
            return empty
        counts = _generate_locked(rotations, now, window_end, keep_started_turns=keep_started_turns)
    return counts


def _generate_locked(
    rotations: list[Rotation], now: dt.datetime, window_end: dt.datetime, *, keep_started_turns: bool = False
) -> dict[str, int]:
    participants: dict[int, list[int]] = {r.pk: [] for r in rotations}
    for rotation_id, member_id in (
        RotationParticipant.objects.filter(rotation__in=rotations)
        .order_by("rotation_id", "position")
        .values_list("rotation_id", "member_id")
    ):
        participants[rotation_id].append(member_id)

    team_roles = {(r.team_id, r.role) for r in rotations}
    team_ids = {team_id for team_id, _ in team_roles}
    # Rows from the start of the shift in progress (a shift is at most a year, plus a day of clock change)
    # with no upper bound: a row of the past that the shift in progress reaches is kept out of it, and a row
    # generated beyond today's horizon by an older pattern is not left to overlap the new one.
    since = now - max(r.shift_length for r in rotations) - dt.timedelta(days=1)
    existing: dict[tuple[int, str], list[Shift]] = {key: [] for key in team_roles}
    moved: dict[int, list[Shift]] = {r.pk: [] for r in rotations}
    roles = {r.pk: r.role for r in rotations}
    for shift in Shift.objects.filter(team_id__in=team_ids, end__gt=since):
        if shift.rotation_id in roles and shift.role != roles[shift.rotation_id]:
            moved[shift.rotation_id].append(shift)
        elif (shift.team_id, shift.role) in existing:
            existing[(shift.team_id, shift.role)].append(shift)

    to_create: list[Shift] = []
    to_update: list[Shift] = []
    to_detach: list[Shift] = []
    to_delete: list[int] = []
    failed = 0
    for shift in (shift for shifts in moved.values() for shift in shifts):
        if shift.start > now and not shift.is_edited:
            to_delete.append(shift.pk)
        else:
            # Started or edited: it stays in its role as hand-made history, which that role's rotation keeps.
            shift.rotation_id = None
            to_detach.append(shift)
            existing.get((shift.team_id, shift.role), []).append(shift)
    for rotation in rotations:
        try:
            rows = existing[(rotation.team_id, rotation.role)]
            # Kept: started shifts, hand-edited ones, hand-made ones and other rotations' (should be none).
            kept = sorted(
                (s.start, s.end) for s in rows if s.start <= now or s.is_edited or s.rotation_id != rotation.pk
            )
            mine = {s.start: s for s in rows if s.rotation_id == rotation.pk and s.start > now and not s.is_edited}
            # Who each of this rotation's started shifts ends with, by its end.
            started_ends = {
                s.end: s.member_id
                for s in rows
                if keep_started_turns and s.rotation_id == rotation.pk and s.start <= now < s.end and not s.is_edited
            }
            member_ids = participants[rotation.pk]
            planned = rota.generate(
                start_local=rotation.start_local,
                length=rotation.shift_length,
                member_ids=member_ids,
                tz=rotation.team.tz,
                window_start=now,
                window_end=window_end,
            )
            # start -> (end, member, pinned): a pinned piece breaks the pattern, so later runs must keep it.
            wanted: dict[dt.datetime, tuple[dt.datetime, int, bool]] = {}
            for plan in planned:
                # The shift in progress is created with its real start when nothing covers it yet (and no
                # stored row of the past overlaps it); once stored it has started, so it is kept and never
                # rewritten.
                for start, end in rota.subtract(plan.start, plan.end, kept):
                    if end > now and end > start:
                        if start > plan.start and started_ends.get(start) == plan.member_id:
                            wanted[start] = (end, member_ids[(plan.sequence + 1) % len(member_ids)], True)
                        else:
                            wanted[start] = (end, plan.member_id, False)
            for start, (end, member_id, pinned) in wanted.items():
                shift = mine.pop(start, None)
                if shift is None:
                    to_create.append(
                        Shift(
                            team_id=rotation.team_id,
                            role=rotation.role,
                            member_id=member_id,
                            start=start,
                            end=end,
                            rotation=rotation,
                            is_edited=pinned,
                        )
                    )
                elif shift.end != end or shift.member_id != member_id or pinned:
                    shift.end, shift.member_id, shift.is_edited = end, member_id, pinned
                    to_update.append(shift)
            to_delete.extend(s.pk for s in mine.values())
        except Exception:
            failed += 1
            logger.exception("Shift generation failed for rotation %s (team %s)", rotation.pk, rotation.team_id)
    if to_delete:
        Shift.objects.filter(pk__in=to_delete).delete()
    if to_detach:
        Shift.objects.bulk_update(to_detach, ["rotation"], batch_size=500)
    if to_update:
        Shift.objects.bulk_update(to_update, ["end", "member", "is_edited"], batch_size=500)
    if to_create:
        Shift.objects.bulk_create(to_create, batch_size=500, ignore_conflicts=True)
    return {"created": len(to_create), "updated": len(to_update), "deleted": len(to_delete), "failed": failed}


def shift_create(*, team: Team, role: str, member: Member, start: dt.datetime, end: dt.datetime) -> Shift:
    """A shift made by hand; the rotation leaves it alone."""
    return _save_locked(Shift(team=team, role=role, member=member, start=start, end=end, is_edited=True))


def shift_update(*, shift: Shift, **fields) -> Shift:
    """Edit a shift (usually its member); it is marked edited so regeneration keeps it."""
    return _update_locked(shift, {**fields, "is_edited": True})


def override_create(
    *,
    team: Team,
    role: str,
    member: Member,
    start: dt.datetime,
    end: dt.datetime,
    reason: str = "",
    created_by: AbstractBaseUser | None = None,
) -> Override:
    return _save_locked(
        Override(team=team, role=role, member=member, start=start, end=end, reason=reason, created_by=created_by)
    )


# The override service for a caller that must write an override together with rows of its own in one
# statement (a swap approved by SMS, within the webhook's round trips; PostgreSQL): override_create's
# checks as SQL, and its INSERT. Table names are our own; the caller's values are its parameters.
_OVERRIDE_CHECKS = """(EXISTS (SELECT 1 FROM {membership} ok_m WHERE ok_m.team_id = {row}.team_id
                         AND ok_m.member_id = {row}.{member})
    AND NOT EXISTS (SELECT 1 FROM {time_off} ok_a WHERE ok_a.team_id = {row}.team_id
                    AND ok_a.member_id = {row}.{member} AND ok_a.start < {row}."end" AND ok_a."end" > {row}.start)
    AND NOT EXISTS (SELECT 1 FROM {override} ok_o WHERE ok_o.team_id = {row}.team_id AND ok_o.role = {row}.role
                    AND ok_o.start < {row}."end" AND ok_o."end" > {row}.start))"""
_OVERRIDE_INSERT = """INSERT INTO {override} (team_id, role, member_id, start, "end", reason, created_by_id,
                          created_at, updated_at)
    SELECT team_id, role, member_id, start, "end", left(reason, 200), created_by_id, written_at, written_at
    FROM ({source}) AS new_override
    RETURNING id"""


def override_checks_sql(*, row: str, member: str = "member_id") -> str:
    """A boolean SQL expression: an override for the `row` alias's team_id, role, `member`, start and "end"
    passes override_create's checks (a member of the team, not away then, no other override of the role
    then). It sees the rows committed when its statement began: override_create's team lock is not taken."""
    return _OVERRIDE_CHECKS.format(
        membership=TeamMembership._meta.db_table,
        time_off=TimeOff._meta.db_table,
        override=Override._meta.db_table,
        row=row,
        member=member,
    )


def override_insert_sql(*, source: str) -> str:
    """`INSERT … RETURNING id` of an override for each row of the SELECT `source` (columns team_id, role,
    member_id, start, "end", reason, created_by_id, written_at), which has passed override_checks_sql."""
    return _OVERRIDE_INSERT.format(override=Override._meta.db_table, source=source)


def shift_delete(*, shift: Shift) -> None:
    """A shift removed by hand: the role has a gap there unless an override covers it."""
    shift.delete()


def override_delete(*, override: Override) -> None:
    override.delete()


def override_update(*, override: Override, **fields) -> Override:
    return _update_locked(override, fields)


def time_off_create(
    *,
    team: Team,
    member: Member,
    start: dt.datetime,
    end: dt.datetime,
    reason: str = "",
    created_by: AbstractBaseUser | None = None,
) -> TimeOff:
    """A member is away: their shifts in [start, end) become gaps unless an override covers them. Refused
    when it overlaps an override of the same person, or another time off of theirs in the team."""
    return _save_locked(TimeOff(team=team, member=member, start=start, end=end, reason=reason, created_by=created_by))


def time_off_update(*, time_off: TimeOff, **fields) -> TimeOff:
    return _update_locked(time_off, fields)


def time_off_delete(*, time_off: TimeOff) -> None:
    time_off.delete()


def token_create(
    *, user=None, team: Team | None = None, scope: str = ApiToken.Scope.FULL, name: str = ""
) -> tuple[str, ApiToken]:
    """Create an API token; returns (the clear token, shown once; the stored row).

    A full token belongs to a user, an alerts-only token to a team: said as a RotaError naming the field
    before the database's check constraint would refuse it.
    """
    if scope == ApiToken.Scope.FULL and user is None:
        raise RotaError("A full API token belongs to a user: choose one.", field="user")
    if scope == ApiToken.Scope.ALERTS and team is None:
        raise RotaError("An alerts-only token belongs to a team: choose one.", field="team")
    if scope not in ApiToken.Scope.values:
        raise RotaError(f"Unknown token scope {scope!r}.", field="scope")
    key = token_new()
    row = ApiToken.objects.create(
        user=user if scope == ApiToken.Scope.FULL else None,
        team=team if scope == ApiToken.Scope.ALERTS else None,
        scope=scope,
        name=name,
        prefix=key[:8],
        key_hash=token_hash(key),
    )
    return key, row


def api_token_used(*, token: ApiToken, at: dt.datetime) -> None:
    """Note when a token was last used: at most once a minute, so a busy token does not write per request."""
    if token.last_used_at is None or (at - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=at)


def tokens_revoke(*, tokens: QuerySet[ApiToken], at: dt.datetime | None = None) -> int:
    """Revoke the tokens not revoked yet; returns how many. A revoked token authenticates nobody."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=at or timezone.now())


__all__ = [
    "RotaError",
    "calendar_token_regenerate",
    "ValidationError",
    "member_create",
    "member_opt_in",
    "member_opt_out",
    "member_remove",
    "member_update",
    "membership_add",
    "membership_remove",
    "membership_update",
    "override_create",
    "override_delete",
    "override_update",
    "rotation_create",
    "rotation_delete",
    "rotation_form_save",
    "rotation_update",
    "shift_create",
    "shift_delete",
    "shift_update",
    "shifts_generate",
    "support_number_create",
    "support_number_delete",
    "support_number_update",
    "team_create",
    "team_delete",
    "team_lock",
    "team_update",
    "time_off_create",
    "time_off_delete",
    "time_off_update",
    "token_create",
    "tokens_revoke",
]
