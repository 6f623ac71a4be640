"""Team mode for tests: a PostgreSQL database of the test's own, the shared Redis, the env of
a worker on them, and reading that database."""

import uuid
from contextlib import contextmanager

import psycopg

POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"


def create_database(server=POSTGRES):
    """A new, empty database on this PostgreSQL server (its URL, with or without a database)."""
    base = server.rsplit("/", 1)[0] if server.count("/") > 2 else server
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_database(url):
    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database():
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def worker_env(database, **settings):
    """A worker's environment: the database, Redis under a prefix of this test's own, a short grace."""
    return {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS,
        "STUDIO_REDIS_PREFIX": f"test{uuid.uuid4().hex[:8]}",
        "STUDIO_DISCONNECT_GRACE": "2",
        # One key for all the workers, as deploy/ says: a session signed by one is read by another.
        "SECRET_KEY": "team-test-" + database.rsplit("/", 1)[1],
        **settings,
    }


def sql(database, statement, *params):
    with psycopg.connect(database) as connection:
        return connection.execute(statement, params).fetchall()


def manage(database, *args):
    """A management command run against this database (a worker's settings, no server)."""
    import os
    import subprocess
    import sys
    import tempfile

    from tests.support.server import ROOT

    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DATABASE_URL": database, "STUDIO_DATA_DIR": data_dir}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout


def add_person(database, username, password, project, role):
    """A person with a role in a project (made if missing), as an admin would on the settings page."""
    manage(
        database,
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "from projects.models import Membership, Project\n"
        f"project, _ = Project.objects.get_or_create(name={project!r})\n"
        f"user = User.objects.create_user({username!r}, password={password!r})\n"
        f"Membership.objects.create(project=project, user=user, role={role!r})\n",
    )
