"""Agent sockets are recorded with the worker holding them, no longer only counted.

The counts from before belong to processes that stop for this upgrade; their agents reconnect
and are recorded then. Until they do, their runs' grace runs, as after any restart."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def forget_counted_sockets(apps, schema_editor):
    Run = apps.get_model("runs", "Run")
    Run.objects.filter(status__in=("running", "waiting"), agent_sockets__gt=0).update(
        agent_sockets=0, agent_left_at=django.utils.timezone.now()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0006_run_origin"),
    ]

    operations = [
        migrations.CreateModel(
            name="Worker",
            fields=[
                ("id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("host", models.CharField(blank=True, max_length=255)),
                ("pid", models.BigIntegerField()),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("seen_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name="AgentSocket",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sid", models.CharField(max_length=64, unique=True)),
                ("worker", models.CharField(max_length=64)),
                ("connected_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="sockets", to="runs.run"
                    ),
                ),
            ],
        ),
        migrations.RunPython(forget_counted_sockets, migrations.RunPython.noop),
    ]
