"""The beat schedule: its defaults exist after migrate, installing them again changes nothing."""

import datetime as dt

import pytest
from django.forms.models import model_to_dict
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from roulette.celery import app
from telephony.beat import ENTRIES, beat_schedule_install

pytestmark = pytest.mark.django_db

EXPECTED = {
    "teams.tasks.shifts_extend_horizon": (1, "hours"),
    "telephony.tasks.notifications.reminders_send": (1, "minutes"),
    "telephony.tasks.notifications.handoffs_notify": (1, "minutes"),
    "telephony.tasks.notifications.gaps_alert": (5, "minutes"),
    "telephony.tasks.sms.sms_sweep": (1, "minutes"),
    "telephony.tasks.alerts.alerts_escalate": (1, "minutes"),
    "telephony.tasks.voicemail.voicemails_notify_overdue_task": (1, "minutes"),
    "telephony.tasks.swaps.swaps_expire": (1, "minutes"),
    "telephony.tasks.costs.charge_prices_sweep": (5, "minutes"),
    "telephony.tasks.costs.budgets_check": (5, "minutes"),
}


def snapshot():
    return sorted((model_to_dict(row) for row in PeriodicTask.objects.all()), key=lambda d: d["id"]), list(
        IntervalSchedule.objects.values()
    )


def test_the_migration_installs_every_entry_enabled_with_its_interval():
    rows = {row.task: row for row in PeriodicTask.objects.select_related("interval")}
    assert set(EXPECTED) <= set(rows)
    for task, (every, unit) in EXPECTED.items():
        row = rows[task]
        assert row.enabled
        assert dt.timedelta(**{unit: every}) == dt.timedelta(**{row.interval.period: row.interval.every})
        # A tick that waited longer than its interval expires instead of piling up behind a stopped worker.
        assert row.expire_seconds == dt.timedelta(**{unit: every}).total_seconds()


def test_installing_twice_changes_nothing():
    before = snapshot()
    assert beat_schedule_install() == {"created": 0, "updated": 0}
    assert beat_schedule_install() == {"created": 0, "updated": 0}
    assert snapshot() == before


def test_an_operators_change_survives_a_reinstall_and_reset_restores_the_default():
    row = PeriodicTask.objects.get(task="telephony.tasks.notifications.gaps_alert")
    row.interval = IntervalSchedule.objects.create(every=30, period="minutes")
    row.enabled = False
    row.save()
    assert beat_schedule_install() == {"created": 0, "updated": 0}
    row.refresh_from_db()
    assert (row.interval.every, row.enabled) == (30, False)

    assert beat_schedule_install(reset=True) == {"created": 0, "updated": 1}
    row.refresh_from_db()
    assert (row.interval.every, row.interval.period, row.enabled) == (5, "minutes", True)


def test_installing_on_an_empty_schedule_creates_every_entry_once():
    PeriodicTask.objects.all().delete()
    assert beat_schedule_install() == {"created": len(EXPECTED), "updated": 0}
    assert beat_schedule_install() == {"created": 0, "updated": 0}
    assert sorted(PeriodicTask.objects.values_list("task", flat=True)) == sorted(EXPECTED)


def test_a_deleted_entry_comes_back_on_install():
    PeriodicTask.objects.filter(task="telephony.tasks.notifications.reminders_send").delete()
    assert beat_schedule_install() == {"created": 1, "updated": 0}
    assert PeriodicTask.objects.filter(task="telephony.tasks.notifications.reminders_send", enabled=True).count() == 1
    assert len(ENTRIES) == len(EXPECTED)


def test_the_rota_tasks_of_the_schedule_are_registered_with_celery():
    app.loader.import_default_modules()
    for task in (
        "teams.tasks.shifts_extend_horizon",
        *(t for t in EXPECTED if t.startswith("telephony.tasks.notifications.")),
    ):
        assert task in app.tasks


def test_new_entries_are_due_at_once_so_a_fresh_install_does_not_wait_an_hour():
    from django_celery_beat.schedulers import ModelEntry

    PeriodicTask.objects.filter(task__in=EXPECTED).delete()
    beat_schedule_install()
    for row in PeriodicTask.objects.filter(task__in=EXPECTED):
        due, _ = ModelEntry(row, app=app).is_due()
        assert due, row.task


@pytest.mark.django_db(transaction=True)
def test_upgrading_points_an_edited_periodic_task_at_the_renamed_module_and_keeps_the_edit():
    """Installations from before the task modules were renamed (tasks/rota, tasks/voice) keep their schedule."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    beat_schedule_install()  # a transactional test starts from a flushed database
    executor = MigrationExecutor(connection)
    executor.migrate([("telephony", "0006_voicemail_one_per_call")])
    # Going back names the tasks as the old modules did; an operator then edits one of them.
    assert PeriodicTask.objects.filter(task="telephony.tasks.voice.voicemails_notify_overdue_task").count() == 1
    edited = PeriodicTask.objects.filter(task="telephony.tasks.rota.gaps_alert")
    assert edited.update(enabled=False, name="Gap scan (slowed by ops)") == 1
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    row = PeriodicTask.objects.get(task="telephony.tasks.notifications.gaps_alert")
    assert (row.enabled, row.name) == (False, "Gap scan (slowed by ops)")
    assert PeriodicTask.objects.filter(task="telephony.tasks.voicemail.voicemails_notify_overdue_task").count() == 1
    assert not PeriodicTask.objects.filter(task__startswith="telephony.tasks.rota.").exists()
    assert not PeriodicTask.objects.filter(task__startswith="telephony.tasks.voice.").exists()
    assert set(EXPECTED) <= set(PeriodicTask.objects.values_list("task", flat=True))
