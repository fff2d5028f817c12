"""Monitoring alerts: raise (folded by dedupe_key), page along the chain, escalate, acknowledge, resolve.

One function owns each change and its side effects, and every change is an AlertEvent with who and when.

The chain is a fixed list of stages (primary, secondary, the leads, a final notice to the leads).
`Alert.escalation_step` is the last stage paged (0: none yet); paging moves to the first later stage that
has somebody to text, so each stage happens at most once whoever is on call at the time. Every SMS goes
through the outbox with the key `alert:{id}:step:{n}:{member_id}`, so a retried tick cannot page twice.

A missed caller is an alert too (telephony.voicemail raises them): source `voicemail`, linked to its call and
its voicemail, whose page is the voicemail SMS (transcription and link in it); source `callback`, linked to
its call. The links are unique, so a callback Twilio repeats finds the alert it raised instead of a second.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from teams import selectors, services
from teams.models import Member, Role, Team, TeamMembership
from telephony import rows
from telephony.models import ROW_ID_MAX, Alert, AlertEvent, Call, OutboundMessage, Voicemail
from telephony.queue import owed_sweep, task_publish
from telephony.sms import sms_send
from telephony.sms_text import sms_body_fit_part

logger = logging.getLogger(__name__)

STAGE_PRIMARY, STAGE_SECONDARY, STAGE_LEADS, STAGE_FINAL = 1, 2, 3, 4
STAGE_NAMES = {STAGE_PRIMARY: "primary", STAGE_SECONDARY: "secondary", STAGE_LEADS: "leads", STAGE_FINAL: "final"}
CAP_WINDOW = dt.timedelta(hours=1)
DUE_BATCH = 500
# Every page counts against the team's hourly cap, a voicemail's as much as a monitor's.
PAGE_KINDS = (OutboundMessage.Kind.ALERT, OutboundMessage.Kind.VOICEMAIL)


class Source:
    """Alert.source values the platform itself raises (a monitor names its own)."""

    VOICEMAIL = "voicemail"
    CALLBACK = "callback"


class Action:
    """AlertEvent.action values."""

    RAISED = "raised"
    PAGED = "paged"
    HELD_BACK = "held_back"
    UNREACHABLE = "unreachable"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# The events that mark a step of the chain: when the last one happened, the team's timeout starts to run.
STEP_ACTIONS = (Action.PAGED, Action.HELD_BACK, Action.UNREACHABLE)


def _event(
    alert: Alert,
    action: str,
    *,
    actor: str = "",
    user: AbstractBaseUser | None = None,
    member: Member | None = None,
    detail: str = "",
    notices_pending: bool = False,
) -> AlertEvent:
    return AlertEvent.objects.create(
        alert=alert,
        action=action,
        actor=actor[:150],
        user=user,
        member=member,
        detail=detail[:300],
        notices_pending=notices_pending,
    )


def _real_user(user) -> AbstractBaseUser | None:
    """Only a stored user can be linked; an integration principal is recorded by name."""
    return user if isinstance(user, AbstractBaseUser) and user.pk is not None else None


# --- Raising -------------------------------------------------------------------------------------------


def _open_with_key(*, team: Team, dedupe_key: str) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(team=team, dedupe_key=dedupe_key)
        .exclude(state=Alert.State.RESOLVED)
        .first()
    )


def _linked(*, call: Call | None, source: str, voicemail: Voicemail | None) -> Alert | None:
    """The alert already raised for this voicemail, or for this call with this source."""
    condition = Q(pk__in=[])
    if voicemail is not None:
        condition |= Q(voicemail=voicemail)
    if call is not None:
        condition |= Q(call=call, source=source)
    return Alert.objects.filter(condition).first()


def alert_details_set_of_voicemail(*, voicemail_id: int, details: str) -> bool:
    """Replace the details of a voicemail's alert (its transcription arrived after the alert was raised), in
    one statement; False when the voicemail has no alert yet."""
    return Alert.objects.filter(voicemail_id=voicemail_id).update(details=details) > 0


def _fold(alert: Alert) -> Alert:
    # A repeat of an alert that is still open or being worked on: count it, page nobody.
    Alert.objects.filter(pk=alert.pk).update(occurrences=F("occurrences") + 1)
    alert.refresh_from_db()
    return alert


def alert_raise(
    *,
    team: Team,
    summary: str,
    details: str = "",
    source: str = "",
    dedupe_key: str | None = None,
    actor: str = "",
    user=None,
    call: Call | None = None,
    voicemail: Voicemail | None = None,
) -> tuple[Alert, bool]:
    """Raise an alert and page the first stage of the chain; returns (alert, created).

    With a dedupe_key that an unresolved alert of the team already holds, that alert's counter goes up
    and nobody is paged. An alert for a `call` (with this source) or a `voicemail` that already has one is
    answered as it is: a repeated Twilio callback is not a new occurrence.
    """
    dedupe_key = dedupe_key or None
    summary = " ".join((summary or "").split())
    limit = Alert._meta.get_field("summary").max_length
    if len(summary) > limit:
        # Whatever the caller, a long summary must still page: the whole text is kept in the details.
        details = f"{summary}\n\n{details}".strip()
        summary = summary[: limit - 3] + "..."
    with transaction.atomic():
        if dedupe_key:
            existing = _open_with_key(team=team, dedupe_key=dedupe_key)
            if existing is not None:
                return _fold(existing), False
        alert = Alert(
            team=team,
            summary=summary,
            details=details,
            source=source,
            dedupe_key=dedupe_key,
            call=call,
            voicemail=voicemail,
        )
        if not rows.insert(alert):
            linked = _linked(call=call, source=source, voicemail=voicemail)
            if linked is not None:
                return linked, False
            # Another request raised the same key a moment ago (the partial unique constraint).
            existing = _open_with_key(team=team, dedupe_key=dedupe_key)
            if existing is None:  # pragma: no cover - it was resolved in between: the caller may raise it again
                raise IntegrityError(f"Alert {dedupe_key!r} of team {team.pk} was taken and resolved in between")
            return _fold(existing), False
        _event(alert, Action.RAISED, actor=actor, user=_real_user(user), detail=source)
        _page_next(alert=alert, now=timezone.now())
    return alert, True


# --- Paging --------------------------------------------------------------------------------------------


def _page_content(alert: Alert) -> tuple[str, str, str]:
    """What a page says between its head and its reply hint, as (before, the part that may be cut, after).

    A voicemail's page is its voicemail SMS: the summary (caller, time, length), the transcription when it
    has arrived (cut first when too long) and the recording link (kept whole)."""
    summary = " ".join(alert.summary.split())
    voicemail = alert.voicemail if alert.voicemail_id else None
    if voicemail is None:
        return "", summary, ""
    link = " " + _("Listen: %(url)s.mp3") % {"url": voicemail.recording_url}
    if not voicemail.transcription:
        return f"{summary}.{link}", "", ""
    return f'{summary}. "', " ".join(voicemail.transcription.split()), f'"{link}'


def _page_kind(alert: Alert) -> str:
    return OutboundMessage.Kind.VOICEMAIL if alert.voicemail_id else OutboundMessage.Kind.ALERT


def _page_body(*, alert: Alert, team: Team, stage: int, escalated: bool, held_back: int) -> str:
    names = {"team": team.name, "id": alert.pk}
    if stage == STAGE_FINAL:
        prefix = _("[%(team)s] ALERT %(id)s still not acknowledged by anyone: ") % names
        suffix = _(" - it stays open. Reply ACK %(id)s") % names
    elif escalated:
        prefix = _("[%(team)s] ALERT %(id)s (not acknowledged yet): ") % names
        suffix = _(" - reply ACK %(id)s") % names
    else:
        prefix = _("[%(team)s] ALERT %(id)s: ") % names
        suffix = _(" - reply ACK %(id)s") % names
    if held_back:
        suffix += _(" (+%(held)s pages held back by the %(cap)s/h cap)") % {
            "held": held_back,
            "cap": team.alert_pages_per_hour,
        }
    # GSM-7 where possible; only the summary (or a voicemail's transcription) is cut, visibly, never the
    # alert number, the recording link or the reply hint.
    before, part, after = _page_content(alert)
    return sms_body_fit_part(before=prefix + before, part=part, after=after + suffix, max_segments=2)


def _stage_targets(*, stage: int, team: Team, now: dt.datetime, cache: dict) -> list[Member]:
    """Who a stage texts now; people who opted out of SMS cannot be reached, so they do not count."""
    if "oncall" not in cache:
        cache["oncall"] = selectors.oncall_at(team=team, at=now)
    primary = cache["oncall"][Role.PRIMARY].member
    if stage == STAGE_PRIMARY:
        targets = [primary] if primary else []
    elif stage == STAGE_SECONDARY:
        secondary = cache["oncall"][Role.SECONDARY].member
        # The same person in both roles has been paged already as the primary.
        targets = [secondary] if secondary and (primary is None or secondary.pk != primary.pk) else []
    else:
        if "leads" not in cache:
            cache["leads"] = selectors.team_leads(team=team)
        targets = cache["leads"]
    return [member for member in targets if not member.is_opted_out]


def _held_back_unmentioned(team: Team) -> int:
    """Pages the cap held back since the team's last page went out: the next page tells about them."""
    events = AlertEvent.objects.filter(alert__team=team)
    last_paged = events.filter(action=Action.PAGED).aggregate(last=Max("pk"))["last"] or 0
    return events.filter(action=Action.HELD_BACK, pk__gt=last_paged).count()


