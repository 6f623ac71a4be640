"""Keeping SQLite's writes off the agents' critical path.

Write transactions queue in the process instead of in SQLite's busy handler, and the
write-ahead log is checkpointed by a thread of its own.

SQLite lets one transaction write at a time. A second writer (another sync thread of the same
worker) waits in SQLite's busy handler, which sleeps in growing steps: under concurrent agents
that sleep was the p99 of a pushMessage. Taking a lock first makes writers queue and wake the
moment the previous one commits (bench/findings.md#sqlite-writer-lock). PostgreSQL writes concurrently, row by row,
so there it is a plain `transaction.atomic()`.
"""

import logging
import sqlite3
import threading
import time
from contextlib import contextmanager

from django.db import connection, transaction

log = logging.getLogger(__name__)

_sqlite_writer = threading.RLock()


@contextmanager
def writing():
    """`transaction.atomic()` for a transaction that writes."""
    if connection.vendor == "sqlite":
        with _sqlite_writer, transaction.atomic():
            yield
    else:
        with transaction.atomic():
            yield


# SQLite copies its write-ahead log into the database ("checkpoint") every 1,000 pages, inside
# whichever commit crosses the mark, and syncs the file to disk while the agent that made that
# commit waits: that was most of a pushMessage's p99 (bench/findings.md#wal-checkpoint-thread).
# The server's connections turn automatic checkpoints off (settings: wal_autocheckpoint=0) and
# one thread does them instead, every second, without blocking writers. Other processes (management
# commands) checkpoint when their last connection closes, as SQLite always does.
CHECKPOINT_INTERVAL = 1.0


def start_sqlite_checkpointer():
    if connection.vendor != "sqlite":
        return
    path = str(connection.settings_dict["NAME"])

    def checkpoint_forever():
        db = sqlite3.connect(path, timeout=5, check_same_thread=False)
        while True:
            time.sleep(CHECKPOINT_INTERVAL)
            try:
                # The bulk of the log, while agents go on writing; then, between two of their
                # transactions, the few pages they added meanwhile: only a log copied to its
                # very end is started over by the next writer instead of growing for ever.
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                with _sqlite_writer:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                log.exception("the SQLite checkpoint failed; retrying")

    threading.Thread(target=checkpoint_forever, name="studio-checkpoint", daemon=True).start()


# Agents' writes touch the indexes of messages and spans across the whole database; pages read
# a bounded window. Each thread has its own connection and SQLite page cache: the agents'
# thread (one on SQLite) gets a big one, the page threads keep the small default of settings.
AGENT_THREAD_PREFIX = "studio-agents"
AGENT_CACHE_KB = 20_000


def new_databases_vacuum_incrementally(sender, connection, **kwargs):
    """auto_vacuum=INCREMENTAL on a database with no table yet, where alone it takes effect (an
    existing one keeps its mode until a VACUUM: `manage.py prune --vacuum`): a prune then gives
    the freed pages back in small steps (runs/retention.py, bench/findings.md#retention). Not
    in init_command: on a database with tables the pragma still wants a lock, which a test's
    shared in-memory database, held by the test's transaction, refuses."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master LIMIT 1")
        if cursor.fetchone() is None:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("VACUUM")  # in WAL mode the header takes the mode only so; instant when empty


def give_agent_threads_a_big_cache(sender, connection, **kwargs):
    if connection.vendor == "sqlite" and threading.current_thread().name.startswith(AGENT_THREAD_PREFIX):
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size=-{AGENT_CACHE_KB}")


def incremental_vacuum(pages):
    """SQLite, auto_vacuum=INCREMENTAL: give up to `pages` free pages back to the file system, in
    one short write transaction queued like any other. Through the driver's executescript: its
    execute() steps a statement once, and this pragma frees one page a step."""
    connection.ensure_connection()
    with _sqlite_writer:
        connection.connection.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({int(pages)}); COMMIT;")
