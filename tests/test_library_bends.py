"""Where Studio bends a library (studio/django_bends.py, drf_bends.py, channels_bends.py) or
CPython itself (studio/cpython_bends.py), the library still fits: the version it was written
for, and the internals it leans on as they were.

A failure here after an upgrade names the bend and what changed: read the library code it
names, carry the change over to the bend (or drop the bend), then update this test.
"""

import hashlib
import inspect
import sqlite3
import sys
import threading

import channels
import django
import pytest
import rest_framework
from channels.consumer import AsyncConsumer
from channels.db import DatabaseSyncToAsync
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import connection, transaction
from django.db.backends.sqlite3.base import SQLiteCursorWrapper
from django.db.backends.sqlite3.schema import DatabaseSchemaEditor
from rest_framework import serializers

from runs.serializers import PushMessageSerializer
from studio import channels_bends, cpython_bends, django_bends, drf_bends
from studio.consumers import LivePageConsumer


def version(module):
    return tuple(int(part) for part in module.__version__.split(".")[:2])


def fingerprint(function):
    """A short hash of a library function's source: it changes whenever the function does."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def assert_unchanged(function, expected, bend):
    found = fingerprint(function)
    assert found == expected, (
        f"{bend} was written against {function.__module__}.{function.__qualname__} as it is in "
        f"the version named there; that function has changed (fingerprint {found}, was {expected}): "
        f"compare it with the bend, carry the change over, then update the fingerprint"
    )


def parameters(function):
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize(
    "library, bends",
    [(django, django_bends), (rest_framework, drf_bends), (channels, channels_bends)],
    ids=["django", "drf", "channels"],
)
def test_each_library_is_the_version_its_bends_were_written_for(library, bends):
    assert version(library) == bends.WRITTEN_FOR, (
        f"{bends.__name__.replace('.', '/')}.py was written for {library.__name__} {bends.WRITTEN_FOR}, and "
        f"{library.__version__} is installed: check each departure it lists against this version, "
        f"then update WRITTEN_FOR and tests/test_library_bends.py"
    )


# ---- Django (studio/django_bends.py)


def test_the_agent_endpoints_handler_still_matches_the_django_handler_it_reimplements():
    bend = "AgentEndpointsHandler (studio/django_bends.py, Django 5.2)"
    assert_unchanged(ASGIHandler.handle, "98faeb5bef800331", bend)
    assert_unchanged(BaseHandler.load_middleware, "a1fb7ee5f8586195", bend)
    assert parameters(ASGIHandler.read_body) == ["self", "receive"], bend
    assert parameters(ASGIHandler.create_request) == ["self", "scope", "body_file"], bend
    assert parameters(ASGIHandler.send_response) == ["self", "response", "send"], bend
    assert parameters(BaseHandler._get_response) == ["self", "request"], bend


def test_the_agent_endpoints_handler_sets_every_list_django_middleware_loading_sets():
    """load_middleware is replaced: whatever Django's own sets on the handler, ours sets too."""
    django_handler, agents_handler = BaseHandler(), django_bends.AgentEndpointsHandler()
    django_handler.load_middleware()
    missing = set(vars(django_handler)) - set(vars(agents_handler))
    assert not missing, f"AgentEndpointsHandler (studio/django_bends.py, Django 5.2) does not set {missing}"


def test_the_one_rebuild_migration_still_finds_djangos_sqlite_table_rebuild():
    assert parameters(DatabaseSchemaEditor._remake_table)[:2] == ["self", "model"], (
        "rebuild_sqlite_table (studio/django_bends.py, Django 5.2) calls the SQLite schema editor's "
        "private _remake_table(model), whose signature has changed"
    )


@pytest.mark.django_db
def test_a_statement_sent_to_the_sqlite_driver_is_part_of_djangos_transaction():
    if connection.vendor != "sqlite":
        pytest.skip("the test database is not SQLite")
    bend = "sqlite_driver_execute (studio/django_bends.py, Django 5.2)"
    with transaction.atomic():
        execute = django_bends.sqlite_driver_execute(connection)
        assert isinstance(connection.connection, sqlite3.Connection), bend
        execute('CREATE TABLE "bend_check" ("n" integer)')
        assert execute('INSERT INTO "bend_check" ("n") VALUES (?), (?)', [1, 2]).rowcount == 2, bend
        with connection.cursor() as cursor:
            cursor.execute('SELECT count(*) FROM "bend_check"')
            assert cursor.fetchone() == (2,), bend
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'bend_check'")
        assert cursor.fetchone() == (0,), f"{bend}: the statement outlived the transaction's rollback"


def test_djangos_sqlite_cursor_still_rewrites_the_placeholders_the_driver_bend_avoids():
    assert_unchanged(
        SQLiteCursorWrapper.convert_query,
        "183a4b3544fb854a",
        "sqlite_driver_execute (studio/django_bends.py, Django 5.2), whose only reason is this rewriting,",
    )


# ---- Django REST framework (studio/drf_bends.py)