def _page_budget(*, alert: Alert, now: dt.datetime) -> tuple[Team, int]:
    """Lock the alert's team and count the pages its hourly cap still allows. The lock serialises paging
    per team, so two alerts paging at once cannot both take the last slot."""
    team = services.team_lock(team_id=alert.team_id)
    sent = OutboundMessage.objects.filter(team=team, kind__in=PAGE_KINDS, created_at__gt=now - CAP_WINDOW).count()
    return team, max(team.alert_pages_per_hour - sent, 0)


def _page_next(*, alert: Alert, now: dt.datetime) -> None:
    """Page the next stage that has somebody, within the team's hourly cap. Run inside a transaction
    with the alert row locked."""
    team, left = _page_budget(alert=alert, now=now)
    cache: dict = {}
    escalated = alert.escalation_step > 0
    stage, targets = alert.escalation_step, []
    while not targets and stage < STAGE_FINAL:
        stage += 1
        targets = _stage_targets(stage=stage, team=team, now=now, cache=cache)
    if not targets:
        # Nobody left to text right now (nobody on call, no lead who can get SMS). Do not close the chain:
        # stay at this step and look again at the next ticks, so whoever comes on call (or becomes a lead)
        # is paged then. The history says so once, not at every look.
        alert.next_escalation_at = now + dt.timedelta(minutes=team.ack_timeout_minutes)
        last_step = AlertEvent.objects.filter(alert=alert, action__in=STEP_ACTIONS).order_by("-pk").first()
        if last_step is None or last_step.action != Action.UNREACHABLE:
            _event(alert, Action.UNREACHABLE, detail="Nobody on call, no lead to text: the alert stays open.")
        alert.save(update_fields=["next_escalation_at"])
        return
    alert.escalation_step = stage
    alert.next_escalation_at = None if stage >= STAGE_FINAL else now + dt.timedelta(minutes=team.ack_timeout_minutes)

    held_before = _held_back_unmentioned(team)
    held_now = 0
    for member in targets:
        # Each person reads the page in their own language (the text is built per language, not per person).
        with translation.override(member.language_for(team)):
            body = _page_body(alert=alert, team=team, stage=stage, escalated=escalated, held_back=held_before)
        where = f"{STAGE_NAMES[stage]} {member.phone}"
        if left <= 0:
            held_now += 1
            _event(alert, Action.HELD_BACK, member=member, detail=f"{where}: {team.alert_pages_per_hour}/h cap")
            continue
        sms_send(
            to=member.phone,
            body=body,
            kind=_page_kind(alert),
            dedupe_key=f"alert:{alert.pk}:step:{stage}:{member.pk}",
            team=team,
            member=member,
        )
        left -= 1
        _event(alert, Action.PAGED, member=member, detail=where)
    if held_now:
        alert.pages_held_back = F("pages_held_back") + held_now
    alert.save(update_fields=["escalation_step", "next_escalation_at", "pages_held_back"])
    alert.refresh_from_db(fields=["pages_held_back"])


