"""Retention: `manage.py prune`, the leader's periodic prune, and deleting a run or a project whole."""

import io
import itertools
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from projects.models import Project
from runs import agent_link, retention, search
from runs.models import InputRequest, Message, Reply, Run
from tests.factories import make_message, make_project, make_question, make_reply, make_run
from tests.support.backends import sqlite_only
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db

_span_ids = itertools.count(1)


def days_ago(days):
    return timezone.now() - timedelta(days=days)


def make_span(trace_id, run=None, project=None, received_at=None, **fields):
    return Span.objects.create(
        trace_id=trace_id,
        span_id=f"{next(_span_ids):016x}",
        run=run,
        project=project,
        name="chat",
        start_time_ns=1,
        end_time_ns=2,
        received_at=received_at or timezone.now(),
        **fields,
    )


def make_trace(trace_id, run=None, project=None, ended=None):
    end_ns = int((ended or timezone.now()).timestamp() * 1e9)
    return Trace.objects.create(trace_id=trace_id, run=run, project=project, start_time_ns=end_ns, end_time_ns=end_ns)


def full_run(run_id, project="Project", status=Run.Status.FINISHED, last_active_days=0, started_days=None, words=""):
    """A run with a reply, two messages, a question, two spans in one trace."""
    active = days_ago(last_active_days)
    run = make_run(
        run_id,
        project,
        status=status,
        last_activity_at=active,
        started_at=days_ago(started_days if started_days is not None else last_active_days),
    )
    reply = make_reply(run, f"{run_id}-reply")
    for i in range(2):
        make_message(reply, f"{run_id}-m{i}", [{"type": "text", "text": f"{words} message {i}"}])
    make_question(run, f"{run_id}-q")
    trace_id = f"{run_id:0>32}"[-32:]
    make_trace(trace_id, run=run, project=run.project)
    for _ in range(2):
        make_span(trace_id, run=run, project=run.project)
    return run


def data_of(run_id):
    return {
        "run": Run.objects.filter(pk=run_id).count(),
        "replies": Reply.objects.filter(run_id=run_id).count(),
        "messages": Message.objects.filter(run_id=run_id).count(),
        "questions": InputRequest.objects.filter(run_id=run_id).count(),
        "spans": Span.objects.filter(run_id=run_id).count(),
        "traces": Trace.objects.filter(run_id=run_id).count(),
    }


GONE = {"run": 0, "replies": 0, "messages": 0, "questions": 0, "spans": 0, "traces": 0}
WHOLE = {"run": 1, "replies": 1, "messages": 2, "questions": 1, "spans": 2, "traces": 1}


def prune(*args):
    out = io.StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue()


def test_older_than_deletes_old_finished_runs_with_all_their_data():
    full_run("old", last_active_days=40, words="forgotten")
    full_run("new", last_active_days=1)
    output = prune("--older-than", "30")
    assert data_of("old") == GONE
    assert data_of("new") == WHOLE
    assert "Deleted 1 run(s), 2 message(s), 2 span(s), 1 trace(s)." in output
    assert search.search(Project.objects.get(name="Project"), "forgotten").hits == []


def test_age_is_the_last_activity_not_the_start():
    full_run("long", last_active_days=2, started_days=90)
    prune("--older-than", "30")
    assert data_of("long") == WHOLE


@pytest.mark.parametrize("status", [Run.Status.RUNNING, Run.Status.WAITING])
def test_a_running_or_waiting_run_is_never_pruned(status):
    full_run("live", status=status, last_active_days=400, started_days=400)
    for i in range(3):
        full_run(f"newer-{i}", last_active_days=0)
    prune("--older-than", "1")
    prune("--keep", "0")
    assert data_of("live") == WHOLE


def test_keep_keeps_the_newest_n_runs_of_each_project():
    for i in range(4):
        full_run(f"a-{i}", "A", started_days=10 - i)
    for i in range(2):
        full_run(f"b-{i}", "B", started_days=10 - i)
    prune("--keep", "2")
    assert sorted(Run.objects.values_list("pk", flat=True)) == ["a-2", "a-3", "b-0", "b-1"]


def test_a_live_run_counts_toward_the_runs_kept():
    full_run("old", started_days=5)
    full_run("live", status=Run.Status.RUNNING, started_days=1)
    prune("--keep", "1")
    assert list(Run.objects.values_list("pk", flat=True)) == ["live"]


def test_with_both_a_run_goes_only_if_old_and_not_among_the_newest():
    for i in range(3):
        full_run(f"old-{i}", last_active_days=60 - i)
    full_run("recent", last_active_days=1)
    prune("--older-than", "30", "--keep", "2")
    assert sorted(Run.objects.values_list("pk", flat=True)) == ["old-2", "recent"]


def test_dry_run_says_what_would_go_and_deletes_nothing():
    full_run("old", "Lab", last_active_days=40)
    make_span("f" * 32, received_at=days_ago(40))  # waiting for a run that never came
    output = prune("--older-than", "30", "--dry-run")
    assert data_of("old") == WHOLE and Span.objects.filter(run=None).count() == 1
    assert "Would delete 1 run(s), 2 message(s), 3 span(s), 1 trace(s)." in output
    assert "Lab: 1 run(s)" in output


