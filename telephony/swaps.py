"""Shift swaps: ask for cover of one future shift, offer it to the rotation's teammates by SMS, take it
(first TAKE wins), approve or decline it (when the team asks for approval), cancel it, expire it.

Every step is a SwapEvent with who and when, and every text goes through the outbox with a dedupe key, so a
retried request or a second beat tick tells nobody twice. A state change is one conditional UPDATE
("from these states only") inside a transaction that holds the swap's row: two TAKEs at once, from two
phones or two API calls, make one winner and one "already taken". Approval is an override for the taker over
the shift, written by the rota's own override service (its checks apply: no overlap, not while away).

By SMS (the webhook's budget of round trips) a step is one statement on PostgreSQL, `_SMS_STEP`: the same
lock, the same states, the override service's checks in SQL; the texts it owes the others are marked on its
event and sent by a task (`swap_notices_send`), or by the expiry sweep when that task was lost.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy, ngettext

from teams import rota, selectors, services
from teams.errors import RotaError
from teams.models import Member, Override, Role, Rotation, RotationParticipant, Shift, Team, TeamMembership, TimeOff
from telephony.models import ROW_ID_MAX, OutboundMessage, Swap, SwapEvent
from telephony.notifications import role_name
from telephony.queue import owed_sweep, task_publish
from telephony.sms import sms_send

logger = logging.getLogger(__name__)

SWAP_COMMAND = re.compile(r"^(TAKE|APPROVE|DECLINE)\s+#?(\d+)$")
# States from which a swap can still change; approved, declined, cancelled and expired are final.
IN_PLAY = (Swap.State.OPEN, Swap.State.TAKEN)


@dataclass(frozen=True)
class Actor:
    """Who did a step: their name as shown, and the login and/or member behind it, and by what channel."""

    name: str
    user: AbstractBaseUser | None = None
    member: Member | None = None
    via: str = ""

    @classmethod
    def of_member(cls, member: Member, *, via: str) -> Actor:
        return cls(member.name, member.user if member.user_id else None, member, via)

    @classmethod
    def of_user(cls, user: AbstractBaseUser, *, via: str) -> Actor:
        return cls(user.get_username(), user, getattr(user, "member", None), via)


def _tz(member: Member, team: Team) -> ZoneInfo:
    return ZoneInfo(member.timezone) if member.timezone else team.tz


# Stand-ins in a swap text's values for what depends on the reader: the span in their zone, and the zone.
_SPAN, _ZONE = object(), object()


def _span(swap: Swap, tz: ZoneInfo) -> str:
    """'Fri 5 Dec 09:00 – Mon 8 Dec 09:00' in the reader's zone (the text names the zone after it)."""
    start = rota.format_local(swap.start, tz, year=False, zone=False)
    end = rota.format_local(swap.end, tz, year=False, zone=False)
    return f"{start} – {end}"


def _tell(swap: Swap, member: Member | None, step: str, text, values: dict, extra: str = "") -> None:
    """One SMS about one step of a swap to one person, once (the key names the swap, the step, the person).

    `text` (a lazy gettext) is said in the person's language; the times in `values` come in their zone
    (`_SPAN` and `_ZONE` stand for them)."""
    if member is None:
        return
    tz = _tz(member, swap.team)
    with translation.override(member.language_for(swap.team)):
        filled = {key: _span(swap, tz) if v is _SPAN else tz.key if v is _ZONE else v for key, v in values.items()}
        if "role" in filled:
            filled["role"] = role_name(filled["role"])
        body = str(text) % filled + (f" {extra}" if extra else "")
    sms_send(
        to=member.phone,
        body=f"[{swap.team.name}] {body}",
        kind=OutboundMessage.Kind.SWAP,
        dedupe_key=f"swap:{swap.pk}:{step}:{member.pk}",
        team=swap.team,
        member=member,
    )


def _record(swap: Swap, action: str, actor: Actor, *, notices_pending: bool = False) -> SwapEvent:
    return SwapEvent.objects.create(
        swap=swap,
        action=action,
        actor=actor.name[:150],
        user=actor.user,
        member=actor.member,
        via=actor.via[:40],
        notices_pending=notices_pending,
    )


