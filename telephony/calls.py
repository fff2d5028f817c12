"""The call flow: find the team by the number called, ring the escalation chain, hand over to voicemail.

One function per step Twilio drives (incoming, screening key press, dial result, recording, transcription,
status callback); the recording and transcription steps live in telephony.voicemail. Views validate and
turn the returned decision into TwiML; every decision is made here.

Escalation chain: primary, secondary, team fallback phone, voicemail. A phone is skipped when it was already
tried in this call, when it is empty, or when it is one of our own support numbers (or the number called):
dialling those comes straight back into the incoming webhook, a loop that would ring forever.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from django.db import IntegrityError, connection, router, transaction
from django.db.models import F, Q
from django.utils import timezone

from teams import selectors
from teams.models import Member, SupportNumber, Team
from telephony import costs, flow
from telephony.flow import Candidate
from telephony.models import Call, DialAttempt

logger = logging.getLogger(__name__)

ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})
# Our own dial status: the callee heard who was calling and pressed 2 to pass the call on.
PASSED = "passed"
PASS_DIGITS = "2"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class Next:
    """What the caller's leg does next; the view renders it with telephony.twiml."""

    DIAL = "dial"
    VOICEMAIL = "voicemail"
    UNKNOWN_NUMBER = "unknown_number"
    REFUSED = "refused"
    HANG_UP = "hang_up"
    REJECT = "reject"
    MENU = "menu"


@dataclass(frozen=True)
class Decision:
    next: str
    call: Call | None = None
    attempt: DialAttempt | None = None
    team: Team | None = None
    # Everyone rung at once in this Dial (`attempt` is the first of them).
    attempts: tuple[DialAttempt, ...] = ()
    # The menu the caller hears: (digit, team) pairs, on the number called.
    menu: tuple[tuple[str, Team], ...] = ()
    number: SupportNumber | None = None


# What Twilio sends in `From` when the caller withheld their number (and a few carriers' spellings of it).
WITHHELD_CALLERS = frozenset({"", "+266696687", "anonymous", "restricted", "unknown", "private", "unavailable"})
_PHONE_WITH_SEPARATORS = re.compile(r"\+[\d\s().-]+")


def param_fit(model, field: str, value: str | None) -> str:
    """A Twilio parameter cut to the column it is stored in: a SIP URI caller or a garbage CallSid must not
    fail the INSERT (PostgreSQL refuses over-long values) and with it the call or the voicemail."""
    return (value or "")[: model._meta.get_field(field).max_length]


def phone_normalize(value: str | None) -> str:
    """`+49 30 1234-0001` → `+493012340001`; anything else (client:…, sip:…, anonymous) stays as it is."""
    value = (value or "").strip()
    if _PHONE_WITH_SEPARATORS.fullmatch(value):
        return "+" + re.sub(r"\D", "", value)
    return value


def caller_is_withheld(from_number: str) -> bool:
    return from_number.strip().lower() in WITHHELD_CALLERS


# --- lookups ------------------------------------------------------------------------------------------


def _team_and_blocked_numbers(to_number: str) -> tuple[Team | None, set[str]]:
    number, blocked = _number_and_blocked_numbers(to_number)
    return (number.team if number else None), blocked


def _number_and_blocked_numbers(to_number: str) -> tuple[SupportNumber | None, set[str]]:
    """The support number `to_number` (with its team) and every support number a person or fallback phone
    could collide with.

    One query: the called number's row plus any support number equal to some member's phone or some
    team's fallback phone. Any phone of the chain that is one of our numbers is therefore in the set,
    whatever the number of teams.
    """
    rows = list(
        SupportNumber.objects.select_related("team").filter(
            Q(phone_number=to_number)
            | Q(phone_number__in=Member.objects.values("phone"))
            | Q(phone_number__in=Team.objects.exclude(fallback_phone="").values("fallback_phone"))
        )
    )
    number = next((row for row in rows if row.phone_number == to_number), None)
    blocked = {row.phone_number for row in rows}
    if to_number:
        blocked.add(to_number)
    return number, blocked


def _chosen_team_and_blocked_numbers(team_id: int, to_number: str) -> tuple[Team | None, set[str]]:
    """The team a menu key chose and the support numbers no phone of its flow may be: one query, the team's
    row once per support number, plus the teams owning a number that some member's or fallback phone is."""
    rows = list(
        Team.objects.filter(
            Q(pk=team_id)
            | Q(numbers__phone_number__in=Member.objects.values("phone"))
            | Q(numbers__phone_number__in=Team.objects.exclude(fallback_phone="").values("fallback_phone"))
        ).annotate(number=F("numbers__phone_number"))
    )
    team = next((row for row in rows if row.pk == team_id), None)
    blocked = {row.number for row in rows if row.number}
    if to_number:
        blocked.add(to_number)
    return team, blocked


