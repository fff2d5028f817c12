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
from teams.models import Member, Team
from telephony import costs, dial_sql, incoming_sql, rows
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


@dataclass(frozen=True)
class Decision:
    next: str
    call: Call | None = None
    attempt: DialAttempt | None = None
    team: Team | None = None


@dataclass(frozen=True)
class Candidate:
    target: str
    member: Member | None
    phone: str


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
    or when the number called now belongs to another team, the rota's queries and one lookup of the
    chain's phones instead."""
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
        for target, role in ((DialAttempt.Target.PRIMARY, "primary"), (DialAttempt.Target.SECONDARY, "secondary"))
        if oncall[role].member is not None
    ]
    if team.fallback_phone:
        chain.append(Candidate(DialAttempt.Target.FALLBACK, None, team.fallback_phone))
    if ours is None:
        ours = selectors.support_numbers_among(phones=[candidate.phone for candidate in chain])
    return chain, ours


def _next_candidate(chain: list[Candidate], *, tried: list[DialAttempt], blocked: set[str]) -> Candidate | None:
    tried_phones = {attempt.phone for attempt in tried}
    tried_members = {attempt.member_id for attempt in tried if attempt.member_id}
    for candidate in chain:
        if not candidate.phone or candidate.phone in blocked or candidate.phone in tried_phones:
            continue
        if candidate.member is not None and candidate.member.pk in tried_members:
            continue
        return candidate
    return None


def call_insert(call: Call) -> Call:
    return rows.insert_once(call, call_sid=call.call_sid)


def _attempt(candidate: Candidate, position: int, call: Call | None = None) -> DialAttempt:
    return DialAttempt(
        call=call, position=position, target=candidate.target, member=candidate.member, phone=candidate.phone
    )


def _add_attempt(call: Call, candidate: Candidate, position: int) -> DialAttempt:
    return rows.insert_once(_attempt(candidate, position, call), call=call, position=position)


# --- the steps Twilio drives --------------------------------------------------------------------------


def call_incoming(
    *, call_sid: str, from_number: str, to_number: str, call_status: str = "", at: dt.datetime | None = None
) -> Decision:
    """A caller dialled a team number: record the Call and decide whom to ring first.

    Two statements on PostgreSQL whatever the size of the database, health check included
    (telephony.incoming_sql): one read (the team, who covers its roles, which of their phones are our own
    numbers), the decision here, one write (the Call and its first dial attempt, committed before the
    answer). SQLite takes one statement more for the write. No network call.
    """
    at = at or timezone.now()
    call_sid, call_status = param_fit(Call, "call_sid", call_sid), param_fit(Call, "status", call_status)
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    read = incoming_sql.incoming_read(to_number=to_number, at=at)
    team = read.team
    call = Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number, status=call_status)
    candidate = None
    if team is None:
        call.outcome, next_step = Call.Outcome.UNKNOWN_NUMBER, Next.UNKNOWN_NUMBER
    elif team.allowed_callers and from_number not in team.allowed_callers:
        call.outcome, next_step = Call.Outcome.REFUSED, Next.REFUSED
    else:
        chain, ours = _chain(team, read, at)
        # Never ring the caller's own phone (an on-call person calling their own team line): it is busy.
        candidate = _next_candidate(chain, tried=[], blocked=ours | {to_number, from_number})
        next_step = Next.VOICEMAIL if candidate is None else Next.DIAL
    attempt = None if candidate is None else _attempt(candidate, 0)
    written = incoming_sql.incoming_write(call, attempt)
    if written is None:
        # A replayed request (Twilio retried it): answer from the rows the first one stored.
        call = Call.objects.get(call_sid=call_sid)
        attempt = None if candidate is None else _add_attempt(call, candidate, 0)
    else:
        call, attempt = written
    return Decision(next_step, call, attempt, team)


def attempt_for_screening(*, attempt_id: int | None) -> DialAttempt | None:
    if attempt_id is None:
        return None
    return DialAttempt.objects.select_related("call__team").filter(pk=attempt_id).first()


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
    # The call's attempts in one read: the one that ended, and the earlier and later ones.
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
    # A pass stays a pass, whatever Twilio reports for the leg that hung up (completed or no-answer).
    attempt.dial_status = attempt.dial_status if attempt.dial_status == PASSED else dial_status
    if dial_call_sid:
        attempt.dial_call_sid = dial_call_sid
    charge = costs.leg_charge(call=call, dial_call_sid=attempt.dial_call_sid, seconds=dial_duration_seconds)

    def written(decision: Decision, *, answered: bool = False, next_attempt: DialAttempt | None = None) -> Decision:
        # The attempt, the leg's charge and the outcome or the next attempt: one statement on PostgreSQL.
        charged, next_attempt = dial_sql.dial_result_write(
            attempt=attempt, charge=charge, answered=answered, next_attempt=next_attempt
        )
        if charged:
            costs.charge_inserted(charge)
        if next_attempt is not None:
            next_attempt.call = call
            decision = Decision(Next.DIAL, call, next_attempt, call.team)
        return decision

    if dial_status in ANSWERED_DIAL_STATUSES and attempt.accepted_at is not None:
        return written(Decision(Next.HANG_UP, call, attempt, call.team), answered=True)
    if call_status in FINAL_CALL_STATUSES:
        # The caller hung up while we were ringing: nobody to connect any more.
        return written(Decision(Next.HANG_UP, call, attempt, call.team))
    if call.team is None:
        return written(Decision(Next.VOICEMAIL, call))
    later = sorted((a for a in tried if a.position > attempt.position), key=lambda a: a.position)
    if later:
        # The same Dial action again (a retried or duplicated request): answer as the first time did, never
        # ring a new person for it. If that person's leg already ended, the call has moved on: voicemail.
        if not later[0].dial_status:
            return written(Decision(Next.DIAL, call, later[0], call.team))
        return written(Decision(Next.VOICEMAIL, call, team=call.team))
    chain, ours = _chain(call.team, incoming_sql.incoming_read(to_number=call.to_number, at=at), at)
    candidate = _next_candidate(chain, tried=tried, blocked=ours | {call.to_number, call.from_number})
    if candidate is None:
        return written(Decision(Next.VOICEMAIL, call, team=call.team))
    position = max(a.position for a in tried) + 1
    return written(Decision(Next.VOICEMAIL, call, team=call.team), next_attempt=_attempt(candidate, position, call))


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
