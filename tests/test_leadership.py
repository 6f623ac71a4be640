"""One worker of several leads the background work: a PostgreSQL advisory lock, in process.

Against the real PostgreSQL (a database of the test's own); the workers are AdvisoryLock objects,
each with its own connection, as each worker process has.
"""

import uuid

import psycopg
import pytest

from studio.leadership import AdvisoryLock, OneProcess
from tests.support.waiting import wait_for

POSTGRES = "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def database():
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def workers(database):
    made = []

    def worker(name):
        lock = AdvisoryLock(
            {"host": "127.0.0.1", "user": "postgres", "dbname": database, "application_name": f"studio leader {name}"}
        )
        made.append(lock)
        return lock

    yield worker
    for lock in made:
        lock.release()


def leaders(database):
    with psycopg.connect(f"{POSTGRES}/{database}") as connection:
        return [
            name
            for (name,) in connection.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                # This test's database only: other Studios on the server (the team-mode suite,
                # other tests' workers) hold their own database's lock.
                " WHERE l.locktype = 'advisory' AND l.granted AND l.database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ]


def test_one_worker_leads_and_the_others_do_not(workers, database):
    a, b, c = workers("a"), workers("b"), workers("c")
    assert [a.held(), b.held(), c.held()] == [True, False, False]
    # Asked again, the leader stays the leader.
    assert [a.held(), b.held(), c.held()] == [True, False, False]
    assert leaders(database) == ["studio leader a"]


def test_another_worker_takes_over_when_the_leaders_connection_closes(workers, database):
    a, b = workers("a"), workers("b")
    assert a.held() and not b.held()
    a.release()  # its connection closed, as when its process dies
    # PostgreSQL lets the lock go once it has seen the connection close: b's next tries get it.
    wait_for(b.held, timeout=5, message="b to take over")
    assert not a.held()
    assert leaders(database) == ["studio leader b"]


def test_a_leader_whose_connection_was_cut_steps_down_and_another_takes_over(workers, database):
    a, b = workers("a"), workers("b")
    assert a.held() and not b.held()
    with psycopg.connect(f"{POSTGRES}/{database}", autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'studio leader a' AND datname = current_database()"
        )
    wait_for(b.held, timeout=5, message="b to take over")
    assert not a.held()  # its check fails: it no longer leads
    assert leaders(database) == ["studio leader b"]


def test_a_worker_that_cannot_reach_the_database_does_not_lead(database):
    lock = AdvisoryLock({"host": "127.0.0.1", "port": 1, "user": "postgres", "dbname": database, "connect_timeout": 2})
    assert not lock.held()


def test_the_one_process_of_a_sqlite_server_leads():
    assert OneProcess().held()