def swap_teammates(*, swap: Swap) -> list[Member]:
    """Who is offered the shift: the other people of the role's rotation (every other member of the team
    when the role has none), less anyone away during the shift."""
    return selectors.role_people_free(
        team_id=swap.team_id, role=swap.role, start=swap.start, end=swap.end, exclude_member_id=swap.asker_id
    )


def _leads(team: Team) -> list[Member]:
    return selectors.team_leads(team=team)


def _move(swap: Swap, *, to: str, moves_from: tuple[str, ...], **fields) -> bool:
    """The conditional UPDATE of a step: True when this call moved the swap (the row is then up to date)."""
    changed = Swap.objects.filter(pk=swap.pk, state__in=moves_from).update(
        state=to, updated_at=timezone.now(), **fields
    )
    if changed:
        swap.state = to
        for name, value in fields.items():
            setattr(swap, name, value)
    return bool(changed)


def _locked(swap: Swap) -> Swap:
    """The swap's row, locked until the transaction ends (PostgreSQL; SQLite serialises writers anyway).

    Locked first and read after: a row read with its joins while waiting for the lock would carry the new
    taker_id next to the old (empty) join."""
    Swap.objects.select_for_update().filter(pk=swap.pk).values_list("pk", flat=True).get()
    return Swap.objects.select_related("team", "asker", "taker").get(pk=swap.pk)


def _other_role(swap: Swap, member: Member) -> str | None:
    """The team's other role as people read it, when `member` is on call in it during the swap's shift."""
    on_call = selectors.other_role_on_call(team_id=swap.team_id, role=swap.role, start=swap.start, end=swap.end)
    if not Member.objects.filter(pk=member.pk, pk__in=on_call).exists():
        return None
    return role_name(Role.SECONDARY if swap.role == Role.PRIMARY else Role.PRIMARY)


def _cannot_take(swap: Swap, member: Member) -> str:
    """Why `member` may not take the swap: on call in the other role then, or not a free teammate."""
    values = {"member": member.name, "id": swap.pk, "role": role_name(swap.role), "other": _other_role(swap, member)}
    if values["other"]:
        return gettext("%(member)s cannot take swap %(id)d: they are on call as %(other)s during that shift.") % values
    return gettext("%(member)s cannot take swap %(id)d: only a free teammate of the %(role)s rotation can.") % values


def _cannot_approve(swap: Swap, taker: Member) -> str | None:
    """Why the swap cannot be approved before the override's own checks: its taker has since come on call in
    the other role during the shift (one person in both roles), else None."""
    other = _other_role(swap, taker)
    if other is None:
        return None
    return gettext("Swap %(id)d cannot be approved: %(member)s is on call as %(other)s during that shift.") % {
        "id": swap.pk,
        "member": taker.name,
        "other": other,
    }


def _end_to_end(rows, start: dt.datetime, end: dt.datetime) -> bool:
    """Whether `rows` (with start and end, sorted by start) cover [start, end) with no gap."""
    reach = start
    for row in rows:
        if row.start > reach:
            return False
        reach = max(reach, row.end)
    return reach >= end


def _out_of_date(swap: Swap) -> RotaError | None:
    """When the swap's shift is no longer the asker's as asked (a lead reassigned or moved it, a rotation
    change regenerated it, it was deleted): taking or approving it would override whoever has those hours
    now. Else None."""
    unchanged = Shift.objects.filter(
        pk=swap.shift_id, member_id=swap.asker_id, role=swap.role, start=swap.start, end=swap.end
    )
    if swap.shift_id is not None and unchanged.exists():
        return None
    return RotaError(
        gettext("Swap %(id)d is out of date: its shift changed after %(asker)s asked. Ask again if still needed.")
        % {"id": swap.pk, "asker": swap.asker.name},
        field="state",
    )


def _already(swap: Swap) -> RotaError:
    messages = {
        Swap.State.TAKEN: gettext("Swap %(id)d is already taken by %(taker)s."),
        Swap.State.APPROVED: gettext("Swap %(id)d is already approved: %(taker)s covers it."),
        Swap.State.DECLINED: gettext("Swap %(id)d was declined."),
        Swap.State.CANCELLED: gettext("Swap %(id)d was cancelled."),
        Swap.State.EXPIRED: gettext("Swap %(id)d expired: its shift has started."),
        Swap.State.OPEN: gettext("Swap %(id)d is still open: nobody has taken it yet."),
    }
    taker = swap.taker.name if swap.taker_id else ""
    return RotaError(messages[swap.state] % {"id": swap.pk, "taker": taker}, field="state")


