"""Shift swaps: ask for cover of one future shift, offer it to the rotation's teammates by SMS, take it
(first TAKE wins), approve or decline it (when the team asks for approval), cancel it, expire it.

Every step is a SwapEvent with who and when, and every text goes through the outbox with a dedupe key, so a
retried request or a second beat tick tells nobody twice. A state change is one conditional UPDATE
("from these states only") inside a transaction that holds the swap's row: two TAKEs at once, from two
phones or two API calls, make one winner and one "already taken". Approval is an override for the taker over
the shift, written by the rota's own override service (its checks apply: no overlap, not while away).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_lazy

from teams import rota, selectors, services
from teams.errors import RotaError
from teams.models import Member, Shift, Team, TeamMembership
from telephony.models import OutboundMessage, Swap, SwapEvent
from telephony.notifications import role_name
from telephony.sms import sms_send

logger = logging.getLogger(__name__)

SWAP_COMMAND = re.compile(r"^(TAKE|APPROVE|DECLINE)\s+#?(\d{1,12})$")
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


def _record(swap: Swap, action: str, actor: Actor) -> None:
    SwapEvent.objects.create(
        swap=swap, action=action, actor=actor.name[:150], user=actor.user, member=actor.member, via=actor.via[:40]
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
        if Swap.objects.filter(shift=shift, state__in=IN_PLAY).exists():
            raise RotaError(gettext("This shift already has a swap in play."), field="shift")
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


def swap_take(*, swap: Swap, taker: Member, actor: Actor, now: dt.datetime | None = None) -> Swap:
    """The first teammate to take the swap wins; the others are told it is gone. Without approval on the
    team, the swap is approved at once (the taker is on call for the shift)."""
    now = now or timezone.now()
    with transaction.atomic():
        swap = _locked(swap)
        if swap.state != Swap.State.OPEN:
            raise _already(swap)
        if swap.start <= now:
            raise RotaError(gettext("Swap %(id)d expired: its shift has started.") % {"id": swap.pk}, field="state")
        offered = swap_teammates(swap=swap)
        if taker.pk not in {member.pk for member in offered}:
            raise RotaError(
                gettext("%(member)s cannot take swap %(id)d: only a free teammate of the %(role)s rotation can.")
                % {"member": taker.name, "id": swap.pk, "role": swap.role},
                field="member",
            )
        if not _move(swap, to=Swap.State.TAKEN, moves_from=(Swap.State.OPEN,), taker=taker):
            raise _already(Swap.objects.select_related("taker").get(pk=swap.pk))
        _record(swap, "taken", actor)
        for member in offered:
            if member.pk != taker.pk:
                _tell(
                    swap,
                    member,
                    "gone",
                    gettext_lazy("Swap %(id)d is gone: %(taker)s covers %(asker)s."),
                    {"id": swap.pk, "taker": taker.name, "asker": swap.asker.name},
                )
        if not swap.team.swap_approval:
            return _approve(swap, Actor(gettext("automatic (no approval needed)"), via=actor.via))
        for lead in _leads(swap.team):
            _tell(
                swap,
                lead,
                "approval",
                gettext_lazy(
                    "%(taker)s would cover %(asker)s, %(role)s %(span)s (%(zone)s). "
                    "Reply APPROVE %(id)d or DECLINE %(id)d."
                ),
                {
                    "taker": taker.name,
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
            {"taker": taker.name, "role": swap.role, "id": swap.pk},
        )
    return swap


def _approve(swap: Swap, actor: Actor) -> Swap:
    """Inside the caller's transaction, with the row locked: the override for the taker, both told."""
    try:
        override = services.override_create(
            team=swap.team,
            role=swap.role,
            member=swap.taker,
            start=swap.start,
            end=swap.end,
            reason=gettext("Swap %(id)d: covers %(asker)s") % {"id": swap.pk, "asker": swap.asker.name},
            created_by=actor.user,
        )
    except ValidationError as exc:
        raise RotaError(
            gettext("Swap %(id)d cannot be approved: %(why)s") % {"id": swap.pk, "why": " ".join(exc.messages)},
            field="state",
        ) from exc
    _move(swap, to=Swap.State.APPROVED, moves_from=(Swap.State.TAKEN,), override=override)
    _record(swap, "approved", actor)
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
    return swap


def swap_approve(*, swap: Swap, actor: Actor) -> Swap:
    with transaction.atomic():
        swap = _locked(swap)
        if swap.state != Swap.State.TAKEN:
            raise _already(swap)
        return _approve(swap, actor)


def swap_decline(*, swap: Swap, actor: Actor) -> Swap:
    """A lead says no: the asker keeps the shift; both people are told."""
    with transaction.atomic():
        swap = _locked(swap)
        if not _move(swap, to=Swap.State.DECLINED, moves_from=(Swap.State.TAKEN,)):
            raise _already(swap)
        _record(swap, "declined", actor)
        text = gettext_lazy("Swap %(id)d declined by %(lead)s: %(asker)s keeps the %(role)s shift.")
        values = {"id": swap.pk, "lead": actor.name, "asker": swap.asker.name, "role": swap.role}
        _tell(swap, swap.asker, "declined", text, values)
        _tell(swap, swap.taker, "declined", text, values)
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


def swap_sms_command(*, member: Member, action: str, swap_id: int) -> str:
    """`TAKE 12` from a teammate, `APPROVE 12` / `DECLINE 12` from a lead of the swap's team.

    `From` only names the member: a swap outside their teams (or, for APPROVE / DECLINE, outside the teams they
    lead) gets the same answer as one that does not exist.
    """
    action = action.upper()
    # One filter() call: the member and the lead role are the same membership row.
    standing = {"team__memberships__member": member}
    if action in ("APPROVE", "DECLINE"):
        standing["team__memberships__role"] = TeamMembership.Role.LEAD
    swap = Swap.objects.filter(pk=swap_id, **standing).select_related("team", "asker", "taker").first()
    if swap is None:
        return gettext("There is no swap %(id)d for you.") % {"id": swap_id}
    actor = Actor.of_member(member, via=f"SMS from {member.phone}")
    try:
        if action == "TAKE":
            swap = swap_take(swap=swap, taker=member, actor=actor)
            if swap.state == Swap.State.APPROVED:
                return gettext("Swap %(id)d is yours: you cover %(asker)s, %(role)s.") % {
                    "id": swap.pk,
                    "asker": swap.asker.name,
                    "role": swap.role,
                }
            return gettext("Swap %(id)d is yours once a lead approves it.") % {"id": swap.pk}
        if action == "APPROVE":
            swap_approve(swap=swap, actor=actor)
            return gettext("Swap %(id)d approved.") % {"id": swap.pk}
        swap_decline(swap=swap, actor=actor)
        return gettext("Swap %(id)d declined.") % {"id": swap.pk}
    except RotaError as exc:
        return exc.message


def swap_of_team(*, team: Team, swap_id: int) -> Swap | None:
    return Swap.objects.filter(team=team, pk=swap_id).select_related("team", "asker", "taker", "shift").first()


__all__ = [
    "Actor",
    "swap_approve",
    "swap_cancel",
    "swap_decline",
    "swap_of_team",
    "swap_request",
    "swap_sms_command",
    "swap_take",
    "swap_teammates",
    "swaps_expire",
]
