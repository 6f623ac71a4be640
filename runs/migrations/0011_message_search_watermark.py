"""SQLite: a new message is no longer indexed inside the push that stores it.

Messages get growing ids (AUTOINCREMENT, never reused), so what waits to be indexed is every
message above a mark, `runs_message_fts_indexed.upto`, and the ones at or below it that changed
since (0010's queue). `runs.search.index_pending` indexes both and raises the mark, before every
search and in the leader's sweep. A push then writes nothing for the index: the FTS5 insert of
0008's insert trigger was a new index segment, and its pages in the log, at every commit
(bench/findings.md#search-index-watermark).

The triggers queue a message only when it is at or below the mark: a re-send of a message that
was indexed already, or a row stored with an id of its own below the mark. Re-sends of a
message not yet indexed cost nothing: the range takes their latest content (the mark is
checked first, before comparing the old content with the new).

PostgreSQL: nothing changes (its GIN index is on an expression of the content).
"""

from django.db import migrations

from runs.search import sqlite_text

PENDING = "runs_message_fts_pending"
INDEXED = "runs_message_fts_indexed"
AT_OR_BELOW_MARK = f"new.id <= (SELECT upto FROM {INDEXED})"
# Not INSERT OR IGNORE: in a trigger, the writing statement's own conflict clause (the upsert's)
# would replace it.
QUEUE_NEW = f"INSERT INTO {PENDING} (id) SELECT new.id WHERE NOT EXISTS (SELECT 1 FROM {PENDING} WHERE id = new.id);"

SQLITE_FORWARD = [
    f"CREATE TABLE {INDEXED} (upto INTEGER NOT NULL)",
    # Until now every stored message was indexed at once (those re-sent since wait in the queue).
    f"INSERT INTO {INDEXED} (upto) SELECT coalesce(max(id), 0) FROM runs_message",
    "DROP TRIGGER runs_message_fts_insert",
    f"""CREATE TRIGGER runs_message_fts_insert AFTER INSERT ON runs_message
      WHEN {AT_OR_BELOW_MARK} BEGIN
      {QUEUE_NEW}
    END""",
    "DROP TRIGGER runs_message_fts_update",
    f"""CREATE TRIGGER runs_message_fts_update AFTER UPDATE OF content ON runs_message
      WHEN {AT_OR_BELOW_MARK} AND old.content IS NOT new.content BEGIN
      {QUEUE_NEW}
    END""",
]
SQLITE_BACKWARD = [
    # Index everything that waits first: 0010's triggers index new messages by themselves.
    f"""DELETE FROM runs_message_fts
      WHERE rowid IN (SELECT id FROM {PENDING}) OR rowid > (SELECT upto FROM {INDEXED})""",
    f"""INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {sqlite_text("m")} AS t FROM runs_message m
        WHERE m.id IN (SELECT id FROM {PENDING}) OR m.id > (SELECT upto FROM {INDEXED}))
      WHERE t IS NOT NULL AND t != ''""",
    f"DELETE FROM {PENDING}",
    "DROP TRIGGER runs_message_fts_insert",
    f"""CREATE TRIGGER runs_message_fts_insert AFTER INSERT ON runs_message BEGIN
      INSERT INTO runs_message_fts (rowid, text)
        SELECT new.id, t FROM (SELECT {sqlite_text("new")} AS t) WHERE t IS NOT NULL AND t != '';
    END""",
    "DROP TRIGGER runs_message_fts_update",
    f"""CREATE TRIGGER runs_message_fts_update AFTER UPDATE OF content ON runs_message
      WHEN old.content IS NOT new.content BEGIN
      {QUEUE_NEW}
    END""",
    f"DROP TABLE {INDEXED}",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for sql in statements:
                schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0010_message_search_deferred"),
    ]

    operations = [migrations.RunPython(_run(SQLITE_FORWARD), _run(SQLITE_BACKWARD))]