def _chain(team: Team, at: dt.datetime) -> list[Candidate]:
    """Primary, secondary, team fallback phone: two queries (shifts and overrides covering `at`)."""
    oncall = selectors.oncall_at(team=team, at=at)
    chain = [
        Candidate(target, oncall[role].member, oncall[role].member.phone)
        for target, role in ((DialAttempt.Target.PRIMARY, "primary"), (DialAttempt.Target.SECONDARY, "secondary"))
        if oncall[role].member is not None
    ]
    if team.fallback_phone:
        chain.append(Candidate(DialAttempt.Target.FALLBACK, None, team.fallback_phone))
    return chain


def _write_once(write, existing):
    """Run the INSERT `write`, or return `existing()` when a row with the same unique key is there already
    (a replayed request).

    In autocommit mode (a webhook request) this is one statement and no BEGIN/COMMIT: the incoming-call
    budget is 5 round trips. Inside a caller's transaction, a savepoint keeps a duplicate from poisoning it.
    """
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                return write()
        return write()
    except IntegrityError:
        return existing()


def _insert_once(obj, **lookup):
    def write():
        obj.save(force_insert=True)
        return obj

    return _write_once(write, lambda: type(obj).objects.get(**lookup))


def call_insert(call: Call) -> Call:
    return _insert_once(call, call_sid=call.call_sid)


def _add_ring(call: Call, candidates: list[Candidate], position: int) -> tuple[DialAttempt, ...]:
    """The dial attempts of one Dial from `position` on: one INSERT, however many phones ring at once."""
    group = position if len(candidates) > 1 else None
    attempts = [
        DialAttempt(
            call=call,
            position=position + i,
            target=candidate.target,
            member=candidate.member,
            phone=candidate.phone,
            ring_group=group,
        )
        for i, candidate in enumerate(candidates)
    ]
    if len(attempts) == 1:
        return (_insert_once(attempts[0], call=call, position=position),)

    def existing():
        rows = DialAttempt.objects.filter(call=call, position__gte=position, position__lt=position + len(attempts))
        return tuple(rows.select_related("member"))

    return _write_once(lambda: _insert_rows(attempts), existing)


def _insert_rows(rows: list[DialAttempt]) -> tuple[DialAttempt, ...]:
    """One multi-row INSERT … RETURNING id (PostgreSQL, SQLite 3.35+). bulk_create would wrap that single
    statement in BEGIN/COMMIT, two round trips of the incoming call's budget; QuerySet._insert is the
    statement it runs inside them."""
    meta = DialAttempt._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    using = router.db_for_write(DialAttempt)
    returned = DialAttempt.objects._insert(rows, fields=fields, returning_fields=meta.db_returning_fields, using=using)
    for row, values in zip(rows, returned, strict=True):
        row.pk = values[0]
        row._state.adding, row._state.db = False, using
    return tuple(rows)


def _first_ring(call: Call, team: Team, *, at: dt.datetime, blocked: set[str]) -> Decision:
    """The desk during business hours, else the start of the on-call chain, else voicemail."""
    # Never ring the caller's own phone (an on-call person calling their own team line): it is busy.
    skip = blocked | {call.from_number}
    ring = flow.desk_ring(team, caller=call.from_number, at=at, skip=skip) or flow.next_ring(
        _chain(team, at), tried=(), skip=skip, at_once=flow.rings_at_once(team, call.from_number)
    )
    if not ring:
        return Decision(Next.VOICEMAIL, call, team=team)
    attempts = _add_ring(call, ring, 0)
    return Decision(Next.DIAL, call, attempts[0], team, attempts)


# --- the steps Twilio drives --------------------------------------------------------------------------


def call_incoming(
    *, call_sid: str, from_number: str, to_number: str, call_status: str = "", at: dt.datetime | None = None
) -> Decision:
    """A caller dialled a team number: record the Call and decide: reject a blocked caller, offer the
    number's menu, or ring the desk or the on-call chain (telephony.flow decides which).

    At most 5 queries whatever the size of the rota: team and blocked numbers (1), who is on call (2),
    the Call (1), the first dial attempt(s) (1), and no BEGIN/COMMIT in autocommit mode; a menu reads its
    teams instead of the rota (3 in all), the desk needs no rota (3). No network call.
    """
    at = at or timezone.now()
    call_sid, call_status = param_fit(Call, "call_sid", call_sid), param_fit(Call, "status", call_status)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    number, blocked = _number_and_blocked_numbers(to_number)
    team = number.team if number else None
    call = Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number, status=call_status)
    if team is None:
        call.outcome = Call.Outcome.UNKNOWN_NUMBER
        return Decision(Next.UNKNOWN_NUMBER, call_insert(call))
    if flow.caller_is_blocked(team, from_number):
        call.outcome = Call.Outcome.BLOCKED
        return Decision(Next.REJECT, call_insert(call), team=team)
    if team.allowed_callers and from_number not in team.allowed_callers:
        call.outcome = Call.Outcome.REFUSED
        return Decision(Next.REFUSED, call_insert(call), team=team)
    if number.menu and not flow.caller_is_vip(team, from_number):
        choices = flow.menu_choices(number.menu, Team.objects.filter(slug__in=flow.menu_slugs(number.menu)))
        if choices:
            return Decision(Next.MENU, call_insert(call), team=team, menu=tuple(choices), number=number)
    return _first_ring(call_insert(call), team, at=at, blocked=blocked)


