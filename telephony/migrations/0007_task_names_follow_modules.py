"""The task modules were renamed after the modules they serve (tasks/rota → tasks/notifications, tasks/voice →
tasks/voicemail), and with them the dotted task names beat sends. Periodic tasks already in the database are
pointed at the new names, keeping every operator's edit (interval, enabled, name) as it was. A delayed
voicemail notice still queued under its old name at upgrade time is not lost: the overdue-voicemail sweep
sends it."""

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "telephony.tasks.rota.reminders_send": "telephony.tasks.notifications.reminders_send",
    "telephony.tasks.rota.handoffs_notify": "telephony.tasks.notifications.handoffs_notify",
    "telephony.tasks.rota.gaps_alert": "telephony.tasks.notifications.gaps_alert",
    "telephony.tasks.voice.voicemails_notify_overdue_task": "telephony.tasks.voicemail.voicemails_notify_overdue_task",
}


def rename(apps, schema_editor, mapping=RENAMED):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    changed = 0
    for old, new in mapping.items():
        changed += PeriodicTask.objects.filter(task=old).update(task=new)
    if changed:
        # Historical models bypass django-celery-beat's signals: tell a running beat to reload.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def rename_back(apps, schema_editor):
    rename(apps, schema_editor, mapping={new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0006_voicemail_one_per_call"),
    ]

    operations = [migrations.RunPython(rename, rename_back)]
