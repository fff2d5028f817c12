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

from django.utils import timezone

from teams import selectors
from teams.models import Role, SupportNumber, Team
from telephony import costs, dial_sql, flow, incoming_sql, rows
from telephony.flow import Candidate
from telephony.models import Call, DialAttempt

logger = logging.getLogger(__name__)

ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})
# Our own dial status: the callee heard who was calling and pressed 2 to pass the call on.
PASSED = "passed"
PASS_DIGITS = "2"
# A phone rung at once with the one that was connected: Twilio hung it up (its own leg status).
NOT_CONNECTED = "canceled"
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


def _chain(team: Team, read: incoming_sql.IncomingRead, at: dt.datetime) -> tuple[list[Candidate], set[str]]:
    """Primary, secondary, team fallback phone, and which of their phones are our own support numbers
    (dialling one comes straight back into the incoming webhook). No query when the statement of
    telephony.incoming_sql read the covering rows for this team; past the generated horizon (a far `at`),
    the rota's queries and one lookup of the chain's phones instead."""
    if read.team is not None and read.team.pk == team.pk and selectors.rows_are_the_whole_truth(at):
        shifts = [cover for cover in read.covers if not cover.is_override]
        overrides = [cover for cover in read.covers if cover.is_override]
        oncall = selectors.oncall_from_rows(team_ids=[team.pk], shifts=shifts, overrides=overrides, at=at)[team.pk]
        ours = {cover.member.phone for cover in read.covers if cover.phone_is_ours}
        if read.fallback_is_ours:
            ours.add(team.fallback_phone)
    else:
        oncall, ours = selectors.oncall_at(team=team, at=at), None
    chain = [
        Candidate(target, oncall[role].member, oncall[role].member.phone)
        for target, role in ((DialAttempt.Target.PRIMARY, Role.PRIMARY), (DialAttempt.Target.SECONDARY, Role.SECONDARY))
        if oncall[role].member is not None
    ]
    if team.fallback_phone:
        chain.append(Candidate(DialAttempt.Target.FALLBACK, None, team.fallback_phone))
    if ours is None:
        ours = selectors.support_numbers_among(phones=[candidate.phone for candidate in chain])
    return chain, ours


def call_insert(call: Call) -> Call:
    return rows.insert_once(call, call_sid=call.call_sid)