def call_menu_choice(
    *,
    call_id: int | None,
    call_sid: str,
    from_number: str,
    to_number: str,
    digits: str,
    route: dict[str, int],
    own_team_id: int | None,
    at: dt.datetime | None = None,
) -> Decision:
    """The caller pressed a key at the menu (or none, three times): that team's whole flow takes the call,
    and the Call is logged for it with the key. At most 5 queries: the team and blocked numbers (1), who is
    on call (2), the Call (1), the dial attempt(s) (1)."""
    at = at or timezone.now()
    call_sid = param_fit(Call, "call_sid", call_sid)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    if own_team_id is None:
        return Decision(Next.VOICEMAIL)
    team_id, digit = flow.menu_team_id(route=route, digits=digits, own_team_id=own_team_id)
    team, blocked = _chosen_team_and_blocked_numbers(team_id, to_number)
    if team is None and team_id != own_team_id:  # deleted since the menu was read: the number's own team
        team_id, digit = own_team_id, ""
        team, blocked = _chosen_team_and_blocked_numbers(team_id, to_number)
    if team is None:
        return Decision(Next.VOICEMAIL)
    call = Call(
        pk=call_id, call_sid=call_sid, team=team, from_number=from_number, to_number=to_number, menu_digit=digit
    )
    if call_id is None or not Call.objects.filter(pk=call_id, call_sid=call_sid).update(team=team, menu_digit=digit):
        call = call_insert(
            Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number, menu_digit=digit)
        )
    return _first_ring(call, team, at=at, blocked=blocked)


def attempt_for_screening(*, attempt_id: int | None) -> DialAttempt | None:
    if attempt_id is None:
        return None
    return DialAttempt.objects.select_related("call__team", "member").filter(pk=attempt_id).first()


def attempt_accept(*, attempt_id: int | None, dial_call_sid: str, parent_call_sid: str, digits: str) -> bool:
    """The callee pressed a key during screening: store the acceptance on our side, once.

    Twilio may report the leg `completed` whether or not anyone accepted, so this row is what makes a call
    answered. The key 2 passes instead: the attempt is marked `passed`, the leg is hung up (False), and
    its Dial action moves the call on at once. A pass never undoes an acceptance already stored.
    """
    if attempt_id is None or not digits:
        return False
    dial_call_sid, parent_call_sid = (
        param_fit(DialAttempt, "dial_call_sid", dial_call_sid),
        param_fit(Call, "call_sid", parent_call_sid),
    )
    attempts = DialAttempt.objects.filter(pk=attempt_id)
    if parent_call_sid:
        attempts = attempts.filter(call__call_sid=parent_call_sid)
    if digits == PASS_DIGITS:
        attempts.filter(accepted_at__isnull=True).update(dial_status=PASSED, dial_call_sid=dial_call_sid)
        return False
    updated = attempts.filter(accepted_at__isnull=True).update(accepted_at=timezone.now(), dial_call_sid=dial_call_sid)
    return bool(updated) or attempts.filter(accepted_at__isnull=False).exists()


