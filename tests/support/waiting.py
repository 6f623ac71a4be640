"""Waiting for what a real server does in its own time, and reading its database."""

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor


def wait_for(predicate, timeout=20.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def query(server, sql, *params):
    """Rows of a read-only query against a test server's database, as dicts: its SQLite file, or
    its PostgreSQL database in the team-mode suite (JSON columns as text there too)."""
    if getattr(server, "database_url", None):
        return _postgres_query(server.database_url, sql, params)
    connection = sqlite3.connect(f"file:{server.data_dir / 'studio.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql, params)]
    finally:
        connection.close()


def _postgres_query(url, sql, params):
    import psycopg
    from psycopg.rows import dict_row
    from psycopg.types.string import TextLoader

    with psycopg.connect(url, row_factory=dict_row) as connection:
        for json_type in ("json", "jsonb"):
            connection.adapters.register_loader(json_type, TextLoader)
        return connection.execute(sql.replace("%", "%%").replace("?", "%s"), params).fetchall()


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
