"""Removing old runs with all their data: `manage.py prune` and STUDIO_RETENTION_DAYS.

A run goes when it is older than the cutoff (its last activity), or beyond the newest N of its
project (`keep`); with both, only when both say so: `keep` is a floor. A running or waiting run
never goes. With an age, the spans of no run go with it too: traces of no run that ended before
the cutoff, and spans still waiting for their run (received before it).

Every batch is a short transaction of its own through `studio.db.writing()`, at most `batch`
rows of one table, and the pruner pauses twice as long as the batch took before the next, so
agents pushing meanwhile wait at most about one batch (bench/prune_soak.py measures it;
bench/findings.md#retention). A run is deleted children first (spans, traces, messages,
input requests, replies), the run row last. Each batch first checks, inside its transaction,
that the run is still finished and untouched since it was chosen: a run that an agent registers
again, or pushes into, while it is being pruned is left alone from then on (what came after is
kept; what was deleted before is gone).

On SQLite the freed pages are given back to the file system in small steps (PRAGMA
incremental_vacuum) when the database has auto_vacuum=INCREMENTAL, as new ones have
(settings); an older database needs one VACUUM first (`prune --vacuum`), which blocks writers
while it copies the whole file.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from studio import live
from studio.db import incremental_vacuum, writing
from traces.models import Span, Trace

from . import events
from .models import AgentSocket, InputRequest, Message, Reply, Run

log = logging.getLogger(__name__)

# Rows a transaction, and the pause between two batches: twice as long as the batch took, at
# least PAUSE_MIN. An agent's write waiting for the lock in another process sleeps in SQLite's
# busy handler in growing steps (up to 50 ms within its first 180 ms): a pause longer than such
# a step is one it sees. Measured: bench/findings.md#retention.
BATCH = 50
PAUSE_MIN = 0.05
VACUUM_PAGES = 64  # pages an incremental_vacuum step frees (256 KiB with 4 KiB pages): a short write


@dataclass
class Report:
    runs: int = 0
    messages: int = 0
    spans: int = 0
    traces: int = 0
    skipped: list = field(default_factory=list)  # runs that came back to life while pruned
    by_project: dict = field(default_factory=dict)  # project name -> runs
    freed_bytes: int = 0
    free_bytes: int = 0  # still free inside the SQLite file (auto_vacuum off)


def chosen_runs(older_than=None, keep=None, now=None):
    """(pk, project name, last activity) of the runs to prune, oldest first."""
    if older_than is None and keep is None:
        raise ValueError("say what to prune: an age, a number of runs to keep, or both")
    runs = Run.objects.exclude(status__in=Run.LIVE)
    if older_than is not None:
        cutoff = (now or timezone.now()) - older_than
        runs = runs.filter(last_activity_at__lt=cutoff)
    if keep is not None:
        # Ranked among all of the project's runs, live ones included: they count toward N.
        ranked = Run.objects.annotate(
            newest=Window(RowNumber(), partition_by=F("project_id"), order_by=F("started_at").desc())
        )
        beyond = ranked.filter(newest__gt=keep).values_list("pk", flat=True)
        runs = runs.filter(pk__in=list(beyond))
    return list(runs.order_by("last_activity_at").values_list("pk", "project__name", "last_activity_at"))


def prune(older_than=None, keep=None, dry_run=False, batch=BATCH, now=None, say=None):
    """Prune what `older_than` (a timedelta) and `keep` (runs per project) say; a Report.

    `say(text)` hears about progress (the command prints it)."""
    say = say or log.info
    now = now or timezone.now()
    report = Report()
    chosen = chosen_runs(older_than, keep, now)
    for _, project_name, _ in chosen:
        report.by_project[project_name] = report.by_project.get(project_name, 0) + 1
    if dry_run:
        ids = [pk for pk, _, _ in chosen]
        report.runs = len(ids)
        report.messages = Message.objects.filter(run_id__in=ids).count()
        report.spans = Span.objects.filter(run_id__in=ids).count()
        report.traces = Trace.objects.filter(run_id__in=ids).count()
        if older_than is not None:
            cutoff = now - older_than
            runless = _runless_traces(cutoff)
            report.traces += runless.count()
            report.spans += Span.objects.filter(run=None, trace_id__in=runless.values("trace_id")).count()
            report.spans += _waiting_spans(cutoff).count()
        return report
    for pk, _, seen in chosen:
        counts = delete_run(pk, seen, batch)
        if counts is None:
            report.skipped.append(pk)
            say(f"run {pk} is live again or was written to: left alone")
            continue
        report.runs += 1
        report.messages += counts["messages"]
        report.spans += counts["spans"]
        report.traces += counts["traces"]
    if older_than is not None:
        spans, traces = _delete_runless(now - older_than, batch)
        report.spans += spans
        report.traces += traces
    report.freed_bytes, report.free_bytes = give_space_back()
    return report


def _untouched(run_id, seen):
    """The run, if it is still finished and unwritten since it was chosen (locked on PostgreSQL,
    so a push waits for this batch and then finds the run touched)."""
    runs = Run.objects.filter(pk=run_id, last_activity_at=seen).exclude(status__in=Run.LIVE)
    if connection.vendor == "postgresql":
        runs = runs.select_for_update()
    return runs.only("pk", "project_id").first()


def _paced(step):
    """Run `step` (one short transaction) until it deletes nothing, pausing after each so that
    writers queued behind it get their turn (SQLite's lock is not fair, nor across
    processes). Returns the rows deleted, or None if `step` found the run no longer prunable."""
    total = 0
    while True:
        started = time.monotonic()
        deleted = step()
        if deleted is None:
            return None
        total += deleted
        if not deleted:
            return total
        time.sleep(max(2 * (time.monotonic() - started), PAUSE_MIN))


def _delete(model, pks):
    if pks:
        model.objects.filter(pk__in=pks).delete()
    return len(pks)


def _batch_of(model, rows, run_id, seen, batch):
    def step():
        with writing():
            if _untouched(run_id, seen) is None:
                return None
            return _delete(model, list(rows.values_list("pk", flat=True)[:batch]))

    return step


def delete_run(run_id, seen, batch=BATCH):
    """Delete a chosen run in batches; the rows deleted by table, or None if the run was
    registered again or written to since it was chosen (`seen`: its last activity then)."""
    counts = {}
    # Children before their parents: every batch leaves the foreign keys whole.
    for name, model, rows in (
        ("spans", Span, Span.objects.filter(run_id=run_id)),
        ("traces", Trace, Trace.objects.filter(run_id=run_id)),
        ("messages", Message, Message.objects.filter(run_id=run_id)),
        ("input_requests", InputRequest, InputRequest.objects.filter(run_id=run_id)),
        ("replies", Reply, Reply.objects.filter(run_id=run_id)),
        ("sockets", AgentSocket, AgentSocket.objects.filter(run_id=run_id)),
    ):
        deleted = _paced(_batch_of(model, rows, run_id, seen, batch))
        if deleted is None:
            return None
        counts[name] = deleted
    with writing():
        run = _untouched(run_id, seen)
        if run is None:
            return None
        project_id = run.project_id
        run.delete()  # what came since the last batch, if anything, goes with it (and Run's signals)
        live.publish_on_commit(events.run_deleted(run_id, project_id))
    return counts


def _runless_traces(cutoff):
    cutoff_ns = int(cutoff.timestamp() * 1e9)
    return Trace.objects.filter(run=None, end_time_ns__lt=cutoff_ns)


def _waiting_spans(cutoff):
    """Spans of no run and no project: waiting for a run that never registered."""
    return Span.objects.filter(run=None, project=None, received_at__lt=cutoff)


def _delete_runless(cutoff, batch):
    """Spans of no run older than the cutoff: whole traces of no run, and spans still waiting
    for theirs. Returns (spans, traces) deleted."""
    spans = traces = 0
    while True:
        trace_ids = list(_runless_traces(cutoff).values_list("trace_id", flat=True)[: max(batch // 50, 1)])
        if not trace_ids:
            break
        for trace_id in trace_ids:

            def step(trace_id=trace_id):
                with writing():
                    rows = Span.objects.filter(trace_id=trace_id, run=None)
                    return _delete(Span, list(rows.values_list("pk", flat=True)[:batch]))

            spans += _paced(step)
        with writing():
            traces += _delete(
                Trace, list(Trace.objects.filter(trace_id__in=trace_ids, run=None).values_list("pk", flat=True))
            )

    def waiting():
        with writing():
            return _delete(Span, list(_waiting_spans(cutoff).values_list("pk", flat=True)[:batch]))

    spans += _paced(waiting)
    return spans, traces


def _pragma(name):
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def give_space_back():
    """SQLite: hand the free pages back to the file system, a few at a time. Returns (bytes
    freed, bytes still free inside the file: its auto_vacuum is off)."""
    if connection.vendor != "sqlite":
        return 0, 0  # PostgreSQL's autovacuum makes the space reusable; VACUUM FULL is the DBA's call
    page_size = _pragma("page_size")
    if connection.in_atomic_block:
        return 0, 0  # a caller's transaction (a test's): the pages go back after it, by a later prune
    if _pragma("auto_vacuum") != 2:  # 2: INCREMENTAL
        return 0, _pragma("freelist_count") * page_size
    freed = 0
    while free := _pragma("freelist_count"):
        incremental_vacuum(VACUUM_PAGES)
        freed += min(free, VACUUM_PAGES) * page_size
        time.sleep(PAUSE_MIN)
    return freed, 0


def vacuum():
    """One full VACUUM that also turns incremental auto_vacuum on (an existing SQLite database
    keeps its mode until then). It copies the whole database and blocks every writer while it
    does: for a quiet moment. Returns the bytes it gave back."""
    if connection.vendor != "sqlite":
        return 0
    before = _pragma("page_count") * _pragma("page_size")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("VACUUM")
    return before - _pragma("page_count") * _pragma("page_size")


def prune_by_setting(days, now=None):
    """The leader's periodic prune (STUDIO_RETENTION_DAYS)."""
    report = prune(older_than=timedelta(days=days), now=now)
    if report.runs or report.spans:
        log.info(
            "retention (%s days): pruned %d runs, %d messages, %d spans",
            days,
            report.runs,
            report.messages,
            report.spans,
        )
    return report
