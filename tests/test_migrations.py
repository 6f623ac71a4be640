"""Upgrading a database that already holds runs, messages and spans."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

ROOT = Path(__file__).resolve().parents[1]
BEFORE = [("runs", "0002_message_tool_calls"), ("traces", "0003_drop_duplicate_indexes")]
# Upgrading means migrating to the newest migrations, where the models of the code are.
AFTER = "latest"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    if targets == AFTER:
        targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] in ("runs", "traces")]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def table_sql(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT group_concat(sql, ';') FROM sqlite_master WHERE tbl_name = %s", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_sqlite_upgrade_keeps_every_row_and_drops_the_json_checks_and_duplicate_indexes():
    if connection.vendor != "sqlite":
        pytest.skip("the test database is not SQLite")
    old = migrate(BEFORE)
    project = old.get_model("projects", "Project").objects.create(name="upgrade")
    run = old.get_model("runs", "Run").objects.create(id="run-1", project=project)
    reply = old.get_model("runs", "Reply").objects.create(run=run, reply_id="reply-1")
    old.get_model("runs", "Message").objects.create(
        run=run, reply=reply, msg_id="m1", content=[{"type": "text", "text": "héllo"}], metadata={"k": 1}
    )
    old.get_model("traces", "Span").objects.create(
        trace_id="a" * 32,
        span_id="b" * 16,
        run=run,
        project=project,
        name="chat",
        start_time_ns=1,
        end_time_ns=2,
        attributes={"gen_ai.operation.name": "chat", "n": [1, 2]},
        resource={"service.name": "x"},
    )
    assert "JSON_VALID" in table_sql("traces_span") and "runs_message_run_id" in table_sql("runs_message")

    migrate(AFTER)

    from runs.models import Message
    from traces.models import Span

    message = Message.objects.get(msg_id="m1")
    assert (message.content, message.metadata, message.reply.reply_id) == (
        [{"type": "text", "text": "héllo"}],
        {"k": 1},
        "reply-1",
    )
    span = Span.objects.get(span_id="b" * 16)
    assert (span.attributes, span.resource, span.run_id) == (
        {"gen_ai.operation.name": "chat", "n": [1, 2]},
        {"service.name": "x"},
        "run-1",
    )
    for table in ("traces_span", "runs_message"):
        assert "JSON_VALID" not in table_sql(table)
    message_sql = table_sql("runs_message")
    assert "runs_message_run_id" not in message_sql and "runs_message_reply_id" not in message_sql
    # The indexes the queries use are all still there.
    assert "message_unique_per_run" in message_sql and "message_reply_order_idx" in message_sql
    assert "span_unique_id" in table_sql("traces_span") and "span_children_idx" in table_sql("traces_span")
    # New rows get ids after the old ones (live pages send "what came after id N").
    newer = Message.objects.create(run_id="run-1", reply=message.reply, msg_id="m2", content="x")
    assert newer.pk > message.pk
    newer_span = Span.objects.create(trace_id="a" * 32, span_id="c" * 16, name="tool", start_time_ns=3, end_time_ns=4)
    assert newer_span.pk > span.pk

    # And back again: the checks and indexes return, the rows stay.
    migrate(BEFORE)
    assert "JSON_VALID" in table_sql("traces_span") and "runs_message_run_id" in table_sql("runs_message")
    migrate(AFTER)
    assert Message.objects.count() == 2 and Span.objects.count() == 2


@pytest.mark.e2e
def test_postgresql_upgrade_and_downgrade_drop_and_restore_the_duplicate_indexes():
    import psycopg

    name = f"studio_migrate_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def manage(*args):
        subprocess.run([sys.executable, "manage.py", *args, "-v0"], cwd=ROOT, env=env, check=True, timeout=120)

    def message_indexes():
        with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://")) as db:
            return {row[0] for row in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'runs_message'")}

    try:
        manage("migrate", *BEFORE[0])
        manage("migrate", *BEFORE[1])
        assert any(index.startswith("runs_message_run_id") for index in message_indexes())
        manage("migrate")
        after = message_indexes()
        assert not any(index.startswith(("runs_message_run_id", "runs_message_reply_id")) for index in after)
        assert {"message_unique_per_run", "message_reply_order_idx"} <= after
        manage("migrate", *BEFORE[0])
        assert any(index.startswith("runs_message_reply_id") for index in message_indexes())
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
