from django.db import migrations, models


def count_tool_calls(content):
    if not isinstance(content, list):
        return 0
    return sum(1 for block in content if isinstance(block, dict) and block.get("type") == "tool_use")


def count_existing(apps, schema_editor):
    Message = apps.get_model("runs", "Message")
    batch = []
    for message in Message.objects.only("pk", "content").iterator(chunk_size=2000):
        message.tool_calls = count_tool_calls(message.content)
        if message.tool_calls:
            batch.append(message)
        if len(batch) >= 2000:
            Message.objects.bulk_update(batch, ["tool_calls"])
            batch = []
    Message.objects.bulk_update(batch, ["tool_calls"])


class Migration(migrations.Migration):
    dependencies = [("runs", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="tool_calls",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