def test_it_deletes_in_batches_each_its_own_transaction():
    run = full_run("old", last_active_days=40)
    reply = Reply.objects.get(run=run)
    for i in range(7):
        make_message(reply, f"more-{i}", [{"type": "text", "text": "x"}])
    with CaptureQueriesContext(connection) as queries:
        retention.prune(older_than=timedelta(days=30), batch=3)
    statements = [q["sql"] for q in queries.captured_queries]
    message_deletes = [
        sql for sql in statements if sql.startswith('DELETE FROM "runs_message" WHERE "runs_message"."id" IN')
    ]
    assert len(message_deletes) == 3  # 9 messages, 3 a batch
    # Each batch opens a transaction of its own (a savepoint inside the test's transaction).
    assert sum(1 for sql in statements if sql.startswith("SAVEPOINT")) >= 3 + 1 + 1 + 1 + 1
    assert data_of("old") == GONE


def test_a_run_written_to_since_it_was_chosen_is_left_alone():
    run = full_run("old", last_active_days=40)
    chosen_at = run.last_activity_at
    Run.objects.filter(pk="old").update(last_activity_at=timezone.now())  # an agent pushed meanwhile
    assert retention.delete_run("old", chosen_at) is None
    assert data_of("old") == WHOLE


def test_a_run_registered_again_since_it_was_chosen_is_left_alone():
    run = full_run("old", last_active_days=40)
    Run.objects.filter(pk="old").update(status=Run.Status.RUNNING)
    assert retention.delete_run("old", run.last_activity_at) is None
    assert data_of("old") == WHOLE


def test_older_than_also_deletes_old_spans_of_no_run():
    project = make_project("Otel")
    make_trace("a" * 32, project=project, ended=days_ago(40))
    for _ in range(3):
        make_span("a" * 32, project=project)
    make_trace("b" * 32, project=project, ended=days_ago(1))
    make_span("b" * 32, project=project)
    make_span("c" * 32, run_key="never-registered", received_at=days_ago(40))
    make_span("d" * 32, run_key="soon", received_at=days_ago(1))
    prune("--older-than", "30")
    assert sorted(Trace.objects.values_list("trace_id", flat=True)) == ["b" * 32]
    assert sorted(Span.objects.values_list("trace_id", flat=True)) == ["b" * 32, "d" * 32]


def test_keep_alone_leaves_spans_of_no_run():
    make_span("c" * 32, received_at=days_ago(400))
    prune("--keep", "0")
    assert Span.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "Say what to prune"),
        (["--older-than", "-3"], "DAYS must be a number of days"),
        (["--older-than", "soon"], "DAYS must be a number of days"),
        (["--older-than", "nan"], "DAYS must be a number of days"),
        (["--keep", "x"], "N must be a whole number"),
        (["--keep", "-1"], "N must be a whole number"),
        (["--keep", "1", "--batch-size", "0"], "batch size"),
    ],
)
def test_bad_arguments_get_a_clear_error(args, says):
    with pytest.raises(CommandError, match=says):
        prune(*args)


def test_deleting_a_run_on_its_page_removes_its_spans_and_traces(client):
    full_run("doomed", words="doomed")
    response = client.post("/runs/doomed/delete/")
    assert response.status_code == 302
    assert data_of("doomed") == GONE
    assert search.search(Project.objects.get(name="Project"), "doomed").hits == []


def test_deleting_a_project_removes_all_its_data_spans_of_no_run_included(client):
    full_run("r1", "Gone")
    project = Project.objects.get(name="Gone")
    make_trace("e" * 32, project=project)
    make_span("e" * 32, project=project)
    response = client.post(f"/project-delete/{project.pk}/")
    assert response.status_code in (200, 302)
    assert data_of("r1") == GONE
    assert not Span.objects.exists() and not Trace.objects.exists()


# ---- the leader's periodic prune ----


@pytest.fixture
def fresh_retention_clock():
    agent_link._retention.update(last=None, future=None)
    yield
    agent_link._retention.update(last=None, future=None)


@pytest.mark.django_db(transaction=True)
@override_settings(STUDIO_RETENTION_DAYS=30, STUDIO_RETENTION_INTERVAL=3600)
def test_the_setting_prunes_old_runs_at_most_once_an_interval(fresh_retention_clock):
    full_run("old", last_active_days=40)
    report = agent_link.prune_when_due(now=1000.0).result(timeout=60)
    assert report.runs == 1 and data_of("old") == GONE

    full_run("old-2", last_active_days=40)
    assert agent_link.prune_when_due(now=1000.0 + 3599) is None
    assert data_of("old-2") == WHOLE
    agent_link.prune_when_due(now=1000.0 + 3600).result(timeout=60)
    assert data_of("old-2") == GONE


@pytest.mark.django_db(transaction=True)
def test_without_the_setting_nothing_is_pruned(fresh_retention_clock):
    full_run("old", last_active_days=4000)
    assert agent_link.prune_when_due(now=1000.0) is None
    assert data_of("old") == WHOLE


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_the_space_is_given_back():
    run = full_run("big", last_active_days=40)
    reply = Reply.objects.get(run=run)
    for i in range(200):
        make_message(reply, f"big-{i}", [{"type": "text", "text": "x" * 4000}])
    report = retention.prune(older_than=timedelta(days=30))
    assert report.freed_bytes > 200 * 4000
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA freelist_count")
        assert cursor.fetchone()[0] == 0
