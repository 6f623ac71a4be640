"""SQLite: a streamed re-send no longer re-indexes its message at once; it queues the message's
id, and `runs.search.index_pending` indexes the queue's latest contents in one go.

agentscope re-sends a message with the same id for every streaming chunk, and the old update
trigger deleted and re-inserted its FTS5 row each time: about a quarter of such a push's
instructions (bench/findings.md#search-index-deferred). A message is still indexed when it is
first stored (the insert trigger of 0008, unchanged), and a search indexes the queue before it
reads, so what it finds is never behind what was pushed. The leader's sweep empties the queue
every few seconds, so it stays small when nobody searches.

PostgreSQL: nothing changes (its GIN index is on an expression of the content).
"""

from django.db import migrations

from runs.search import sqlite_text

PENDING = "runs_message_fts_pending"

SQLITE_FORWARD = [
    f"CREATE TABLE {PENDING} (id INTEGER PRIMARY KEY)",
    "DROP TRIGGER runs_message_fts_update",
    f"""CREATE TRIGGER runs_message_fts_update AFTER UPDATE OF content ON runs_message
      WHEN old.content IS NOT new.content BEGIN
      -- Not INSERT OR IGNORE: in a trigger, the writing statement's own conflict clause (the
      -- upsert's) would replace it.
      INSERT INTO {PENDING} (id) SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM {PENDING} WHERE id = new.id);
    END""",
]
SQLITE_BACKWARD = [
    # Index what waits first: the old trigger keeps the index in step by itself.
    f"DELETE FROM runs_message_fts WHERE rowid IN (SELECT id FROM {PENDING})",
    f"""INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {sqlite_text("m")} AS t
        FROM runs_message m JOIN {PENDING} p ON p.id = m.id) WHERE t IS NOT NULL AND t != ''""",
    "DROP TRIGGER runs_message_fts_update",
    f"""CREATE TRIGGER runs_message_fts_update AFTER UPDATE OF content ON runs_message
      WHEN old.content IS NOT new.content BEGIN
      DELETE FROM runs_message_fts WHERE rowid = old.id;
      INSERT INTO runs_message_fts (rowid, text)
        SELECT new.id, t FROM (SELECT {sqlite_text("new")} AS t) WHERE t IS NOT NULL AND t != '';
    END""",
    f"DROP TABLE {PENDING}",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for sql in statements:
                schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0009_agent_socket_token"),
    ]

    operations = [migrations.RunPython(_run(SQLITE_FORWARD), _run(SQLITE_BACKWARD))]