def _escalating():
    """Open alerts still moving along the chain, with when their last step was and the team's timeout now."""
    return (
        Alert.objects.filter(state=Alert.State.OPEN, next_escalation_at__isnull=False)
        .annotate(stepped_at=Max("events__created_at", filter=Q(events__action__in=STEP_ACTIONS)))
        .values_list("pk", "next_escalation_at", "stepped_at", "team__ack_timeout_minutes")
    )


def _due_at(next_escalation_at: dt.datetime, stepped_at: dt.datetime | None, timeout_minutes: int) -> dt.datetime:
    """The last step plus the team's timeout as it is now: a lead who changes ack_timeout_minutes during an
    incident changes when the open alerts escalate, not only the next ones."""
    if stepped_at is None:
        return next_escalation_at
    return stepped_at + dt.timedelta(minutes=timeout_minutes)


def alerts_due(*, now: dt.datetime) -> list[int]:
    """Open alerts whose acknowledgement timeout has passed, the longest overdue first."""
    due = sorted((due_at, pk) for pk, *timing in _escalating() if (due_at := _due_at(*timing)) <= now)
    return [pk for _, pk in due[:DUE_BATCH]]


def alert_escalate(*, alert_id: int, now: dt.datetime) -> bool:
    """Page the next stage of one due alert. Safe with several workers: a row another worker holds is
    skipped, and a row it already escalated is no longer due."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(skip_locked=True)
            .filter(pk=alert_id, state=Alert.State.OPEN, next_escalation_at__isnull=False)
            .first()
        )
        if alert is None:
            return False
        timing = _escalating().filter(pk=alert_id).first()
        if timing is None or _due_at(*timing[1:]) > now:
            return False
        _page_next(alert=alert, now=now)
    return True


def alerts_escalate_due(*, now: dt.datetime | None = None) -> int:
    """Escalate every due alert, each in its own transaction; returns how many moved on."""
    now = now or timezone.now()
    moved = 0
    for alert_id in alerts_due(now=now):
        try:
            moved += alert_escalate(alert_id=alert_id, now=now)
        except Exception:
            # One broken alert must not stop the others from being paged.
            logger.exception("Could not escalate alert %s", alert_id)
    return moved


# --- Acknowledging and resolving -----------------------------------------------------------------------


def _tell_the_paged(*, alert: Alert, verb: str, actor: str, member: Member | None) -> None:
    """Text everyone who was paged for the alert (but the one who acted) that they can stand down.

    Only within the hourly cap: a notice is not a page, so when the cap is full it is simply not sent.
    """
    paged = selectors.members_among(
        member_ids=AlertEvent.objects.filter(alert=alert, action=Action.PAGED).values("member_id"),
        exclude_member_id=member.pk if member is not None else None,
    )
    paged = [person for person in paged if not person.is_opted_out]
    if not paged:
        return
    team, left = _page_budget(alert=alert, now=timezone.now())
    for person in paged[:left]:
        with translation.override(person.language_for(team)):
            done = _("acknowledged") if verb == "acknowledged" else _("resolved")
            before = _("[%(team)s] ALERT %(id)s %(done)s by %(actor)s: ") % {
                "team": team.name,
                "id": alert.pk,
                "done": done,
                "actor": actor,
            }
        body = sms_body_fit_part(before=before, part=" ".join(alert.summary.split()))
        sms_send(
            to=person.phone,
            body=body,
            kind=OutboundMessage.Kind.ALERT,
            dedupe_key=f"alert:{alert.pk}:{verb}:{person.pk}",
            team=team,
            member=person,
        )


def _transition(
    *,
    alert: Alert,
    command: str,
    actor: str,
    user,
    member,
    via,
    notices_later: bool = False,
) -> tuple[Alert, AlertEvent | None]:
    """Move the alert to `to` under a row lock, stamping who and when, stopping the escalation, recording
    the event and telling the people paged; returns (alert, the event, None when it was left). From any
    other state it is left.

    With `notices_later` the event is recorded as owing its notices, and `alert_notices_publish` sends them
    after the commit (an SMS command answers without texting anyone else)."""
    to, moves_from, action, verb = _STEPS[command]
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state not in moves_from:
            return alert, None
        stamp = "acknowledged" if to == Alert.State.ACKNOWLEDGED else "resolved"
        alert.state = to
        setattr(alert, f"{stamp}_at", timezone.now())
        setattr(alert, f"{stamp}_by", actor[:150])
        alert.next_escalation_at = None
        alert.save(update_fields=["state", f"{stamp}_at", f"{stamp}_by", "next_escalation_at"])
        event = _event(
            alert, action, actor=actor, user=_real_user(user), member=member, detail=via, notices_pending=notices_later
        )
        if not notices_later:
            _tell_the_paged(alert=alert, verb=verb, actor=actor, member=member)
    return alert, event


def alert_acknowledge(
    *, alert: Alert, actor: str, user=None, member: Member | None = None, via: str = ""
) -> tuple[Alert, bool]:
    """Stop the escalation; returns (alert, changed). An alert already acknowledged or resolved is left."""
    alert, event = _transition(alert=alert, command="ACK", actor=actor, user=user, member=member, via=via)
    return alert, event is not None


def alert_resolve(
    *, alert: Alert, actor: str, user=None, member: Member | None = None, via: str = ""
) -> tuple[Alert, bool]:
    """Close the alert (from open or acknowledged); returns (alert, changed)."""
    alert, event = _transition(alert=alert, command="RESOLVE", actor=actor, user=user, member=member, via=via)
    return alert, event is not None


def alert_resolve_by_key(*, team: Team, dedupe_key: str, actor: str, user=None, via: str = "") -> Alert | None:
    """The monitor resolves its own alert by the key it raised it with; None if none is unresolved."""
    alert = Alert.objects.filter(team=team, dedupe_key=dedupe_key).exclude(state=Alert.State.RESOLVED).first()
    if alert is None:
        return None
    alert, _ = alert_resolve(alert=alert, actor=actor, user=user, via=via)
    return alert


# --- Reads ---------------------------------------------------------------------------------------------


def alerts_of_team(*, team: Team, state: str | None = None):
    queryset = Alert.objects.filter(team=team).select_related("team", "call").order_by("-created_at", "-pk")
    return queryset.filter(state=state) if state else queryset


def alert_of_team(*, team: Team, alert_id: int) -> Alert | None:
    return Alert.objects.filter(team=team, pk=alert_id).select_related("team", "call").first()


# --- SMS commands ---------------------------------------------------------------------------------------
# An SMS command is answered within the webhook's budget of round trips: the step itself (state, who and
# when, the escalation stopped, its event) is one statement in autocommit mode, guarded by the state in its
# WHERE (two ACKs at once: one winner). The notices it owes (telling the people paged) follow in a task; the
# event says they are owed until they are sent, so a task the broker lost is done by the escalation sweep.

# Each step, by the SMS command that asks for it: (the state it moves to, the states it moves from, the
# event's action, the verb people read).
_STEPS = {
    "ACK": (Alert.State.ACKNOWLEDGED, (Alert.State.OPEN,), Action.ACKNOWLEDGED, "acknowledged"),
    "RESOLVE": (Alert.State.RESOLVED, (Alert.State.OPEN, Alert.State.ACKNOWLEDGED), Action.RESOLVED, "resolved"),
}


@dataclass(frozen=True)
class SmsStep:
    """An alert as an SMS command left it: its state and stamps, and the event if this command moved it."""

    alert_id: int
    state: str
    acknowledged_by: str
    resolved_by: str
    event_id: int | None


# One statement: the alert (of the member's teams), moved if its state allows, and its event. Table names and
# states are our own constants; every value from the request is a parameter.
_STEP_SQL = """
WITH target AS (
    SELECT a.id, a.state, a.acknowledged_by, a.resolved_by FROM {alert} a
    WHERE a.id = %(alert_id)s
      AND a.team_id IN (SELECT m.team_id FROM {membership} m WHERE m.member_id = %(member_id)s)
), moved AS (
    UPDATE {alert} SET state = '{to}', {stamp}_at = %(now)s, {stamp}_by = %(actor)s, next_escalation_at = NULL
    WHERE id = (SELECT id FROM target) AND state IN ({states})
    RETURNING id
), event AS (
    INSERT INTO {event} (alert_id, action, actor, user_id, member_id, detail, created_at, notices_pending)
    SELECT id, %(action)s, %(actor)s, %(user_id)s, %(member_id)s, %(detail)s, %(now)s, TRUE FROM moved
    RETURNING id
)
SELECT target.id, target.state, target.acknowledged_by, target.resolved_by, (SELECT id FROM event) FROM target
"""


@functools.cache
def _step_sql(command: str) -> str:
    to, moves_from, _action, stamp = _STEPS[command]
    return _STEP_SQL.format(
        alert=Alert._meta.db_table,
        event=AlertEvent._meta.db_table,
        membership=TeamMembership._meta.db_table,
        to=to,
        stamp=stamp,
        states=", ".join(f"'{state}'" for state in moves_from),
    )


def _step_by_sms(*, member: Member, command: str, alert_id: int) -> SmsStep | None:
    """Acknowledge or resolve an alert of the member's teams; None when there is no such alert."""
    _to, moves_from, action, _verb = _STEPS[command]
    via = f"SMS from {member.phone}"
    if connection.vendor == "postgresql":
        params = {
            "alert_id": alert_id,
            "member_id": member.pk,
            "now": timezone.now(),
            "actor": member.name[:150],
            "action": action,
            "user_id": member.user_id,
            "detail": via[:300],
        }
        with connection.cursor() as cursor:
            cursor.execute(_step_sql(command), params)
            row = cursor.fetchone()
        if row is None:
            return None
        step = SmsStep(*row)
        if step.event_id is not None or step.state not in moves_from:
            return step
        # Another command moved it between our read and our write: answer with what it did.
        alert = Alert.objects.get(pk=alert_id)
        return SmsStep(alert.pk, alert.state, alert.acknowledged_by, alert.resolved_by, None)
    # Databases without data-modifying CTEs (SQLite): the same step in a short transaction.
    alert = Alert.objects.filter(pk=alert_id, team__memberships__member=member).first()
    if alert is None:
        return None
    user = member.user if member.user_id else None
    alert, event = _transition(
        alert=alert,
        command=command,
        actor=member.name,
        user=user,
        member=member,
        via=via,
        notices_later=True,
    )
    return SmsStep(alert.pk, alert.state, alert.acknowledged_by, alert.resolved_by, event.pk if event else None)


