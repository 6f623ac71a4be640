"""Full-text search over a project's messages: what an agent said, thought, or which tool it called.

`search(project, query, limit, cursor)` is the one entry point (the run list's search box, the
API). SQLite searches an FTS5 table that is brought up to date before each search and in the
leader's sweep, so that a push writes nothing for it (`index_pending`); PostgreSQL a GIN index
on the same text (runs/migrations/0008_message_search.py says what is indexed).

The query is taken as words, never as FTS5 or tsquery syntax (whatever a person types is a
valid search: no 500 for a stray quote): a message matches when it has every word. Newest
first, so a page is the index read backwards from the cursor and stops after `limit` hits, on
both databases, however many messages match (bench/search_overview.py).

Snippets come from FTS5 `snippet()` / PostgreSQL `ts_headline()` with private-use characters
around the matches; the text is then HTML-escaped and only those marks become <mark>, so a
message holding markup shows it as text.
"""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString, mark_safe

from studio.db import writing

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_WORDS = 16  # a longer query is cut: each word is one more posting list to intersect
SNIPPET_WORDS = 24

_START, _STOP = "\ue000", "\ue001"  # around each match in the database's snippet, until escaped
# ts_headline() takes <...> for HTML tags and leaves them out of its snippet; a message holding
# markup is shown as text, so its snippet must hold it too: < and > go in as these, and come back.
_ANGLES = "\ue002\ue003"
_FROM_ANGLES = str.maketrans(_ANGLES, "<>")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Hit:
    message_pk: int
    msg_id: str
    reply_pk: int
    reply_id: str
    run_id: str
    run_name: str
    name: str  # who sent the message
    role: str
    created_at: datetime
    snippet: SafeString  # escaped HTML, the matching words in <mark>


@dataclass(frozen=True)
class Results:
    hits: list
    next_cursor: int | None  # pass it back as `cursor` for the next page; None: no more


# SQLite: the searchable text of a message, from its JSON content `{content}` (a string, or a
# list of blocks): text and thinking blocks, and the names of the tools called. The triggers of
# runs/migrations/0008 and index_pending() below take it, in C, out of the stored JSON.
SQLITE_TEXT = """CASE WHEN NOT json_valid({content}) THEN NULL
  WHEN json_type({content}) = 'text' THEN json_extract({content}, '$')
  WHEN json_type({content}) = 'array' THEN (
    SELECT group_concat(CASE json_extract({content}, fullkey || '.type')
        WHEN 'text' THEN json_extract({content}, fullkey || '.text')
        WHEN 'thinking' THEN json_extract({content}, fullkey || '.thinking')
        WHEN 'tool_use' THEN json_extract({content}, fullkey || '.name') END, ' ')
    -- By path into the content, not json_extract(value): a string element's value is bare
    -- text, which json_extract refuses as malformed JSON (and the write with it).
    FROM json_each({content}) WHERE type = 'object')
  END"""


def sqlite_text(table):
    """SQLITE_TEXT of the content column of `table` (a table name or alias, or new/old in a trigger)."""
    return SQLITE_TEXT.replace("{content}", f"{table}.content")


# What waits to be indexed (runs/migrations/0010 and 0011): every message above the mark
# INDEXED.upto (ids only grow), and those at or below it queued in PENDING since they changed.
PENDING = "runs_message_fts_pending"
INDEXED = "runs_message_fts_indexed"
# Messages indexed in one write transaction: pushes queue behind it for the writer's lock.
INDEX_BATCH = 500
_WAITING = f"""SELECT EXISTS (SELECT 1 FROM {PENDING})
  OR EXISTS (SELECT 1 FROM runs_message WHERE id > (SELECT coalesce(max(upto), 0) FROM {INDEXED}))"""
_INDEX = [
    # The queued messages up to %(queued)s, then the new ones above the mark up to %(upto)s; a
    # row either had in the index is replaced.
    "DELETE FROM runs_message_fts WHERE rowid IN (SELECT id FROM {pending} WHERE id <= %(queued)s)",
    "DELETE FROM runs_message_fts WHERE rowid > %(mark)s AND rowid <= %(upto)s",
    """INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {text} AS t
        -- CROSS JOIN: SQLite then walks the queue, not the messages below its last id.
        FROM {pending} p CROSS JOIN runs_message m ON m.id = p.id WHERE p.id <= %(queued)s)
      WHERE t IS NOT NULL AND t != ''""",
    """INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {text} AS t FROM runs_message m
        WHERE m.id > %(mark)s AND m.id <= %(upto)s AND m.id NOT IN (SELECT id FROM {pending} WHERE id <= %(queued)s))
      WHERE t IS NOT NULL AND t != ''""",
    "DELETE FROM {pending} WHERE id <= %(queued)s",
]
_INDEX = [sql.format(pending=PENDING, text=sqlite_text("m")) for sql in _INDEX]


def index_pending(batch=INDEX_BATCH):
    """SQLite: index the messages stored or changed since the last time, in transactions of at
    most `batch` messages each; returns how many it took (queued and new). Every search does it
    first; the leader's sweep does it every few seconds. Nothing to do on PostgreSQL, whose index
    follows the content by itself."""
    if connection.vendor != "sqlite":
        return 0
    done = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_WAITING)
            if not cursor.fetchone()[0]:
                return done
        taken = _index_batch(batch)
        done += taken
        if taken == 0:
            return done


