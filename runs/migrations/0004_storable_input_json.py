# The same columns, read back through studio.fields.StorableJSONField: state only, nothing to rebuild.

from django.db import migrations

import studio.fields


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0003_lighter_message_writes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="inputrequest",
                    name=name,
                    field=studio.fields.StorableJSONField(blank=True, null=True),
                )
                for name in ("answer_blocks", "answer_structured", "structured_input")
            ]
        )
    ]
