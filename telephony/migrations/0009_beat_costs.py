"""Adds the beat entries of the cost work (lost price look-ups, budget notices); keeps operators' edits."""

from django.db import migrations


def install(apps, schema_editor):
    from telephony.beat import beat_schedule_install

    beat_schedule_install(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("telephony", "0008_charge")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
