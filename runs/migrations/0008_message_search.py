"""Full-text search over messages: FTS5 on SQLite, a GIN index on PostgreSQL (runs/search.py).

Only what people read is indexed: the text of text and thinking blocks (a plain string
content is one text block), and the names of the tools called. Tool results and media are
not: they are big, and what people look for is what an agent said or which tool it called.

SQLite: a regular FTS5 table (rowid = the message's id) that triggers keep in step with
runs_message, inside the statement that writes it (pushMessage's upsert): the text is taken
out of the JSON in C, and a streaming re-send replaces the indexed text only when the content
changed. A regular table, not an external-content one: the text is derived, not a column of
runs_message, and snippet() needs it (contentless_delete needs SQLite 3.43).

Careful: a later migration that rebuilds runs_message on SQLite (Django's _remake_table) drops
these triggers with the old table; create them again after it (tests/runs/test_search.py
finds a pushed message, so such a loss fails the suite).
"""

from django.db import migrations

# What is indexed: the message's text, from its JSON content (runs/search.py says which parts).
from runs.search import sqlite_text

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE runs_message_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER runs_message_fts_insert AFTER INSERT ON runs_message BEGIN
      INSERT INTO runs_message_fts (rowid, text)
        SELECT new.id, t FROM (SELECT {sqlite_text("new")} AS t) WHERE t IS NOT NULL AND t != '';
    END""",
    f"""CREATE TRIGGER runs_message_fts_update AFTER UPDATE OF content ON runs_message
      WHEN old.content IS NOT new.content BEGIN
      DELETE FROM runs_message_fts WHERE rowid = old.id;
      INSERT INTO runs_message_fts (rowid, text)
        SELECT new.id, t FROM (SELECT {sqlite_text("new")} AS t) WHERE t IS NOT NULL AND t != '';
    END""",
    """CREATE TRIGGER runs_message_fts_delete AFTER DELETE ON runs_message BEGIN
      DELETE FROM runs_message_fts WHERE rowid = old.id;
    END""",
    f"""INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {sqlite_text("m")} AS t FROM runs_message m) WHERE t IS NOT NULL AND t != ''""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS runs_message_fts_insert",
    "DROP TRIGGER IF EXISTS runs_message_fts_update",
    "DROP TRIGGER IF EXISTS runs_message_fts_delete",
    "DROP TABLE IF EXISTS runs_message_fts",
]

# PostgreSQL: the same text from jsonb, IMMUTABLE so that an index can be built on it; the
# search's WHERE repeats the indexed expression exactly (runs/search.py, PG_VECTOR).
POSTGRES_FORWARD = [
    """CREATE FUNCTION studio_message_text(content jsonb) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT CASE jsonb_typeof(content)
        WHEN 'string' THEN content #>> '{}'
        WHEN 'array' THEN (
          SELECT string_agg(CASE b ->> 'type'
              WHEN 'text' THEN b ->> 'text'
              WHEN 'thinking' THEN b ->> 'thinking'
              WHEN 'tool_use' THEN b ->> 'name' END, ' ')
          FROM jsonb_array_elements(content) AS b WHERE jsonb_typeof(b) = 'object')
      END $$""",
    # The project's message search (runs/search.py).
    "CREATE INDEX message_search_idx ON runs_message"
    " USING gin (to_tsvector('simple'::regconfig, coalesce(studio_message_text(content), '')))",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS message_search_idx",
    "DROP FUNCTION IF EXISTS studio_message_text(jsonb)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0007_agent_sockets_and_workers"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