# --- The steps ---------------------------------------------------------------------------------------------


def swap_request(*, shift: Shift, actor: Actor, reason: str = "", now: dt.datetime | None = None) -> Swap:
    """Ask for cover of one future shift; each teammate of its rotation gets one SMS offer."""
    now = now or timezone.now()
    if shift.start <= now:
        raise RotaError(gettext("Only a shift that has not started yet can be swapped."), field="shift")
    with transaction.atomic():
        services.team_lock(team_id=shift.team_id)
        in_play = Swap.objects.filter(shift=shift, state__in=IN_PLAY).select_related("asker").first()
        if in_play is not None and _out_of_date(in_play) is None:
            raise RotaError(gettext("This shift already has a swap in play."), field="shift")
        if in_play is not None:
            # Asked by the shift's former person, or about its former hours: nobody can take it any more.
            _move(in_play, to=Swap.State.CANCELLED, moves_from=IN_PLAY)
            _record(in_play, "cancelled", Actor(gettext("automatic (its shift changed)"), via=actor.via))
        covers = list(
            Override.objects.filter(team_id=shift.team_id, role=shift.role, start__lt=shift.end, end__gt=shift.start)
            .exclude(member_id=shift.member_id)
            .select_related("member")
            .order_by("start")
        )
        if _end_to_end(covers, shift.start, shift.end):
            # An approved swap, or a lead's overrides: nobody needs to take it over from the shift's person.
            names = list(dict.fromkeys(cover.member.name for cover in covers))
            raise RotaError(
                ngettext(
                    "%(members)s already covers this shift (an override).",
                    "%(members)s already cover this shift (overrides).",
                    len(names),
                )
                % {"members": ", ".join(names)},
                field="shift",
            )
        try:
            with transaction.atomic():
                swap = Swap.objects.create(
                    team_id=shift.team_id,
                    shift=shift,
                    role=shift.role,
                    start=shift.start,
                    end=shift.end,
                    asker=shift.member,
                    reason=reason,
                )
        except IntegrityError as exc:
            raise RotaError(gettext("This shift already has a swap in play."), field="shift") from exc
        swap = Swap.objects.select_related("team", "asker").get(pk=swap.pk)
        _record(swap, "asked", actor)
        offered = swap_teammates(swap=swap)
        for member in offered:
            _tell(
                swap,
                member,
                "offer",
                gettext_lazy("Reply TAKE %(id)d to cover %(asker)s, %(role)s %(span)s (%(zone)s)."),
                {"id": swap.pk, "asker": swap.asker.name, "role": swap.role, "span": _SPAN, "zone": _ZONE},
                extra=reason,
            )
    return swap


def swap_take(
    *, swap: Swap, taker: Member, actor: Actor, now: dt.datetime | None = None, notices_later: bool = False
) -> Swap:
    """The first teammate to take the swap wins; the others are told it is gone. Without approval on the
    team, the swap is approved at once (the taker is on call for the shift).

    With `notices_later` the step is recorded as owing its texts, and `swap_notices_publish` sends them
    (an SMS command answers without texting anyone else)."""
    now = now or timezone.now()
    with transaction.atomic():
        services.team_lock(team_id=swap.team_id)  # who covers what then does not change under the checks
        swap = _locked(swap)
        if swap.state != Swap.State.OPEN:
            raise _already(swap)
        if swap.start <= now:
            raise RotaError(gettext("Swap %(id)d expired: its shift has started.") % {"id": swap.pk}, field="state")
        if stale := _out_of_date(swap):
            raise stale
        offered = swap_teammates(swap=swap)
        if taker.pk not in {member.pk for member in offered}:
            raise RotaError(_cannot_take(swap, taker), field="member")
        if not _move(swap, to=Swap.State.TAKEN, moves_from=(Swap.State.OPEN,), taker=taker):
            raise _already(Swap.objects.select_related("taker").get(pk=swap.pk))
        event = _record(swap, "taken", actor, notices_pending=notices_later)
        if not swap.team.swap_approval:
            automatic = Actor(gettext("automatic (no approval needed)"), via=actor.via)
            _approve(swap, automatic, at=event.created_at if notices_later else None)
        if not notices_later:
            _taken_notices(swap, offered=offered, approval_needed=swap.team.swap_approval)
            if not swap.team.swap_approval:
                _approved_notices(swap)
        swap.notices_event_id = event.pk if notices_later else None
    return swap