def _index_batch(batch):
    with writing(), connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(upto), 0), count(*) FROM {INDEXED}")
        mark, rows = cursor.fetchone()
        cursor.execute(f"SELECT id FROM {PENDING} ORDER BY id LIMIT %s", [batch])
        queued = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT id FROM runs_message WHERE id > %s ORDER BY id LIMIT %s", [mark, max(batch - len(queued), 0)]
        )
        new = [row[0] for row in cursor.fetchall()]
        if not queued and not new:
            return 0
        params = {"queued": queued[-1] if queued else 0, "mark": mark, "upto": new[-1] if new else mark}
        for sql in _INDEX:
            cursor.execute(sql, params)
        if rows != 1:  # the mark's row went missing: one row again (the range above 0 is indexed)
            cursor.execute(f"DELETE FROM {INDEXED}")
            cursor.execute(f"INSERT INTO {INDEXED} (upto) VALUES (%s)", [params["upto"]])
        else:
            cursor.execute(f"UPDATE {INDEXED} SET upto = %s", [params["upto"]])
    return len(queued) + len(new)


def words(query):
    """The words of what a person typed, the way both indexes split text."""
    return _WORD.findall(query or "")[:MAX_WORDS]


def search(project, query, limit=DEFAULT_LIMIT, cursor=None):
    """Messages of `project` (a Project or its pk) holding every word of `query`, newest first.

    `cursor` is a previous page's `next_cursor`. Raises ValueError for a limit or cursor that
    is not a positive number (the caller answers 400).
    """
    limit, cursor = _positive(limit, "limit"), None if cursor in (None, "") else _positive(cursor, "cursor")
    limit = min(limit, MAX_LIMIT)
    terms = words(query)
    if not terms:
        return Results([], None)
    project_id = getattr(project, "pk", project)
    if connection.vendor == "postgresql":
        sql, params = _postgres(terms, project_id, limit + 1, cursor)
    else:
        index_pending()
        sql, params = _sqlite(terms, project_id, limit + 1, cursor)
    with connection.cursor() as db:
        db.execute(sql, params)
        rows = db.fetchall()
    hits = [_hit(row) for row in rows[:limit]]
    return Results(hits, hits[-1].message_pk if len(rows) > limit else None)


def _positive(value, name):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1")
    return number


_COLUMNS = "m.id, m.msg_id, m.reply_id, rp.reply_id, m.run_id, r.name, m.name, m.role, m.created_at"


def _sqlite(terms, project_id, limit, cursor):
    # Each word a quoted FTS5 string: no operator or column filter can come from the query.
    match = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
    sql = (
        f"SELECT {_COLUMNS}, snippet(runs_message_fts, 0, %s, %s, '…', {SNIPPET_WORDS})"
        " FROM runs_message_fts"
        " JOIN runs_message m ON m.id = runs_message_fts.rowid"
        " JOIN runs_run r ON r.id = m.run_id"
        " JOIN runs_reply rp ON rp.id = m.reply_id"
        " WHERE runs_message_fts MATCH %s AND r.project_id = %s"
        + (" AND runs_message_fts.rowid < %s" if cursor else "")
        + " ORDER BY runs_message_fts.rowid DESC LIMIT %s"
    )
    return sql, [_START, _STOP, match, project_id, *([cursor] if cursor else []), limit]


# Exactly the expression of message_search_idx, so that PostgreSQL uses the index.
PG_VECTOR = "to_tsvector('simple'::regconfig, coalesce(studio_message_text(m.content), ''))"
_PG_HEADLINE = (
    f'StartSel={_START}, StopSel={_STOP}, MaxWords={SNIPPET_WORDS}, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "'
)


def _postgres(terms, project_id, limit, cursor):
    sql = (
        f"SELECT {_COLUMNS}, ts_headline('simple'::regconfig, translate(studio_message_text(m.content), '<>', %s), q.q, %s)"
        " FROM runs_message m"
        " CROSS JOIN plainto_tsquery('simple'::regconfig, %s) AS q(q)"
        " JOIN runs_run r ON r.id = m.run_id"
        " JOIN runs_reply rp ON rp.id = m.reply_id"
        f" WHERE {PG_VECTOR} @@ q.q AND r.project_id = %s"
        + (" AND m.id < %s" if cursor else "")
        + " ORDER BY m.id DESC LIMIT %s"
    )
    return sql, [_ANGLES, _PG_HEADLINE, " ".join(terms), project_id, *([cursor] if cursor else []), limit]


def _hit(row):
    message_pk, msg_id, reply_pk, reply_id, run_id, run_name, name, role, created_at, snippet = row
    if isinstance(created_at, str):
        created_at = parse_datetime(created_at)
    if created_at is not None and timezone.is_naive(created_at):  # SQLite's raw cursor: UTC, naive
        created_at = timezone.make_aware(created_at, UTC)
    return Hit(
        message_pk=message_pk,
        msg_id=msg_id,
        reply_pk=reply_pk,
        reply_id=reply_id,
        run_id=run_id,
        run_name=run_name,
        name=name,
        role=role,
        created_at=created_at,
        snippet=highlighted((snippet or "").translate(_FROM_ANGLES)),
    )


def highlighted(snippet):
    """The database's snippet as safe HTML: everything escaped, then only its marks made <mark>."""
    escaped = html.escape(snippet, quote=True)
    return mark_safe(escaped.replace(_START, "<mark>").replace(_STOP, "</mark>"))
