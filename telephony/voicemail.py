"""Voicemail: store a recording once however often Twilio reports it, attach its transcription, and raise
its alert (after a bounded wait for the transcription, with a beat sweep as the safety net). The alert pages
the team's chain until someone acknowledges it (telephony.alerts); its page is the voicemail SMS.

The call flow (telephony.calls) hands a caller here when the escalation chain is exhausted; the recording,
recording status and transcription callbacks arrive here in any order and any number of times. At the
voicemail prompt a caller with a real number may ask for a call back instead: a `callback` alert.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from teams import rota, selectors
from teams.models import Team
from telephony import alerts, rows
from telephony.calls import call_insert, caller_is_withheld, param_fit, phone_normalize
from telephony.models import Alert, Call, OutboundMessage, Voicemail
from telephony.queue import task_publish

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
    # One read: the call, with this recording's voicemail and the call's voicemail if they exist already.
    call = (
        Call.objects.select_related("team")
        .annotate(
            same_recording=Subquery(Voicemail.objects.filter(recording_sid=recording_sid).values("pk")[:1]),
            earlier_voicemail=Subquery(Voicemail.objects.filter(call=OuterRef("pk")).values("pk")[:1]),
        )
        .filter(call_sid=call_sid)
        .first()
        if call_sid
        else None
    )
    existing = (
        Voicemail.objects.filter(recording_sid=recording_sid).first()
        if call is None or call.same_recording is not None
        else None
    )
    if existing is not None:
        if duration_seconds and not existing.duration_seconds:
            Voicemail.objects.filter(pk=existing.pk).update(duration_seconds=duration_seconds)
            existing.duration_seconds = duration_seconds
        return existing
    if call is None and call_sid:
        # Served by the fallback (no Call row yet): log the call now so the voicemail has its context.
        team = selectors.team_by_support_number(phone_number=to_number) if to_number else None
        call = call_insert(Call(call_sid=call_sid, team=team, from_number=from_number, to_number=to_number))
    if call is not None and getattr(call, "earlier_voicemail", True) is not None:  # True: not read yet
        # Another RecordingSid for a call that already left its message: Twilio records once per call, so
        # this is a replay or a forgery. Keep the first voicemail; notify nobody again.
        earlier = Voicemail.objects.filter(call=call).first()
        if earlier is not None:
            logger.warning(
                "Call %s already has voicemail %s: recording %s ignored", call_sid, earlier.pk, recording_sid
            )
            return earlier
    team = call.team if call else None
    voicemail = Voicemail(
        call=call,
        team=team,
        recording_sid=recording_sid,
        recording_url=recording_url,
        duration_seconds=duration_seconds,
        from_number=from_number or (call.from_number if call else ""),
        transcription=transcription,
        transcription_status=transcription_status,
    )
    same = Q(recording_sid=recording_sid) | (Q(call=call) if call is not None else Q(pk__in=[]))
    voicemail, created = rows.insert_or_existing(voicemail, same)
    if not created:
        # The other callback of the same recording (or of the same call) won the race: that one notifies.
        return voicemail
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
    """Attach the transcription (it arrives after the recording) and raise the alert now if not raised yet."""
    recording_sid, status = (
        param_fit(Voicemail, "recording_sid", recording_sid),
        param_fit(Voicemail, "transcription_status", status),
    )
    voicemail = _transcription_set(
        recording_sid=recording_sid, text=text if status == "completed" else "", status=status
    )
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
    # Paged already without it (the wait ran out, the broker was down): the alert and later pages carry it.
    # The text is committed first, so an alert raised from now on reads it; one raised before gets it here.
    if not alerts.alert_details_set_of_voicemail(voicemail_id=voicemail.pk, details=voicemail_alert_details(voicemail)):
        _raise_now(voicemail)
    return voicemail


def _transcription_set(*, recording_sid: str, text: str, status: str) -> Voicemail | None:
    """Store the transcription on its voicemail in one autocommit statement (UPDATE ... RETURNING); None when
    no voicemail has this RecordingSid yet."""
    table = Voicemail._meta.db_table
    sql = f"UPDATE {table} SET transcription = %s, transcription_status = %s WHERE recording_sid = %s"  # noqa: S608
    sql += " RETURNING id, team_id, recording_url"
    with connection.cursor() as cursor:
        cursor.execute(sql, [text, status, recording_sid])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, team_id, recording_url = row
    return Voicemail(
        pk=pk,
        team_id=team_id,
        recording_sid=recording_sid,
        recording_url=recording_url,
        transcription=text,
        transcription_status=status,
    )


def _raise_now(voicemail: Voicemail) -> None:
    """The transcription came before the alert: raise it at once, by a task (the webhook answers without
    paging the chain itself), or here when the broker is down. The overdue sweep is the safety net."""
    if voicemail.team_id is None:
        logger.warning("Voicemail %s belongs to no team: nobody to notify", voicemail.recording_sid)
        return
    try:
        published = task_publish("telephony.tasks.voicemail.voicemail_raise_task", args=[voicemail.pk])
    except Exception:
        logger.warning("Could not publish voicemail %s notice", voicemail.pk, exc_info=True)
        published = False
    if not published:
        voicemail_notify_by_id(voicemail.pk)


def _arrange_notification(voicemail: Voicemail) -> None:
    """Notify at once, or after a bounded wait for the transcription when one is coming.

    The wait is a Celery task with a countdown. If it cannot be published (broker down), raise the alert now,
    without the transcription: its pages are outbox rows the SMS sweep sends later. If the alert cannot be
    raised (a database error), the voicemail is stored all the same and the overdue sweep raises it.
    """
    try:
        _arrange_alert(voicemail)
    except Exception:
        logger.exception("Could not raise the alert of voicemail %s now: the overdue sweep will", voicemail.pk)


def _arrange_alert(voicemail: Voicemail) -> None:
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


def voicemail_caller(from_number: str) -> str:
    """The caller as a person reads it: their number, or "a withheld number"."""
    return _("a withheld number") if caller_is_withheld(from_number) else from_number


def _length(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}"


def _local(instant: dt.datetime | None, team: Team) -> str:
    """'Tue 1 Dec 11:00 CET': rota's short local time, with the zone's abbreviation."""
    local = (instant or timezone.now()).astimezone(team.tz)
    return f"{rota.format_local(local, team.tz, year=False, zone=False)} {local.tzname()}"


def voicemail_alert_summary(voicemail: Voicemail, team: Team) -> str:
    """Caller, local time (with its zone) and length: the head of every page about this voicemail."""
    return _("Voicemail from %(caller)s, %(when)s, %(length)s long") % {
        "caller": voicemail_caller(voicemail.from_number),
        "when": _local(voicemail.created_at, team),
        "length": _length(voicemail.duration_seconds),
    }


def voicemail_alert_details(voicemail: Voicemail) -> str:
    """The transcription (or why there is none yet) and the recording link."""
    if voicemail.transcription:
        text = voicemail.transcription
    elif voicemail.transcription_status and voicemail.transcription_status != "completed":
        text = _("No transcription (Twilio said: %(status)s).") % {"status": voicemail.transcription_status}
    else:
        text = _("No transcription yet.")
    return text + "\n\n" + _("Recording: %(url)s.mp3") % {"url": voicemail.recording_url}


def voicemail_notify(*, voicemail: Voicemail) -> Alert | None:
    """Raise the voicemail's alert, once however often this runs: it pages the team's chain like any alert
    (primary, then the secondary after the acknowledgement timeout, then the leads), and its page is the
    voicemail SMS. The voicemail row is locked while its alert is looked for and raised."""
    team = voicemail.team
    if team is None:
        logger.warning("Voicemail %s belongs to no team: nobody to notify", voicemail.recording_sid)
        return None
    with transaction.atomic():
        voicemail = Voicemail.objects.select_for_update(of=("self",)).select_related("call").get(pk=voicemail.pk)
        existing = Alert.objects.filter(voicemail=voicemail).first()
        if existing is not None:
            return existing
        # The alert's summary and details are stored once, in the team's language.
        with translation.override(team.language):
            summary, details = voicemail_alert_summary(voicemail, team), voicemail_alert_details(voicemail)
        alert, _created = alerts.alert_raise(
            team=team,
            summary=summary,
            details=details,
            source=alerts.Source.VOICEMAIL,
            actor=voicemail_caller(voicemail.from_number),
            call=voicemail.call,
            voicemail=voicemail,
        )
    return alert


def voicemails_notify_overdue(*, now: dt.datetime | None = None) -> int:
    """Raise the alerts of voicemails whose delayed raise never ran (a lost countdown task, a worker restart,
    a database error after the recording was stored).

    Looks at the last day's voicemails older than the transcription wait with no alert yet (nor a voicemail
    SMS of the days before voicemails were alerts). Returns how many alerts were raised.
    """
    now = now or timezone.now()
    texted_before_alerts = OutboundMessage.objects.filter(
        kind=OutboundMessage.Kind.VOICEMAIL,
        dedupe_key__startswith=Concat(Value("voicemail:"), OuterRef("recording_sid"), Value(":")),
    )
    overdue = (
        Voicemail.objects.select_related("team")
        .filter(
            team__isnull=False,
            alert__isnull=True,
            created_at__lte=now - dt.timedelta(seconds=TRANSCRIPTION_WAIT_SECONDS + 60),
            created_at__gte=now - dt.timedelta(days=1),
        )
        .exclude(Exists(texted_before_alerts))
    )
    raised = 0
    for voicemail in overdue:
        try:
            raised += voicemail_notify(voicemail=voicemail) is not None
        except Exception:
            # One broken voicemail must not keep the others from paging; the next sweep tries it again.
            logger.exception("Could not raise the alert of voicemail %s", voicemail.pk)
    return raised


def voicemail_notify_by_id(voicemail_id: int) -> None:
    """Entry point of the delayed task: safe to run twice, and after the transcription already notified."""
    voicemail = Voicemail.objects.select_related("team").filter(pk=voicemail_id).first()
    if voicemail is not None:
        voicemail_notify(voicemail=voicemail)


# --- call-back requests --------------------------------------------------------------------------------


# A number a person can call back from their mobile: E.164, not a SIP URI, a browser client or "anonymous".
_CALLABLE = re.compile(r"\+[1-9]\d{5,14}")


def caller_is_callable(from_number: str) -> bool:
    return bool(_CALLABLE.fullmatch(from_number)) and not caller_is_withheld(from_number)


def callback_offered(*, call: Call | None, team: Team | None) -> bool:
    """A caller may ask for a call back instead of a message when we have a number to call back."""
    return team is not None and call is not None and caller_is_callable(call.from_number)


def callback_request(*, call_sid: str, from_number: str, to_number: str) -> Alert | None:
    """The caller pressed 1 at the voicemail prompt: raise a `callback` alert with their number, paged like
    any alert; the call's outcome says so. Once per call however often Twilio repeats the key press.

    None when there is nobody to raise it for (no team, a withheld number): the caller then leaves a message.
    """
    call_sid = param_fit(Call, "call_sid", call_sid)
    call = Call.objects.select_related("team").filter(call_sid=call_sid).first() if call_sid else None
    if call is None or call.team is None or not caller_is_callable(call.from_number):
        logger.warning("Call-back request for call %s that cannot be called back: voicemail", call_sid)
        return None
    team = call.team
    with transaction.atomic():
        Call.objects.filter(
            pk=call.pk, outcome__in=[Call.Outcome.IN_PROGRESS, Call.Outcome.ABANDONED, Call.Outcome.FAILED]
        ).update(outcome=Call.Outcome.CALLBACK)
        with translation.override(team.language):
            summary = _("Call back %(caller)s: asked for a call back, %(when)s") % {
                "caller": call.from_number,
                "when": _local(timezone.now(), team),
            }
            details = _(
                "The caller chose a call back instead of a voicemail. Call %(caller)s, then acknowledge this alert."
            ) % {"caller": call.from_number}
        alert, _created = alerts.alert_raise(
            team=team,
            summary=summary,
            details=details,
            source=alerts.Source.CALLBACK,
            actor=call.from_number,
            call=call,
        )
    return alert