def _taken_notices(swap: Swap, *, offered: list[Member], approval_needed: bool) -> None:
    """The other teammates hear it is gone; when a lead must approve, the leads are asked and the asker told."""
    for member in offered:
        if member.pk != swap.taker_id:
            _tell(
                swap,
                member,
                "gone",
                gettext_lazy("Swap %(id)d is gone: %(taker)s covers %(asker)s."),
                {"id": swap.pk, "taker": swap.taker.name, "asker": swap.asker.name},
            )
    if not approval_needed:
        return
    for lead in _leads(swap.team):
        _tell(
            swap,
            lead,
            "approval",
            gettext_lazy(
                "%(taker)s would cover %(asker)s, %(role)s %(span)s (%(zone)s). Reply APPROVE %(id)d or DECLINE %(id)d."
            ),
            {
                "taker": swap.taker.name,
                "asker": swap.asker.name,
                "role": swap.role,
                "span": _SPAN,
                "zone": _ZONE,
                "id": swap.pk,
            },
        )
    _tell(
        swap,
        swap.asker,
        "taken",
        gettext_lazy("%(taker)s offers to cover your %(role)s shift (swap %(id)d); a lead approves it."),
        {"taker": swap.taker.name, "role": swap.role, "id": swap.pk},
    )


def _approved_notices(swap: Swap) -> None:
    for member in (swap.taker, swap.asker):
        _tell(
            swap,
            member,
            "approved",
            gettext_lazy("Swap %(id)d approved: %(taker)s covers %(asker)s, %(role)s %(span)s (%(zone)s)."),
            {
                "id": swap.pk,
                "taker": swap.taker.name,
                "asker": swap.asker.name,
                "role": swap.role,
                "span": _SPAN,
                "zone": _ZONE,
            },
        )


def _declined_notices(swap: Swap, *, lead_name: str) -> None:
    text = gettext_lazy("Swap %(id)d declined by %(lead)s: %(asker)s keeps the %(role)s shift.")
    values = {"id": swap.pk, "lead": lead_name, "asker": swap.asker.name, "role": swap.role}
    _tell(swap, swap.asker, "declined", text, values)
    _tell(swap, swap.taker, "declined", text, values)


def _override_reason(swap_id: int, asker_name: str) -> str:
    return gettext("Swap %(id)d: covers %(asker)s") % {"id": swap_id, "asker": asker_name}


def _approve(swap: Swap, actor: Actor, *, at: dt.datetime | None = None, notices_pending: bool = False) -> SwapEvent:
    """Inside the caller's transaction, with the row locked: the override for the taker, and its event."""
    try:
        override = services.override_create(
            team=swap.team,
            role=swap.role,
            member=swap.taker,
            start=swap.start,
            end=swap.end,
            reason=_override_reason(swap.pk, swap.asker.name),
            created_by=actor.user,
        )
    except ValidationError as exc:
        raise RotaError(
            gettext("Swap %(id)d cannot be approved: %(why)s") % {"id": swap.pk, "why": " ".join(exc.messages)},
            field="state",
        ) from exc
    _move(swap, to=Swap.State.APPROVED, moves_from=(Swap.State.TAKEN,), override=override)
    event = _record(swap, "approved", actor, notices_pending=notices_pending)
    if at is not None:
        # Recorded by the same step as the take: the take's notices then tell of the approval too.
        SwapEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def swap_approve(*, swap: Swap, actor: Actor, notices_later: bool = False) -> Swap:
    with transaction.atomic():
        services.team_lock(team_id=swap.team_id)  # who covers what then does not change under the checks
        swap = _locked(swap)
        if swap.state != Swap.State.TAKEN:
            raise _already(swap)
        if stale := _out_of_date(swap):
            raise stale
        # A take checked it already (the offer's people); since then the taker may have come on call in the
        # other role.
        if refusal := _cannot_approve(swap, swap.taker):
            raise RotaError(refusal, field="state")
        event = _approve(swap, actor, notices_pending=notices_later)
        if not notices_later:
            _approved_notices(swap)
        swap.notices_event_id = event.pk if notices_later else None
    return swap


