"""Adds the beat entries that are new since 0002 (the overdue voicemail notices); keeps operators' edits."""

from django.db import migrations


def install(apps, schema_editor):
    from telephony.beat import beat_schedule_install

    beat_schedule_install(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("telephony", "0002_beat_schedule")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
