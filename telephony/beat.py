"""The beat schedule, in one place. It lives in telephony, the app that may name the tasks of both apps (it
imports none of them: entries name tasks by their dotted path).

Beat runs django-celery-beat's DatabaseScheduler (settings.CELERY_BEAT_SCHEDULER), so the schedule lives in
the database where operators see and adjust it in the admin (Periodic tasks). The defaults below are written
there by the data migration telephony 0002 and by `seed_demo`, through `beat_schedule_install()`, which only
adds what is missing: an operator's change (another interval, a disabled entry) survives restarts and
re-installs. Every task here is safe to run twice and on two workers at once, so a late or doubled tick
does no harm, and docker-compose.yml runs two beats so that beat is no single point of failure (each tick then
comes twice; tests/telephony/test_two_beats.py checks that nothing is sent twice).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    every: dt.timedelta
    description: str


ENTRIES: tuple[BeatEntry, ...] = (
    # Hourly: keep every rotation's shifts generated SHIFT_HORIZON_WEEKS (12) ahead. The horizon moves by an
    # hour per run, so hourly keeps it full with room to spare; a rotation edit regenerates at once anyway.
    BeatEntry(
        "Extend the shift horizon",
        "teams.tasks.shifts_extend_horizon",
        dt.timedelta(hours=1),
        "Generates every rotation's shifts up to the horizon; idempotent.",
    ),
    # Every minute: a reminder goes out `reminder_lead_minutes` before a shift, so a minute is the precision
    # people notice. A shift created or moved inside the lead window is picked up by the next tick.
    BeatEntry(
        "Send shift reminders",
        "telephony.tasks.notifications.reminders_send",
        dt.timedelta(minutes=1),
        "SMS to each member reminder_lead_minutes before each of their shifts and overrides.",
    ),
    # Every minute: hand-off notices should arrive as the hand-off happens. The scan catches up on the last
    # hour, so a beat outage shorter than that still sends each notice (once: dedupe keys).
    BeatEntry(
        "Send hand-off notices",
        "telephony.tasks.notifications.handoffs_notify",
        dt.timedelta(minutes=1),
        "SMS to the incoming and outgoing person at each change of who is on call.",
    ),
    # Every 5 minutes: leads should hear of a gap soon after the rota edit that made it, but the teams app
    # never imports telephony, so an edit cannot send the alert itself. Scanning the next 14 days often
    # gives the leads their alert minutes after the edit; the dedupe key (team, role, gap start, lead) makes
    # each gap alert once however often the scan runs.
    BeatEntry(
        "Alert leads about rota gaps",
        "telephony.tasks.notifications.gaps_alert",
        dt.timedelta(minutes=5),
        "One SMS to the team leads per newly found gap in the next 14 days.",
    ),
    # Every minute: outbox rows whose delivery task never ran (broker down at send time) are enqueued again.
    BeatEntry(
        "Sweep the SMS outbox",
        "telephony.tasks.sms.sms_sweep",
        dt.timedelta(minutes=1),
        "Re-enqueues queued messages whose delivery task never ran.",
    ),
    # Every minute: a voicemail's notice waits for its transcription in a countdown task; if that task was
    # lost (worker restart, broker flush), this sends the notice a few minutes late rather than never.
    BeatEntry(
        "Send overdue voicemail notices",
        "telephony.tasks.voicemail.voicemails_notify_overdue_task",
        dt.timedelta(minutes=1),
        "Texts the people on call about voicemails whose notice never went out.",
    ),
    # Every minute: a swap nobody took (or no lead approved) lapses when its shift starts; the asker should
    # hear it then, not an hour later, and the offers stop counting. The same tick sends the texts of swap
    # steps made by SMS whose task was lost (broker down), a minute late rather than never.
    BeatEntry(
        "Expire shift swaps",
        "telephony.tasks.swaps.swaps_expire",
        dt.timedelta(minutes=1),
        "Marks swaps whose shift has started as expired and tells the asker.",
    ),
    # Every minute: pages the next person for open alerts whose acknowledgement timeout (minutes) has passed,
    # and sends the stand-down notices of ACK / RESOLVE by SMS whose task was lost (broker down).
    BeatEntry(
        "Escalate open alerts",
        "telephony.tasks.alerts.alerts_escalate",
        dt.timedelta(minutes=1),
        "Pages the next step of the escalation chain for unacknowledged alerts.",
    ),
    # Every 5 minutes: a price look-up whose task was lost (broker down when the call ended) is published
    # again; Twilio takes minutes to rate a call anyway, so five minutes late costs nothing.
    BeatEntry(
        "Look up lost Twilio prices",
        "telephony.tasks.costs.charge_prices_sweep",
        dt.timedelta(minutes=5),
        "Re-publishes price look-ups of call legs and SMS whose task never ran.",
    ),
    # Every 5 minutes: leads hear of a budget crossed within minutes, even when no price arrives (the
    # estimates alone crossed it); each notice once per team, month, threshold and lead.
    BeatEntry(
        "Check monthly budgets",
        "telephony.tasks.costs.budgets_check",
        dt.timedelta(minutes=5),
        "One SMS to each lead at 80% and at 100% of the team's monthly budget.",
    ),
)


def _models(apps):
    if apps is None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

        return IntervalSchedule, PeriodicTask, PeriodicTasks
    return (
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "PeriodicTasks"),
    )


def _interval(model, every: dt.timedelta):
    """The IntervalSchedule row for `every` in its largest whole unit (as the admin shows it), reused if it exists."""
    seconds = int(every.total_seconds())
    every_n, period = seconds, "seconds"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0:
            every_n, period = seconds // size, unit
            break
    row = model.objects.filter(every=every_n, period=period).order_by("pk").first()
    return row or model.objects.create(every=every_n, period=period)


def beat_schedule_install(*, apps=None, reset: bool = False) -> dict[str, int]:
    """Write the default periodic tasks; idempotent. Returns {"created": n, "updated": n}.

    An entry counts as present when a periodic task runs its task (under any name), so renamed, re-timed or
    disabled entries are left as the operator set them. With reset=True, entries go back to the defaults.
    `apps` is the migration's app registry (historical models); None uses the real models.
    """
    interval_model, task_model, changes_model = _models(apps)
    created = updated = 0
    for entry in ENTRIES:
        existing = list(task_model.objects.filter(task=entry.task).order_by("pk"))
        if existing and not reset:
            continue
        interval = _interval(interval_model, entry.every)
        # A tick older than its interval is useless (the next one does the same work): let it expire
        # in the queue instead of running a backlog of identical scans after a worker outage.
        defaults = {
            "name": entry.name,
            "interval": interval,
            "crontab": None,
            "solar": None,
            "clocked": None,
            "enabled": True,
            "one_off": False,
            "expire_seconds": int(entry.every.total_seconds()),
            "description": entry.description,
        }
        row = existing[0] if existing else task_model.objects.filter(name=entry.name).first()
        if row is None:
            # Due at once: a new installation generates its horizon and scans without waiting an interval.
            task_model.objects.create(task=entry.task, last_run_at=timezone.now() - entry.every, **defaults)
            created += 1
            continue
        changed = row.task != entry.task or any(getattr(row, field) != value for field, value in defaults.items())
        if changed:
            row.task = entry.task
            for field, value in defaults.items():
                setattr(row, field, value)
            row.save()
            updated += 1
    if (created or updated) and apps is not None:
        # Historical models bypass django-celery-beat's signals: tell a running beat to reload by hand.
        changes_model.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
    return {"created": created, "updated": updated}


def tasks_run_by_beat():
    """The enabled periodic tasks the beat has run at least once. `last_run_at` alone says nothing: the
    install above stamps it so that new tasks are due at once; `total_run_count` counts the beat's runs."""
    _, task_model, _ = _models(None)
    return task_model.objects.filter(enabled=True, last_run_at__isnull=False, total_run_count__gt=0)


__all__ = ["ENTRIES", "BeatEntry", "beat_schedule_install", "tasks_run_by_beat"]