def swap_decline(*, swap: Swap, actor: Actor, notices_later: bool = False) -> Swap:
    """A lead says no: the asker keeps the shift; both people are told."""
    with transaction.atomic():
        swap = _locked(swap)
        if not _move(swap, to=Swap.State.DECLINED, moves_from=(Swap.State.TAKEN,)):
            raise _already(swap)
        event = _record(swap, "declined", actor, notices_pending=notices_later)
        if not notices_later:
            _declined_notices(swap, lead_name=actor.name)
        swap.notices_event_id = event.pk if notices_later else None
    return swap


def swap_cancel(*, swap: Swap, actor: Actor) -> Swap:
    """The asker (or a lead) withdraws the swap before it is approved; a taker is told."""
    with transaction.atomic():
        swap = _locked(swap)
        if not _move(swap, to=Swap.State.CANCELLED, moves_from=IN_PLAY):
            raise _already(swap)
        _record(swap, "cancelled", actor)
        _tell(
            swap,
            swap.taker,
            "cancelled",
            gettext_lazy("Swap %(id)d was cancelled: %(asker)s keeps the %(role)s shift."),
            {"id": swap.pk, "asker": swap.asker.name, "role": swap.role},
        )
    return swap


def swaps_expire(*, now: dt.datetime | None = None) -> int:
    """Swaps still open (or awaiting approval) when their shift starts expire; the asker is told."""
    now = now or timezone.now()
    expired = 0
    for swap in Swap.objects.filter(state__in=IN_PLAY, start__lte=now).select_related("team", "asker", "taker"):
        with transaction.atomic():
            if not _move(swap, to=Swap.State.EXPIRED, moves_from=IN_PLAY):
                continue
            _record(swap, "expired", Actor(gettext("beat"), via="beat"))
            _tell(
                swap,
                swap.asker,
                "expired",
                gettext_lazy("Swap %(id)d expired: nobody covered it in time, so the %(role)s shift stays yours."),
                {"id": swap.pk, "role": swap.role},
            )
            expired += 1
    return expired


# --- SMS ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsStep:
    """A swap as an SMS command found and left it (one statement's answer; see `_SMS_STEP`)."""

    swap_id: int
    state: str
    taker_name: str
    asker_name: str
    role: str
    has_started: bool
    may_take: bool  # TAKE: the sender is a free teammate of the role's rotation (not away, not in the other role)
    approval_needed: bool
    clash_free: bool  # the taker may cover the shift: a member, not away, no other override, not in the other role then
    event_id: int | None