def alert_notices_publish(*, event_id: int) -> None:
    """Hand a step's notices to the worker (one fast attempt; the sweep does the rest). The step is committed
    by now (autocommit); a task that ran too early would find nothing owed yet and leave it to the sweep."""
    try:
        task_publish("telephony.tasks.alerts.alert_notices_send", args=[event_id])
    except Exception:
        logger.warning("Could not publish the notices of alert event %s: the sweep will", event_id, exc_info=True)


def alert_notices_send(*, event_id: int) -> bool:
    """Send the notices an acknowledgement or resolution owes, once: the event is locked (skip locked) and
    cleared in the same transaction, and each notice has its dedupe key. False when nothing was owed."""
    with transaction.atomic():
        event = (
            AlertEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alert", "member")
            .filter(pk=event_id, notices_pending=True)
            .first()
        )
        if event is None:
            return False
        verb = "acknowledged" if event.action == Action.ACKNOWLEDGED else "resolved"
        _tell_the_paged(alert=event.alert, verb=verb, actor=event.actor, member=event.member)
        AlertEvent.objects.filter(pk=event.pk).update(notices_pending=False)
    return True


def alert_notices_sweep(*, now: dt.datetime | None = None) -> int:
    """Send the notices whose task was lost (broker down, worker gone); returns how many steps."""
    owed = AlertEvent.objects.filter(notices_pending=True)
    return owed_sweep(owed, alert_notices_send, now=now or timezone.now(), what="alert event")


