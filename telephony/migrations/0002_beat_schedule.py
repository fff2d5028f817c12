"""The default beat schedule (telephony/beat.py) as PeriodicTask rows; adds only what is missing."""

from django.db import migrations


def install(apps, schema_editor):
    from telephony.beat import beat_schedule_install

    beat_schedule_install(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Reversing leaves the rows: they may have been adjusted by operators and are harmless without the tasks.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