# One statement per SMS step on PostgreSQL, in autocommit mode: the swap (of the sender's teams; of the
# teams they lead for APPROVE / DECLINE), locked, and moved if its state allows; for an approval the
# override for the taker (the checks of the override service: a member of the team, not away, no other
# override of the role then); and the step's events. The lock makes two commands at once one winner: the
# second finds the swap as the first left it. `notices_pending` marks the event whose texts are owed.
# The override is the override service's own SQL (teams.services.override_checks_sql, override_insert_sql).
# Its checks run under the team's lock, as the service's do (`_TEAM_LOCK`, sent with it).
_SMS_STEP = """
WITH target AS (
    SELECT s.id, s.state, s.team_id, s.shift_id, s.role, s.start, s."end", s.asker_id, s.taker_id AS current_taker_id,
           CASE WHEN %(command)s = 'TAKE' THEN %(member_id)s::integer ELSE s.taker_id END AS taker_id
    FROM {swap} s
    WHERE s.id = %(swap_id)s AND s.team_id IN (
        SELECT m.team_id FROM {membership} m
        WHERE m.member_id = %(member_id)s AND (%(command)s = 'TAKE' OR m.role = 'lead'))
    FOR UPDATE OF s
), checks AS (
    SELECT t.*, team.swap_approval,
        t.start <= %(now)s AS has_started,
        EXISTS (SELECT 1 FROM {shift} sh WHERE sh.id = t.shift_id AND sh.member_id = t.asker_id
                AND sh.role = t.role AND sh.start = t.start AND sh."end" = t."end") AS as_asked,
        (t.taker_id <> t.asker_id AND CASE
            WHEN EXISTS (SELECT 1 FROM {rotation} r WHERE r.team_id = t.team_id AND r.role = t.role)
            THEN EXISTS (SELECT 1 FROM {rotation} r JOIN {participant} p ON p.rotation_id = r.id
                         WHERE r.team_id = t.team_id AND r.role = t.role AND p.member_id = t.taker_id)
            ELSE EXISTS (SELECT 1 FROM {membership} m WHERE m.team_id = t.team_id AND m.member_id = t.taker_id)
        END AND NOT EXISTS (SELECT 1 FROM {time_off} a WHERE a.team_id = t.team_id AND a.member_id = t.taker_id
                            AND a.start < t."end" AND a."end" > t.start)
            AND t.taker_id NOT IN ({other_role_on_call})) AS may_take,
        ({override_checks} AND t.taker_id NOT IN ({other_role_on_call})) AS clash_free
    FROM target t JOIN {team} team ON team.id = t.team_id
), step AS (
    -- What this command does: the state it moves to, and whether it approves (an override).
    SELECT c.id, c.team_id, c.role, c.start, c."end", c.taker_id, c.asker_id,
        CASE %(command)s WHEN 'DECLINE' THEN 'declined'
             WHEN 'APPROVE' THEN 'approved'
             ELSE CASE WHEN c.swap_approval THEN 'taken' ELSE 'approved' END END AS new_state,
        (%(command)s = 'APPROVE' OR (%(command)s = 'TAKE' AND NOT c.swap_approval)) AS approves
    FROM checks c
    WHERE c.state = CASE WHEN %(command)s = 'TAKE' THEN 'open' ELSE 'taken' END
      AND (%(command)s <> 'TAKE' OR (NOT c.has_started AND c.may_take))
      AND (%(command)s = 'DECLINE' OR c.as_asked)
      AND (c.clash_free OR NOT (%(command)s = 'APPROVE' OR (%(command)s = 'TAKE' AND NOT c.swap_approval)))
), cover AS (
    {override_insert}
), moved AS (
    UPDATE {swap} s SET state = st.new_state, taker_id = st.taker_id, updated_at = %(now)s,
        override_id = (SELECT id FROM cover)
    FROM step st WHERE s.id = st.id
    RETURNING s.id, s.state, s.taker_id
), events AS (
    INSERT INTO {event} (swap_id, action, actor, user_id, member_id, via, created_at, notices_pending)
    SELECT moved.id, e.action, e.actor, e.user_id, e.member_id, %(via)s, %(now)s, e.owes
    FROM moved CROSS JOIN (VALUES
        (%(action)s, %(actor)s, %(user_id)s::integer, %(member_id)s::integer, TRUE),
        ('approved', %(automatic)s, NULL::integer, NULL::integer, FALSE)
    ) AS e(action, actor, user_id, member_id, owes)
    WHERE e.owes OR (%(command)s = 'TAKE' AND moved.state = 'approved')
    RETURNING id, notices_pending
)
SELECT c.id, coalesce(moved.state, c.state), coalesce(taker.name, ''), asker.name, c.role, c.has_started,
       c.may_take, c.swap_approval, c.clash_free, (SELECT id FROM events WHERE notices_pending)
FROM checks c
JOIN {member} asker ON asker.id = c.asker_id
LEFT JOIN moved ON moved.id = c.id
LEFT JOIN {member} taker ON taker.id = coalesce(moved.taker_id, c.current_taker_id)
"""


# The taker's override, for the override service's INSERT: the shift's hours, the reason in the approver's
# language around the asker's name.
_COVER_SOURCE = """SELECT st.team_id, st.role, st.taker_id AS member_id, st.start, st."end",
           %(reason_before)s || asker.name || %(reason_after)s AS reason,
           %(approver_user_id)s::integer AS created_by_id, %(now)s::timestamptz AS written_at
    FROM step st JOIN {member} asker ON asker.id = st.asker_id
    WHERE st.approves"""


# The swap's team locked first, as every rota writer locks it (teams.services.team_lock), in a statement of
# its own sent in the same message as the step: the two run as one transaction (PostgreSQL's simple query
# protocol, which the default cursor's client-side binding uses), and the step's snapshot is taken once the
# lock is held, so it sees the override of a step that held the lock before it (two TAKEs by one person of
# two swaps at once would otherwise both pass the other-role check).
_TEAM_LOCK = """SELECT 1 FROM {team} WHERE id = (SELECT team_id FROM {swap} WHERE id = %(swap_id)s) FOR NO KEY UPDATE;
"""


