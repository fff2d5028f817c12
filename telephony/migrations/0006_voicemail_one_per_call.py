"""One voicemail per call. Voicemails stored twice for a call before this (another RecordingSid replayed for
it) are kept, but only the first stays linked to the call, so the constraint can hold."""

from django.db import migrations, models


def unlink_later_voicemails(apps, schema_editor):
    Voicemail = apps.get_model("telephony", "Voicemail")
    seen = set()
    later = []
    for pk, call_id in Voicemail.objects.filter(call__isnull=False).order_by("call_id", "pk").values_list("pk", "call_id"):
        if call_id in seen:
            later.append(pk)
        seen.add(call_id)
    Voicemail.objects.filter(pk__in=later).update(call=None)


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0005_rota_change_notice"),
    ]

    operations = [
        migrations.RunPython(unlink_later_voicemails, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="voicemail",
            constraint=models.UniqueConstraint(
                condition=models.Q(("call__isnull", False)), fields=("call",), name="voicemail_one_per_call"
            ),
        ),
    ]