def dial_result(
    *,
    attempt_id: int | None,
    call_sid: str,
    call_status: str,
    dial_status: str,
    dial_call_sid: str,
    dial_duration_seconds: int | None = None,
    at: dt.datetime | None = None,
) -> Decision:
    """A dialled leg ended: answered (status completed/answered and accepted), else the next in the chain.
    The leg's minutes are charged (telephony.costs)."""
    at = at or timezone.now()
    call_sid, dial_call_sid = (
        param_fit(Call, "call_sid", call_sid),
        param_fit(DialAttempt, "dial_call_sid", dial_call_sid),
    )
    dial_status = param_fit(DialAttempt, "dial_status", dial_status)
    attempt = (
        DialAttempt.objects.select_related("call__team", "member")
        .filter(pk=attempt_id, call__call_sid=call_sid)
        .first()
        if attempt_id is not None
        else None
    )
    if attempt is None:
        logger.warning("Dial result for an unknown attempt %s of call %s: voicemail", attempt_id, call_sid)
        return Decision(Next.VOICEMAIL)
    call = attempt.call
    ring = _ring_of(attempt)
    # A pass stays a pass, whatever Twilio reports for the leg that hung up (completed or no-answer).
    attempt.dial_status = attempt.dial_status if attempt.dial_status == PASSED else dial_status
    if dial_call_sid and len(ring) == 1:
        attempt.dial_call_sid = dial_call_sid
    attempt.save(update_fields=["dial_status", "dial_call_sid"])
    if len(ring) > 1:
        # Rung at once: one Dial, one result (Twilio's DialCallSid is the leg that was connected, if any).
        DialAttempt.objects.filter(call=call, ring_group=attempt.ring_group).exclude(pk=attempt.pk).exclude(
            dial_status=PASSED
        ).update(dial_status=dial_status)
    costs.leg_charge_record(
        call=call, dial_call_sid=dial_call_sid or attempt.dial_call_sid, seconds=dial_duration_seconds
    )
    accepted = next((a for a in ring if a.accepted_at is not None), None)
    if dial_status in ANSWERED_DIAL_STATUSES and accepted is not None:
        Call.objects.filter(pk=call.pk).update(
            outcome=Call.Outcome.ANSWERED, answered_by=accepted.member, answered_number=accepted.phone
        )
        return Decision(Next.HANG_UP, call, attempt, call.team)
    if call_status in FINAL_CALL_STATUSES:
        # The caller hung up while we were ringing: nobody to connect any more.
        return Decision(Next.HANG_UP, call, attempt, call.team)
    if call.team is None:
        return Decision(Next.VOICEMAIL, call)
    tried = list(call.attempts.select_related("member"))
    last = max(a.position for a in ring)
    later = [a for a in tried if a.position > last]
    if later:
        # The same Dial action again (a retried or duplicated request): answer as the first time did, never
        # ring a new person for it. If that person's leg already ended, the call has moved on: voicemail.
        if not later[0].dial_status:
            again = tuple(a for a in later if a.ring_group is not None and a.ring_group == later[0].ring_group)
            return Decision(Next.DIAL, call, later[0], call.team, again or (later[0],))
        return Decision(Next.VOICEMAIL, call, team=call.team)
    _, blocked = _team_and_blocked_numbers(call.to_number)
    ring = flow.next_ring(
        _chain(call.team, at),
        tried=tried,
        skip=blocked | {call.from_number},
        at_once=flow.rings_at_once(call.team, call.from_number),
    )
    if not ring:
        return Decision(Next.VOICEMAIL, call, team=call.team)
    attempts = _add_ring(call, ring, max(a.position for a in tried) + 1)
    return Decision(Next.DIAL, call, attempts[0], call.team, attempts)


def _ring_of(attempt: DialAttempt) -> list[DialAttempt]:
    """The attempts rung in the same Dial as `attempt` (itself alone for a single phone)."""
    if attempt.ring_group is None:
        return [attempt]
    rows = DialAttempt.objects.filter(call_id=attempt.call_id, ring_group=attempt.ring_group).select_related("member")
    return [attempt if row.pk == attempt.pk else row for row in rows]


def call_status_update(
    *, call_sid: str, call_status: str, duration_seconds: int | None, from_number: str = "", to_number: str = ""
) -> Call | None:
    """Call status callback: keep the final status and duration; a call nobody took and that left no
    voicemail was abandoned (or failed). Answered, voicemail, refused and unknown-number outcomes stay."""
    if not call_sid:
        return None
    call_sid, call_status = param_fit(Call, "call_sid", call_sid), param_fit(Call, "status", call_status)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    call = Call.objects.filter(call_sid=call_sid).first()
    if call is None:
        # The incoming webhook never stored it (database was down, the fallback answered): log it now.
        team = selectors.team_by_support_number(phone_number=to_number) if to_number else None
        call = call_insert(
            Call(
                call_sid=call_sid,
                team=team,
                from_number=from_number,
                to_number=to_number,
                outcome=Call.Outcome.IN_PROGRESS if team else Call.Outcome.UNKNOWN_NUMBER,
            )
        )
    if call.ended_at is not None and call_status not in FINAL_CALL_STATUSES:
        return call  # a late, out-of-order callback never reopens a finished call
    call.status = call_status
    fields = ["status"]
    if duration_seconds is not None:
        call.duration_seconds = duration_seconds
        fields.append("duration_seconds")
    if call_status in FINAL_CALL_STATUSES:
        call.ended_at = call.ended_at or timezone.now()
        fields.append("ended_at")
        if call.outcome == Call.Outcome.IN_PROGRESS:
            call.outcome = Call.Outcome.FAILED if call_status == "failed" else Call.Outcome.ABANDONED
            fields.append("outcome")
    call.save(update_fields=fields)
    if call.ended_at is not None:
        costs.call_charge_record(call=call)
    return call