@functools.cache
def _sms_step_sql() -> str:
    return _TEAM_LOCK.format(team=Team._meta.db_table, swap=Swap._meta.db_table) + _SMS_STEP.format(
        swap=Swap._meta.db_table,
        event=SwapEvent._meta.db_table,
        membership=TeamMembership._meta.db_table,
        rotation=Rotation._meta.db_table,
        participant=RotationParticipant._meta.db_table,
        time_off=TimeOff._meta.db_table,
        team=Team._meta.db_table,
        member=Member._meta.db_table,
        shift=Shift._meta.db_table,
        other_role_on_call=selectors.other_role_on_call_sql(
            team="t.team_id", role="t.role", start="t.start", end='t."end"'
        ),
        override_checks=services.override_checks_sql(row="t", member="taker_id"),
        override_insert=services.override_insert_sql(source=_COVER_SOURCE.format(member=Member._meta.db_table)),
    )


def _sms_step(*, member: Member, command: str, swap_id: int) -> SmsStep | None:
    """The step on PostgreSQL: one statement (see `_SMS_STEP`); None when the swap is not the sender's."""
    via = f"SMS from {member.phone}"  # as Actor.of_member records it, without reading the member's login
    # The override's reason in the approver's language, around the asker's name (which the statement reads).
    before, _, after = _override_reason(swap_id, "\x00").partition("\x00")
    params = {
        "command": command,
        "swap_id": swap_id,
        "member_id": member.pk,
        "now": timezone.now(),
        "action": {"TAKE": "taken", "APPROVE": "approved", "DECLINE": "declined"}[command],
        "actor": member.name[:150],
        "user_id": member.user_id,
        "via": via[:40],
        "automatic": gettext("automatic (no approval needed)")[:150],
        "approver_user_id": member.user_id if command == "APPROVE" else None,
        "reason_before": before,
        "reason_after": after,
    }
    with connection.cursor() as cursor:
        cursor.execute(_sms_step_sql(), params)
        cursor.nextset()  # past the team's lock, to the step's row
        row = cursor.fetchone()
    return SmsStep(*row) if row is not None else None


def _sms_refusal(step: SmsStep, command: str, member: Member) -> str:
    """Why the step did not happen, as the services say it."""
    swap = Swap.objects.select_related("team", "asker", "taker").get(pk=step.swap_id)
    wanted = Swap.State.OPEN if command == "TAKE" else Swap.State.TAKEN
    if swap.state != wanted:
        return _already(swap).message
    if command == "TAKE" and step.has_started:
        return gettext("Swap %(id)d expired: its shift has started.") % {"id": swap.pk}
    if command != "DECLINE" and (stale := _out_of_date(swap)):
        return stale.message
    if command == "TAKE" and not step.may_take:
        return _cannot_take(swap, member)
    # The override cannot be written: the taker is on call in the other role then, or the override service's
    # own checks say why.
    taker = member if command == "TAKE" else swap.taker
    refusal = _cannot_approve(swap, taker)
    if refusal:
        return refusal
    override = Override(team=swap.team, role=swap.role, member=taker, start=swap.start, end=swap.end)
    try:
        override.full_clean()
        why = ""
    except ValidationError as exc:
        why = " ".join(exc.messages)
    return gettext("Swap %(id)d cannot be approved: %(why)s") % {"id": swap.pk, "why": why}


def _sms_reply(step: SmsStep, command: str) -> str:
    if command == "TAKE":
        if step.state == Swap.State.APPROVED:
            return gettext("Swap %(id)d is yours: you cover %(asker)s, %(role)s.") % {
                "id": step.swap_id,
                "asker": step.asker_name,
                "role": role_name(step.role),
            }
        return gettext("Swap %(id)d is yours once a lead approves it.") % {"id": step.swap_id}
    if command == "APPROVE":
        return gettext("Swap %(id)d approved.") % {"id": step.swap_id}
    return gettext("Swap %(id)d declined.") % {"id": step.swap_id}


