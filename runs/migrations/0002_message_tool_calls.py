from django.db import migrations, models


def count_tool_calls(content):
    if not isinstance(content, list):
        return 0
    return sum(1 for block in content if isinstance(block, dict) and block.get("type") == "tool_use")


def count_existing(apps, schema_editor):
    # Contents may hold megabytes of inline media: a few at a time, nothing kept but the counts.
    Message = apps.get_model("runs", "Message")
    counted = []
    for pk, content in Message.objects.values_list("pk", "content").iterator(chunk_size=200):
        tool_calls = count_tool_calls(content)
        if tool_calls:
            counted.append(Message(pk=pk, tool_calls=tool_calls))
        if len(counted) >= 500:
            Message.objects.bulk_update(counted, ["tool_calls"])
            counted = []
    Message.objects.bulk_update(counted, ["tool_calls"])


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