def alert_sms_command(*, member: Member, action: str, alert_id: int) -> str:
    """Handle `ACK <id>` / `RESOLVE <id>` texted by a member; returns the reply text.

    Only alerts of the member's own teams are found: any other id gets the same answer as one that does
    not exist, so a text never reveals another team's alert.
    """
    command = (action or "").strip().upper()
    if command not in _STEPS:
        return _("Reply ACK <id> to acknowledge an alert or RESOLVE <id> to close it.")
    try:
        alert_id = int(alert_id)
    except (TypeError, ValueError):
        # The keyword stays as typed: the commands are ACK and RESOLVE in every language.
        return _("Reply %(command)s followed by the alert number, e.g. %(command)s 42.") % {"command": command}
    step = _step_by_sms(member=member, command=command, alert_id=alert_id) if alert_id <= ROW_ID_MAX else None
    if step is None:
        return _("There is no alert %(id)s for your teams.") % {"id": alert_id}
    if step.event_id is not None:
        alert_notices_publish(event_id=step.event_id)
    if command == "ACK":
        if step.event_id is not None:
            return _("ALERT %(id)s acknowledged - escalation stopped. Reply RESOLVE %(id)s when it is fixed.") % {
                "id": step.alert_id
            }
        if step.state == Alert.State.ACKNOWLEDGED:
            return _("ALERT %(id)s was already acknowledged by %(name)s.") % {
                "id": step.alert_id,
                "name": step.acknowledged_by,
            }
        return _("ALERT %(id)s is already resolved.") % {"id": step.alert_id}
    if step.event_id is not None:
        return _("ALERT %(id)s resolved. Thank you.") % {"id": step.alert_id}
    return _("ALERT %(id)s was already resolved by %(name)s.") % {"id": step.alert_id, "name": step.resolved_by}