# Built on first use from the class alone, whatever the data: kept from one call to the next.
DATA_FREE_CACHES = {"fields", "_validators"}


def push(msg_id, content):
    return {"runId": "run-1", "msg": {"id": msg_id, "name": "bot", "role": "assistant", "content": content}}


def test_a_validation_leaves_on_the_serializer_nothing_but_the_caches_the_drf_bend_empties():
    bend = "validated() (studio/drf_bends.py, DRF 3.18)"
    for data in (push("m1", "hello"), push("", None), {"msg": 3}):
        serializer = PushMessageSerializer(data=data)
        nested = serializer.fields["msg"]
        before, nested_before = set(vars(serializer)), set(vars(nested))
        serializer.is_valid()
        serializer.errors, serializer.validated_data  # noqa: B018  (what a call may read)
        left = set(vars(serializer)) - before - set(drf_bends.VALIDATION_CACHES) - DATA_FREE_CACHES
        assert not left, f"{bend}: is_valid now also keeps {left} on the serializer"
        left = set(vars(nested)) - nested_before - DATA_FREE_CACHES
        assert not left, f"{bend}: a nested serializer now keeps {left} of a call"


def test_the_serializer_of_a_thread_validates_each_call_as_a_new_one_would():
    calls = [push("m1", "hello"), push("", None), push("m2", [{"type": "text", "text": "again"}]), {"msg": 3}]
    for data in calls:
        fresh = PushMessageSerializer(data=data)
        if fresh.is_valid():
            assert drf_bends.validated(PushMessageSerializer, data) == fresh.validated_data
        else:
            with pytest.raises(serializers.ValidationError) as raised:
                drf_bends.validated(PushMessageSerializer, data)
            assert raised.value.detail == fresh.errors
    reused = drf_bends._per_thread.__dict__[PushMessageSerializer]
    assert "fields" in vars(reused), "validated() (studio/drf_bends.py): DRF no longer caches `fields`"


# ---- Channels (studio/channels_bends.py)


def test_the_live_pages_dispatch_still_matches_the_channels_dispatch_it_replaces():
    bend = "DispatchWithoutClosingConnections (studio/channels_bends.py, Channels 4.3)"
    assert_unchanged(AsyncConsumer.dispatch, "39f34e7d4fb0f655", bend)
    # It leaves the connection cleanup to database_sync_to_async, which must still do it.
    assert_unchanged(DatabaseSyncToAsync.thread_handler, "00f86b58c522f98e", bend)
    overriding = [cls for cls in LivePageConsumer.__mro__ if "dispatch" in vars(cls)]
    assert overriding == [channels_bends.DispatchWithoutClosingConnections, AsyncConsumer], (
        f"{bend}: the classes defining dispatch for the live pages are now {overriding}"
    )


# ---- CPython (studio/cpython_bends.py)


def test_python_is_the_version_the_frame_stack_bend_was_written_for():
    assert sys.version_info[:2] == cpython_bends.WRITTEN_FOR, (
        f"studio/cpython_bends.py was written for CPython {cpython_bends.WRITTEN_FOR}, whose frame "
        f"stack maps and unmaps a chunk at every crossing of its edge; this is {sys.version.split()[0]}: "
        f"recent 3.13 and 3.14 releases keep a chunk back (python/cpython#142183). Measure the run page with "
        f"bench/run_page.py with and without OneDeepThread, then keep or drop it"
    )


def test_a_deep_thread_runs_its_jobs_on_top_of_the_frame_that_reserves_the_chunk():
    # The reserving frame must be larger than a whole 16 KiB chunk (2,048 slots), so that CPython
    # gives it a chunk of its own, with the jobs' frames above it in that same chunk.
    assert cpython_bends._run.__code__.co_stacksize > 2 * 2048
    executor = cpython_bends.OneDeepThread("studio-test_0")
    try:

        def where():
            frame, codes = sys._getframe(), []
            while frame is not None:
                codes.append(frame.f_code)
                frame = frame.f_back
            return threading.current_thread().name, codes

        name, codes = executor.submit(where).result(timeout=10)
        assert name == "studio-test_0"
        assert cpython_bends._run.__code__ in codes, "the job does not run above the reserving frame"
    finally:
        executor.shutdown()


def test_a_deep_thread_keeps_the_order_results_and_errors_of_its_jobs():
    executor = cpython_bends.OneDeepThread("studio-test_0")
    seen = []
    try:
        futures = [executor.submit(seen.append, i) for i in range(50)]
        failing = executor.submit(int, "not a number")
        answered = executor.submit(lambda a, *, b: a + b, 2, b=3)
        assert answered.result(timeout=10) == 5
        assert [f.result() for f in futures] == [None] * 50
        assert seen == list(range(50))
        with pytest.raises(ValueError):
            failing.result()
    finally:
        executor.shutdown()
    assert not executor._thread.is_alive()
    with pytest.raises(RuntimeError):
        executor.submit(seen.append, 0)
