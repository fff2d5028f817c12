"""Voicemail: store a recording once however often Twilio reports it, attach its transcription, and tell the
people on call (after a bounded wait for the transcription, with a beat sweep as the safety net).

The call flow (telephony.calls) hands a caller here when the escalation chain is exhausted; the recording,
recording status and transcription callbacks arrive here in any order and any number of times.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from teams import selectors
from teams.models import Member, Team
from telephony.calls import call_insert, caller_is_withheld, param_fit, phone_normalize
from telephony.models import Call, OutboundMessage, Voicemail
from telephony.queue import task_publish
from telephony.sms import sms_send
from telephony.sms_text import sms_body_fit_part

logger = logging.getLogger(__name__)

# Bounded wait for a transcription before the voicemail SMS goes out without it (Twilio usually needs
# well under a minute for a 2-minute recording). The transcription callback sends at once when it comes first.
TRANSCRIPTION_WAIT_SECONDS = 120


def voicemail_store(
    *,
    call_sid: str,
    from_number: str,
    to_number: str,
    recording_sid: str,
    recording_url: str,
    duration_seconds: int,
    transcription: str = "",
    transcription_status: str = "",
) -> Voicemail:
    """Store a voicemail once per RecordingSid (Record action, recording status callback and transcription
    callback may each come, and come twice), then arrange the notification.

    The row is committed before any notification is attempted, so a broker outage loses nothing.
    """
    call_sid, recording_sid = (
        param_fit(Call, "call_sid", call_sid),
        param_fit(Voicemail, "recording_sid", recording_sid),
    )
    from_number, to_number = (
        param_fit(Call, "from_number", phone_normalize(from_number)),
        param_fit(Call, "to_number", phone_normalize(to_number)),
    )
    recording_url = param_fit(Voicemail, "recording_url", recording_url)
    transcription_status = param_fit(Voicemail, "transcription_status", transcription_status)
    duration_seconds = max(0, duration_seconds or 0)
    existing = Voicemail.objects.filter(recording_sid=recording_sid).first()
    if existing is not None:
        if duration_seconds and not existing.duration_seconds:
            Voicemail.objects.filter(pk=existing.pk).update(duration_seconds=duration_seconds)
            existing.duration_seconds = duration_seconds
        return existing
    call = Call.objects.select_related("team").filter(call_sid=call_sid).first() if call_sid else None
    if call is None and call_sid:
        # Served by the fallback (no Call row yet): log the call now so the voicemail has its context.
        team = selectors.team_by_support_number(phone_number=to_number) if to_number else None
        call = call_insert(Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number))
    if call is not None:
        # Another RecordingSid for a call that already left its message: Twilio records once per call, so
        # this is a replay or a forgery. Keep the first voicemail; notify nobody again.
        earlier = Voicemail.objects.filter(call=call).first()
        if earlier is not None:
            logger.warning(
                "Call %s already has voicemail %s: recording %s ignored", call_sid, earlier.pk, recording_sid
            )
            return earlier
    team = call.team if call else None
    try:
        with transaction.atomic():
            voicemail = Voicemail.objects.create(
                call=call,
                team=team,
                recording_sid=recording_sid,
                recording_url=recording_url,
                duration_seconds=duration_seconds,
                from_number=from_number or (call.from_number if call else ""),
                transcription=transcription,
                transcription_status=transcription_status,
            )
    except IntegrityError:
        # The other callback of the same recording (or of the same call) won the race: that one notifies.
        same = Q(recording_sid=recording_sid) | (Q(call=call) if call is not None else Q(pk__in=[]))
        return Voicemail.objects.filter(same).first()
    if call is not None:
        Call.objects.filter(
            pk=call.pk, outcome__in=[Call.Outcome.IN_PROGRESS, Call.Outcome.ABANDONED, Call.Outcome.FAILED]
        ).update(outcome=Call.Outcome.VOICEMAIL)
    transaction.on_commit(lambda: _arrange_notification(voicemail))
    return voicemail


def voicemail_transcription_attach(
    *,
    recording_sid: str,
    text: str,
    status: str,
    call_sid: str = "",
    from_number: str = "",
    to_number: str = "",
    recording_url: str = "",
) -> Voicemail | None:
    """Attach the transcription (it arrives after the recording) and notify now if nobody was told yet."""
    recording_sid, status = (
        param_fit(Voicemail, "recording_sid", recording_sid),
        param_fit(Voicemail, "transcription_status", status),
    )
    voicemail = Voicemail.objects.select_related("team").filter(recording_sid=recording_sid).first()
    if voicemail is None:
        if not recording_url:
            logger.warning("Transcription for unknown recording %s without a RecordingUrl: dropped", recording_sid)
            return None
        # The transcription overtook the recording callbacks: store the voicemail with it (that notifies).
        return voicemail_store(
            call_sid=call_sid,
            from_number=from_number,
            to_number=to_number,
            recording_sid=recording_sid,
            recording_url=recording_url,
            duration_seconds=0,
            transcription=text if status == "completed" else "",
            transcription_status=status or "unknown",
        )
    voicemail.transcription = text if status == "completed" else ""
    voicemail.transcription_status = status
    voicemail.save(update_fields=["transcription", "transcription_status"])
    voicemail_notify(voicemail=voicemail)
    return voicemail


def _arrange_notification(voicemail: Voicemail) -> None:
    """Notify at once, or after a bounded wait for the transcription when one is coming.

    The wait is a Celery task with a countdown. If it cannot be published (broker down), notify now,
    without the transcription: the outbox rows are written and the SMS sweep sends them later.
    """
    if voicemail.transcription_status or voicemail.duration_seconds == 0:
        voicemail_notify(voicemail=voicemail)
        return
    try:
        scheduled = task_publish(
            "telephony.tasks.voicemail.voicemail_notify_task", args=[voicemail.pk], countdown=TRANSCRIPTION_WAIT_SECONDS
        )
    except Exception:
        logger.warning("Could not schedule voicemail %s notice", voicemail.pk, exc_info=True)
        scheduled = False
    if not scheduled:
        logger.warning("Could not schedule voicemail %s notice; notifying now", voicemail.pk)
        voicemail_notify(voicemail=voicemail)


def voicemail_recipients(*, team: Team, at: dt.datetime) -> list[Member]:
    """The people on call (primary and secondary), else the team leads."""
    oncall = selectors.oncall_at(team=team, at=at)
    people: list[Member] = []
    for role in ("primary", "secondary"):
        member = oncall[role].member
        if member is not None and member.pk not in {p.pk for p in people}:
            people.append(member)
    return people or selectors.team_leads(team=team)


def voicemail_sms_body(voicemail: Voicemail, team: Team) -> str:
    """Caller, local time, length, then the transcript (cut first when too long) and the link (kept whole)."""
    local = (voicemail.created_at or timezone.now()).astimezone(team.tz)
    caller = "a withheld number" if caller_is_withheld(voicemail.from_number) else voicemail.from_number
    minutes, seconds = divmod(voicemail.duration_seconds, 60)
    head = f"Voicemail for {team.name} from {caller}, {local:%a %d %b %H:%M %Z}, {minutes}:{seconds:02d} long."
    link = f" Listen: {voicemail.recording_url}.mp3"
    if not voicemail.transcription:
        return sms_body_fit_part(before=head, part="", after=link)
    return sms_body_fit_part(before=f'{head} "', part=voicemail.transcription, after=f'"{link}')


def voicemail_notify(*, voicemail: Voicemail, at: dt.datetime | None = None) -> int:
    """One SMS per recipient per voicemail (the dedupe key makes a second call a no-op). Returns how many
    outbox rows this call wrote or found."""
    team = voicemail.team
    if team is None:
        logger.warning("Voicemail %s belongs to no team: nobody to notify", voicemail.recording_sid)
        return 0
    recipients = voicemail_recipients(team=team, at=at or timezone.now())
    if not recipients:
        logger.warning("Voicemail %s for %s: nobody on call and no lead to notify", voicemail.recording_sid, team)
    body = voicemail_sms_body(voicemail, team)
    for member in recipients:
        sms_send(
            to=member.phone,
            body=body,
            kind="voicemail",
            dedupe_key=f"voicemail:{voicemail.recording_sid}:{member.pk}",
            team=team,
            member=member,
        )
    return len(recipients)


def voicemails_notify_overdue(*, now: dt.datetime | None = None) -> int:
    """Notify voicemails whose delayed notice never ran (a lost countdown task, a worker restart).

    Looks at the last day's voicemails older than the transcription wait with no voicemail SMS yet; the
    people on call when the message was left get it. Returns how many voicemails were notified.
    """
    now = now or timezone.now()
    already = OutboundMessage.objects.filter(
        kind=OutboundMessage.Kind.VOICEMAIL,
        dedupe_key__startswith=Concat(Value("voicemail:"), OuterRef("recording_sid"), Value(":")),
    )
    overdue = (
        Voicemail.objects.select_related("team")
        .filter(
            team__isnull=False,
            created_at__lte=now - dt.timedelta(seconds=TRANSCRIPTION_WAIT_SECONDS + 60),
            created_at__gte=now - dt.timedelta(days=1),
        )
        .exclude(Exists(already))
    )
    notified = 0
    for voicemail in overdue:
        if voicemail_notify(voicemail=voicemail, at=voicemail.created_at):
            notified += 1
    return notified


def voicemail_notify_by_id(voicemail_id: int) -> None:
    """Entry point of the delayed task: safe to run twice, and after the transcription already notified."""
    voicemail = Voicemail.objects.select_related("team").filter(pk=voicemail_id).first()
    if voicemail is not None:
        voicemail_notify(voicemail=voicemail)