def _sms_step_in_transaction(*, member: Member, command: str, swap_id: int) -> str:
    """Databases without data-modifying CTEs (SQLite): the services, in short transactions."""
    # One filter() call: the member and the lead role are the same membership row.
    standing = {"team__memberships__member": member}
    if command in ("APPROVE", "DECLINE"):
        standing["team__memberships__role"] = TeamMembership.Role.LEAD
    swap = Swap.objects.filter(pk=swap_id, **standing).select_related("team", "asker", "taker").first()
    if swap is None:
        return gettext("There is no swap %(id)d for you.") % {"id": swap_id}
    actor = Actor.of_member(member, via=f"SMS from {member.phone}")
    try:
        if command == "TAKE":
            swap = swap_take(swap=swap, taker=member, actor=actor, notices_later=True)
        elif command == "APPROVE":
            swap = swap_approve(swap=swap, actor=actor, notices_later=True)
        else:
            swap = swap_decline(swap=swap, actor=actor, notices_later=True)
    except RotaError as exc:
        return exc.message
    swap_notices_publish(event_id=swap.notices_event_id)
    step = SmsStep(swap.pk, swap.state, "", swap.asker.name, swap.role, False, True, False, True, None)
    return _sms_reply(step, command)


def swap_sms_command(*, member: Member, action: str, swap_id: int) -> str:
    """`TAKE 12` from a teammate, `APPROVE 12` / `DECLINE 12` from a lead of the swap's team.

    `From` only names the member: a swap outside their teams (or, for APPROVE / DECLINE, outside the teams they
    lead) gets the same answer as one that does not exist. The step is made and answered at once; the texts
    it owes the others follow in a task (`swap_notices_send`), or the expiry sweep when that task was lost.
    """
    command = action.upper()
    if swap_id > ROW_ID_MAX:
        step = None
    elif connection.vendor != "postgresql":
        return _sms_step_in_transaction(member=member, command=command, swap_id=swap_id)
    else:
        step = _sms_step(member=member, command=command, swap_id=swap_id)
    if step is None:
        return gettext("There is no swap %(id)d for you.") % {"id": swap_id}
    if step.event_id is None:
        return _sms_refusal(step, command, member)
    swap_notices_publish(event_id=step.event_id)
    return _sms_reply(step, command)


def swap_notices_publish(*, event_id: int) -> None:
    """Hand a step's texts to the worker (one fast attempt; the sweep does the rest). The step is committed
    by now; a task that ran too early would find nothing owed yet and leave it to the sweep."""
    try:
        task_publish("telephony.tasks.swaps.swap_notices_send", args=[event_id])
    except Exception:
        logger.warning("Could not publish the texts of swap event %s: the sweep will", event_id, exc_info=True)


def swap_notices_send(*, event_id: int) -> bool:
    """Send the texts a step made by SMS owes, once: the event is locked (skip locked) and cleared in the
    same transaction, and each text has its dedupe key. False when nothing was owed."""
    with transaction.atomic():
        event = (
            SwapEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=event_id, notices_pending=True)
            .first()
        )
        if event is None:
            return False
        swap = Swap.objects.select_related("team", "asker", "taker").get(pk=event.swap_id)
        if event.action == "taken":
            # A take the team needs no approval for was approved by the same step: at the same instant, by
            # nobody (a lead's approval names the lead's member or login).
            automatic = swap.events.filter(
                action="approved", created_at=event.created_at, member__isnull=True, user__isnull=True
            ).exists()
            _taken_notices(swap, offered=swap_teammates(swap=swap), approval_needed=not automatic)
            if automatic:
                _approved_notices(swap)
        elif event.action == "approved":
            _approved_notices(swap)
        elif event.action == "declined":
            _declined_notices(swap, lead_name=event.actor)
        SwapEvent.objects.filter(pk=event.pk).update(notices_pending=False)
    return True


def swap_notices_sweep(*, now: dt.datetime | None = None) -> int:
    """Send the texts of steps whose task was lost (broker down, worker gone); returns how many steps."""
    owed = SwapEvent.objects.filter(notices_pending=True)
    return owed_sweep(owed, swap_notices_send, now=now or timezone.now(), what="swap event")


def swap_of_team(*, team: Team, swap_id: int) -> Swap | None:
    return Swap.objects.filter(team=team, pk=swap_id).select_related("team", "asker", "taker", "shift").first()


__all__ = [
    "Actor",
    "swap_approve",
    "swap_cancel",
    "swap_decline",
    "swap_of_team",
    "swap_request",
    "swap_notices_send",
    "swap_notices_sweep",
    "swap_sms_command",
    "swap_take",
    "swap_teammates",
    "swaps_expire",
]
