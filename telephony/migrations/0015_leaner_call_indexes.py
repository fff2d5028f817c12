"""Two indexes fewer on every incoming call's INSERT, and one fewer on each of its dial attempts: each of
these was covered by another index already (issue 15).

- call.team_id: call_team_started (team, -started_at) begins with it.
- dialattempt.call_id: the unique attempt_call_position (call, position) begins with it.
- call.call_sid: `unique=True` made a unique constraint and, on PostgreSQL, an index for LIKE
  (varchar_pattern_ops) that nothing reads. The field's uniqueness becomes a constraint of the model with
  the name PostgreSQL gave the existing one, so the database keeps that constraint as it is and only the
  LIKE index is dropped (instant, no table rewrite, no new index built). SQLite has no such index: its
  table is left as it is.
"""

import django.db.models.deletion
from django.db import migrations, models

LIKE_INDEX = "telephony_call_call_sid_b88209a4_like"


def drop_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{LIKE_INDEX}"')


def create_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{LIKE_INDEX}" ON "telephony_call" ("call_sid" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0005_call_flow"),
        ("telephony", "0014_command_notices"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="call", name="call_sid", field=models.CharField(max_length=40)),
                migrations.AddConstraint(
                    model_name="call",
                    constraint=models.UniqueConstraint(fields=("call_sid",), name="telephony_call_call_sid_key"),
                ),
            ],
            database_operations=[migrations.RunPython(drop_like_index, create_like_index)],
        ),
        migrations.AlterField(
            model_name="call",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="calls",
                to="teams.team",
            ),
        ),
        migrations.AlterField(
            model_name="dialattempt",
            name="call",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="attempts",
                to="telephony.call",
            ),
        ),
    ]