def _attempts(candidates: list[Candidate], position: int, call: Call | None = None) -> list[DialAttempt]:
    """The unsaved dial attempts of one Dial from `position` on (a ring group when several ring at once)."""
    group = position if len(candidates) > 1 else None
    return [
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


def _add_ring(call: Call, candidates: list[Candidate], position: int) -> tuple[DialAttempt, ...]:
    """The dial attempts of one Dial from `position` on: one INSERT, however many phones ring at once (a
    replayed request's: the rows its first run stored)."""
    return tuple(incoming_sql.attempts_insert(call, _attempts(candidates, position, call)))


def _first_ring(team: Team, read: incoming_sql.IncomingRead, *, caller: str, to_number: str, at) -> list[Candidate]:
    """The desk during business hours (its phones are never our own numbers: the team's validation refuses
    them), else the start of the on-call chain; nobody: voicemail. No query when `read` holds the team's
    covering rows."""
    skip = {to_number, caller}  # never the number called, never the caller's own phone (it is busy)
    desk = flow.desk_ring(team, caller=caller, at=at, skip=skip)
    if desk:
        return desk
    chain, ours = _chain(team, read, at)
    return flow.next_ring(chain, tried=(), skip=ours | skip, at_once=flow.rings_at_once(team, caller))


# --- the steps Twilio drives --------------------------------------------------------------------------


def call_incoming(
    *, call_sid: str, from_number: str, to_number: str, call_status: str = "", at: dt.datetime | None = None
) -> Decision:
    """A caller dialled a team number: record the Call and decide: reject a blocked caller, offer the
    number's menu, or ring the desk or the on-call chain (telephony.flow decides which).

    One read (telephony.incoming_sql: the team, the number's menu and its teams, who covers the roles,
    which of their phones are ours), the decision here, one write (the Call and every dial attempt of its
    first ring, however many phones ring at once; on PostgreSQL one statement); whatever the path and the
    size of the database. On PostgreSQL, when this process read the number before, the decision is made
    from that read and the write checks that the database still reads the same: one round trip, or two
    when something changed (the write then brings the fresh read). No network call.
    """
    at = at or timezone.now()
    call_sid, call_status = param_fit(Call, "call_sid", call_sid), param_fit(Call, "status", call_status)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    fields = {"call_sid": call_sid, "from_number": from_number, "to_number": to_number, "status": call_status}
    written = None
    if remembered := incoming_sql.remembered(to_number):
        # One round trip when the database still reads the same for this number, else the fresh read.
        decided = _incoming_decision(remembered, at=at, **fields)
        written = incoming_sql.incoming_write_if_unchanged(remembered, decided.call, decided.attempts, at=at)
        read = written if isinstance(written, incoming_sql.IncomingRead) else None
    else:
        read = incoming_sql.incoming_read(to_number=to_number, at=at)
    if read is not None:
        decided = _incoming_decision(read, at=at, **fields)
        written = incoming_sql.incoming_write(decided.call, decided.attempts)
    if written is None:
        # A replayed request (Twilio retried it): answer from the rows the first one stored.
        call = Call.objects.get(call_sid=call_sid)
        attempts = _add_ring(call, decided.ring, 0) if decided.ring else ()
    else:
        call, attempts = written[0], tuple(written[1])
    team = decided.call.team
    if decided.next == Next.MENU:
        return Decision(Next.MENU, call, team=team, menu=decided.menu, number=decided.number)
    if decided.next == Next.DIAL:
        return Decision(Next.DIAL, call, attempts[0], team, tuple(attempts))
    return Decision(decided.next, call, team=team)


@dataclass(frozen=True)
class _Incoming:
    """What an incoming call does, decided from a read: the unsaved Call (its team and outcome), what comes
    next, and the first ring (its unsaved attempts) or the menu."""

    call: Call
    next: str
    ring: list[Candidate]
    attempts: list[DialAttempt]
    menu: tuple[tuple[str, Team], ...] = ()
    number: SupportNumber | None = None


def _incoming_decision(
    read: incoming_sql.IncomingRead, *, call_sid: str, from_number: str, to_number: str, status: str, at: dt.datetime
) -> _Incoming:
    """Reject a blocked caller, offer the number's menu, or ring the desk or the on-call chain (telephony.flow
    decides which); nobody to ring: voicemail. No query when `read` holds the team's covering rows."""
    team, number = read.team, read.number
    call = Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number, status=status)
    ring, decision, choices = [], None, ()
    if team is None:
        call.outcome, decision = Call.Outcome.UNKNOWN_NUMBER, Next.UNKNOWN_NUMBER
    elif refusal := flow.caller_refused(team, from_number):
        call.outcome = Call.Outcome(refusal)
        decision = Next.REJECT if refusal == Call.Outcome.BLOCKED else Next.REFUSED
    elif number is not None and number.menu and not flow.caller_is_vip(team, from_number):
        choices = tuple(flow.menu_choices(number.menu, read.menu_teams, caller=from_number))
        decision = Next.MENU if choices else None
    if decision is None:
        ring = _first_ring(team, read, caller=from_number, to_number=to_number, at=at)
        decision = Next.DIAL if ring else Next.VOICEMAIL
    return _Incoming(call, decision, ring, _attempts(ring, 0), choices, number)


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
    and the Call is logged for it with the key. One read (the chosen team and its covering rows, as for an
    incoming call), then one write: the Call's UPDATE and its dial attempts' INSERT (on PostgreSQL one
    statement). A team that blocks the caller or does not allow them (changed since the menu was offered)
    refuses the call: it is answered already, so the caller hears the refusal instead of a <Reject>, and
    the Call is logged blocked or refused."""
    at = at or timezone.now()
    call_sid = param_fit(Call, "call_sid", call_sid)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    if own_team_id is None:
        return Decision(Next.VOICEMAIL)
    team_id, digit = flow.menu_team_id(route=route, digits=digits, own_team_id=own_team_id)
    read = incoming_sql.incoming_read(team_id=team_id, to_number=to_number, at=at)
    if read.team is None and team_id != own_team_id:  # deleted since the menu was read: the number's own team
        team_id, digit = own_team_id, ""
        read = incoming_sql.incoming_read(team_id=team_id, to_number=to_number, at=at)
    team = read.team
    if team is None:
        return Decision(Next.VOICEMAIL)
    refusal = flow.caller_refused(team, from_number)
    ring = [] if refusal else _first_ring(team, read, caller=from_number, to_number=to_number, at=at)
    fields = {"from_number": from_number, "to_number": to_number, "team": team, "menu_digit": digit}
    if refusal:
        fields["outcome"] = Call.Outcome(refusal)
    call = Call(pk=call_id, call_sid=call_sid, **fields)
    written = None
    if call_id is not None:
        written = incoming_sql.menu_choice_write(call, refusal=refusal, attempts=_attempts(ring, 0))
    if written is None:  # no Call with that id and CallSid (a hand-made request): log it now
        call = call_insert(Call(call_sid=call_sid, **fields))
        written = _add_ring(call, ring, 0) if ring else ()
    if refusal:
        return Decision(Next.REFUSED, call, team=team)
    if not ring:
        return Decision(Next.VOICEMAIL, call, team=team)
    attempts = tuple(written)
    return Decision(Next.DIAL, call, attempts[0], team, attempts)


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
    # The call's attempts in one read: the one that ended, the others rung with it, and the later ones.
    tried = (
        list(DialAttempt.objects.select_related("call__team", "member").filter(call__call_sid=call_sid))
        if attempt_id is not None
        else []
    )
    attempt = next((a for a in tried if a.pk == attempt_id), None)
    if attempt is None:
        logger.warning("Dial result for an unknown attempt %s of call %s: voicemail", attempt_id, call_sid)
        return Decision(Next.VOICEMAIL)
    call = attempt.call
    ring = _ring_of(attempt, tried)
    # Rung at once: one Dial, one result, for the leg that was connected if any (Twilio's DialCallSid is
    # that leg's; the acceptance stored it). Twilio hung up the others: they were not connected. When two
    # pressed 1, the connected one is the leg Twilio names, not the first in the chain.
    accepted_legs = [a for a in ring if a.accepted_at is not None]
    accepted = next((a for a in accepted_legs if dial_call_sid and a.dial_call_sid == dial_call_sid), None)
    accepted = accepted or next(iter(accepted_legs), None)
    connected = accepted if len(ring) > 1 and dial_status in ANSWERED_DIAL_STATUSES else None
    # A pass stays a pass, whatever Twilio reports for the leg that hung up (completed or no-answer).
    if attempt.dial_status != PASSED:
        attempt.dial_status = dial_status if connected in (None, attempt) else NOT_CONNECTED
    if dial_call_sid and len(ring) == 1:
        attempt.dial_call_sid = dial_call_sid
    for other in ring:
        if other is not attempt and other.dial_status != PASSED:
            other.dial_status = dial_status if connected in (None, other) else NOT_CONNECTED
    charge = costs.leg_charge(
        call=call, dial_call_sid=dial_call_sid or attempt.dial_call_sid, seconds=dial_duration_seconds
    )

    def written(decision: Decision, *, answered: DialAttempt | None = None, ring_next: list | None = None) -> Decision:
        # The attempt(s), the leg's charge and the outcome or the next ring's attempts (one phone or several
        # at once): one statement on PostgreSQL.
        charged, attempts = dial_sql.dial_result_write(
            attempt=attempt,
            ring_status=dial_status if len(ring) > 1 else None,
            connected=connected,
            not_connected=NOT_CONNECTED,
            passed=PASSED,
            charge=charge,
            answered=answered,
            next_attempts=_attempts(ring_next, position, call) if ring_next else (),
        )
        if charged:
            costs.charge_inserted(charge)
        if attempts:
            for stored in attempts:
                stored.call = call
            return Decision(Next.DIAL, call, attempts[0], call.team, tuple(attempts))
        return decision

    position = max(a.position for a in tried) + 1
    if dial_status in ANSWERED_DIAL_STATUSES and accepted is not None:
        return written(Decision(Next.HANG_UP, call, attempt, call.team), answered=accepted)
    if call_status in FINAL_CALL_STATUSES:
        # The caller hung up while we were ringing: nobody to connect any more.
        return written(Decision(Next.HANG_UP, call, attempt, call.team))
    if call.team is None:
        return written(Decision(Next.VOICEMAIL, call))
    last = max(a.position for a in ring)
    later = sorted((a for a in tried if a.position > last), key=lambda a: a.position)
    if later:
        # The same Dial action again (a retried or duplicated request): answer as the first time did, never
        # ring a new person for it. If that person's leg already ended, the call has moved on: voicemail.
        if not later[0].dial_status:
            again = tuple(a for a in later if a.ring_group is not None and a.ring_group == later[0].ring_group)
            return written(Decision(Next.DIAL, call, later[0], call.team, again or (later[0],)))
        return written(Decision(Next.VOICEMAIL, call, team=call.team))
    # A call a menu key routed reads its team by id; any other, by the number called (the statement the
    # incoming webhook prepared on this connection already).
    chosen = call.team_id if call.menu_digit else None
    read = incoming_sql.incoming_read(team_id=chosen, to_number=call.to_number, at=at)
    chain, ours = _chain(call.team, read, at)
    ring_next = flow.next_ring(
        chain,
        tried=tried,
        skip=ours | {call.to_number, call.from_number},
        at_once=flow.rings_at_once(call.team, call.from_number),
    )
    return written(Decision(Next.VOICEMAIL, call, team=call.team), ring_next=ring_next)


def _ring_of(attempt: DialAttempt, attempts: list[DialAttempt]) -> list[DialAttempt]:
    """The attempts rung in the same Dial as `attempt` (itself alone for a single phone), among the call's."""
    if attempt.ring_group is None:
        return [attempt]
    return [a for a in attempts if a.ring_group == attempt.ring_group]


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
