"""Team mode for tests: a PostgreSQL database of the test's own, the shared Redis, the env of
a worker on them, and reading that database."""

import uuid
from contextlib import contextmanager

import psycopg

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"


@contextmanager
def fresh_database():
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_env(database, **settings):
    """A worker's environment: the database, Redis under a prefix of this test's own, a short grace."""
    return {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS,
        "STUDIO_REDIS_PREFIX": f"test{uuid.uuid4().hex[:8]}",
        "STUDIO_DISCONNECT_GRACE": "2",
        **settings,
    }


def sql(database, statement, *params):
    with psycopg.connect(database) as connection:
        return connection.execute(statement, params).fetchall()
