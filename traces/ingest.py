"""Storing decoded spans (traces.otlp): link each to its run or project, insert them in bulk once,
keep the per-trace totals, and tell the open run pages.

How a span finds its run (traces.conventions.run_key):
1. it names a registered run (agentscope 1.x: `gen_ai.conversation.id` or `project.run_id`);
2. it names a run that has not registered yet: it waits with the id in `run_key`, and
   `link_orphan_spans` links it when `registerRun` comes;
3. it names no run (agentscope's @trace functions, a library's own spans): it goes with another
   span of its trace, or else of its process (`service.instance.id`), that found one;
4. otherwise it belongs to the project named by its `service.name`, run-less.

Spans sent with a project token (team mode) are scoped to the token's project: they join only
its runs (1 and 3 look no further), and every span that joins none belongs to it, whatever its
`service.name` says. One naming another project's run waits, in the token's project, for a run
that can never be its own: another project's agent cannot write into that run.
"""

import functools
import json
from operator import itemgetter

import orjson
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from projects.models import Project
from runs import from_spans
from runs.models import Run
from studio import live
from studio.db import writing
from studio.django_bends import sqlite_driver_execute

from . import conventions, events
from .models import Span, Trace

STATUS_ERROR = conventions.STATUS_ERROR


def store(spans, project=None):
    """Store decoded spans (a span already stored is left as it is). Returns how many were new.

    `project`: the one the sender's token is for (team mode), else None."""
    if not spans:
        return 0
    keys = [conventions.run_key(span) for span in spans]
    # The rows, JSON included, are made before the write lock is taken.
    dumps = _json_encoder()
    rows = [_row(span, key, dumps) for span, key in zip(spans, keys, strict=True)]
    with writing():
        _link(rows, [names_a_run for _, names_a_run in keys], project)
        stored = _insert(rows)
        update_traces({row["trace_id"] for row in rows})
        for run_id, project_id in {(row["run_id"], row["project_id"]) for row in rows if row["run_id"]}:
            live.publish_on_commit(events.spans_changed(run_id, project_id))
    # A GenAI conversation no studio client registered gets a run and a chat: in transactions
    # of its own, after the spans are safely stored.
    from_spans.conversations_stored(spans, keys, project)
    return stored


def store_columns(rows):
    """Insert spans given as their own columns (a run bundle's, runs/bundles.py: run and project
    set, JSON columns as values), inside the caller's `writing()` transaction. A span already
    stored is left as it is; the totals of their traces are recomputed. Returns how many were new.
    """
    if not rows:
        return 0
    prepared = []
    for row in rows:
        row = dict(row)
        for name in ("attributes", *_SHARED_JSON_COLUMNS):
            row[name] = _encode_json(row[name])
        prepared.append(row)
    stored = _insert(prepared)
    update_traces({row["trace_id"] for row in rows})
    return stored


# Stored as JSON text, as are the attributes (the others are plain values).
_SHARED_JSON_COLUMNS = ("events", "links", "dropped", "resource", "scope")


def _json_encoder():
    """A function from a JSON column's value to its text, for the spans of one batch.

    The spans of a batch share their resource and scope (the same objects, see traces.otlp),
    and most have no events or links: each distinct object is encoded once.
    """
    encoded = {}

    def dumps(value):
        if not value:
            return "[]" if isinstance(value, list) else "{}"
        key = id(value)
        if key not in encoded:
            encoded[key] = (value, _encode_json(value))  # holding the value keeps its id unique
        return encoded[key][1]

    return dumps


# Rows per INSERT statement. A statement of many rows keeps its place in the table and its
# indexes from one row to the next; executemany runs a one-row statement per row, reopening
# them each time: more of SQLite's instructions per span (bench/findings.md#span-insert-rows). 64 rows × 30 columns stay well
# under both databases' limits on parameters (SQLite 32,766, PostgreSQL 65,535).
ROWS_PER_INSERT = 64


def _insert(rows):
    """INSERT … ON CONFLICT (trace_id, span_id) DO NOTHING, many rows a statement; how many were new.

    bulk_create prepares every value of every row through its field (30 columns × 512 spans a
    batch): several times slower (bench/findings.md#span-insert-rows). Here the values are already plain (see
    traces.otlp) and the JSON already text (`_row`), so only the time needs preparing.
    """
    connection = transaction.get_connection()
    received_at = connection.ops.adapt_datetimefield_value(timezone.now())
    values = itemgetter(*_row_fields())
    stored = 0
    with connection.cursor() as cursor:
        # On SQLite, straight to the driver, past Django's rewriting of every placeholder
        # (a departure from Django: studio/django_bends.py).
        execute = sqlite_driver_execute(connection) if connection.vendor == "sqlite" else cursor.execute
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            params = []
            for row in chunk:
                params.extend(values(row))
                params.append(received_at)
            # A span already stored is not inserted: the count is of the new ones.
            stored += execute(_insert_sql(connection.vendor, len(chunk)), params).rowcount
    return stored


def _row_fields():
    """The columns a row of `_row` fills, by attribute name (received_at is the batch's)."""
    return [
        field.attname
        for field in Span._meta.concrete_fields
        if not field.primary_key and field.attname != "received_at"
    ]


@functools.lru_cache(maxsize=8)
def _insert_sql(vendor, row_count):
    placeholder = "?" if vendor == "sqlite" else "%s"
    columns = [Span._meta.get_field(name).column for name in (*_row_fields(), "received_at")]
    quoted = ", ".join(f'"{column}"' for column in columns)
    one_row = f"({', '.join([placeholder] * len(columns))})"
    return (
        f'INSERT INTO "{Span._meta.db_table}" ({quoted}) '
        f"VALUES {', '.join([one_row] * row_count)} ON CONFLICT (trace_id, span_id) DO NOTHING"
    )


_slow_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode_json(value):
    """Compact JSON text; orjson is ~10x faster than json on the attributes of a span."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # what orjson refuses (a lone surrogate from OTLP/JSON), json still writes
        return _slow_encode(value)


def _row(span, run_key, dumps):
    """The span's columns: its own values (traces.otlp gives exactly those, JSON ones encoded by
    `dumps`), its summary, and the columns saying which run and project it belongs to (filled in
    by `_link`)."""
    key, _ = run_key
    service_name, instance = conventions.service(span)
    row = span.copy()
    attributes = span["attributes"]
    # Every span has attributes of its own: nothing to share.
    row["attributes"] = _encode_json(attributes) if attributes else "{}"
    for name in _SHARED_JSON_COLUMNS:
        row[name] = dumps(span[name])
    row.update(conventions.summary(span))
    row.update(run_key=key, service_name=service_name, service_instance_id=instance, run_id=None, project_id=None)
    return row


def _link(rows, names_a_run, project=None):
    """Set run_id, project_id and run_key of each row (see the module's docstring).

    names_a_run[i]: row i's run key is a studio client's run id (JSON-encoded), not some other
    program's session id, so it may wait for its run. `project`: the sender's token's.
    """
    keys = {row["run_key"] for row in rows if row["run_key"]}
    runs = Run.objects.filter(pk__in=keys) if project is None else Run.objects.filter(pk__in=keys, project=project)
    runs = dict(runs.values_list("pk", "project_id")) if keys else {}
    by_trace, by_instance = {}, {}  # -> (run_id, project_id, run_key) of a span that named one

    for row, named in zip(rows, names_a_run, strict=True):
        key = row["run_key"]
        if key in runs:
            row["run_id"], row["project_id"] = key, runs[key]
        elif key and named:
            # A run that has not registered yet: it stays in run_key (in the token's project).
            row["project_id"] = project.pk if project is not None else None
        else:
            row["run_key"] = ""  # a session id of another program: not a run
            continue
        link = (row["run_id"], row["project_id"], key)
        by_trace.setdefault(row["trace_id"], link)
        if row["service_instance_id"]:
            by_instance.setdefault(row["service_instance_id"], link)

    unlinked = [row for row in rows if not row["run_id"] and not row["run_key"]]
    if not unlinked:
        return
    _remember_stored_links(unlinked, by_trace, by_instance, project)
    projects = {}
    for row in unlinked:
        link = by_trace.get(row["trace_id"]) or by_instance.get(row["service_instance_id"])
        if link:
            row["run_id"], row["project_id"], row["run_key"] = link
            continue
        name = row["service_name"] if project is None else project.name
        if name not in projects:
            project, _ = Project.objects.get_or_create(name=name)
            Project.objects.filter(pk=project.pk).update(last_activity_at=timezone.now())
            projects[name] = project.pk
        row["project_id"] = projects[name]


def _remember_stored_links(unlinked, by_trace, by_instance, project=None):
    """Add the links of already stored spans of the same traces and processes (of `project`'s
    spans only, when given)."""
    linked = Q(run__isnull=False) | ~Q(run_key="")
    if project is not None:
        linked &= Q(project=project)
    trace_ids = {row["trace_id"] for row in unlinked} - by_trace.keys()
    if trace_ids:
        for trace_id, run_id, project_id, key in (
            Span.objects.filter(linked, trace_id__in=trace_ids)
            .values_list("trace_id", "run_id", "project_id", "run_key")
            .order_by("trace_id", "-run_id")
            .distinct()
        ):
            by_trace.setdefault(trace_id, (run_id, project_id, key))
    instances = {row["service_instance_id"] for row in unlinked if row["service_instance_id"]} - by_instance.keys()
    for instance in instances:
        found = (
            Span.objects.filter(linked, service_instance_id=instance)
            .values_list("run_id", "project_id", "run_key")
            .order_by("-pk")
            .first()
        )
        if found:
            by_instance[instance] = found


def update_traces(trace_ids):
    """Recompute the totals of these traces from their spans (idempotent, whatever arrived twice).

    One INSERT … SELECT … GROUP BY … ON CONFLICT statement: the totals never travel through Python.
    A trace is named after its root span, or until the root arrives (children come first), after
    its earliest span.
    """
    trace_ids = sorted(trace_ids)
    if not trace_ids:
        return
    connection = transaction.get_connection()
    span_table, trace_table = Span._meta.db_table, Trace._meta.db_table
    totals = ", ".join(
        f"{column} = excluded.{column}"
        for column in (
            "run_id",
            "project_id",
            "name",
            "has_root",
            "start_time_ns",
            "end_time_ns",
            "span_count",
            "error_count",
            "input_tokens",
            "output_tokens",
            "updated_at",
        )
    )
    sql = f"""
        INSERT INTO {trace_table} (trace_id, run_id, project_id, name, has_root, start_time_ns, end_time_ns,
                                   span_count, error_count, input_tokens, output_tokens, updated_at)
        SELECT s.trace_id, MAX(s.run_id), MAX(s.project_id),
               COALESCE(
                   (SELECT r.name FROM {span_table} r WHERE r.trace_id = s.trace_id AND r.parent_span_id = '' LIMIT 1),
                   (SELECT e.name FROM {span_table} e WHERE e.trace_id = s.trace_id ORDER BY e.start_time_ns LIMIT 1)),
               SUM(CASE WHEN s.parent_span_id = '' THEN 1 ELSE 0 END) > 0,
               MIN(s.start_time_ns), MAX(s.end_time_ns), COUNT(*),
               SUM(CASE WHEN s.status_code = {STATUS_ERROR} THEN 1 ELSE 0 END),
               COALESCE(SUM(s.input_tokens), 0), COALESCE(SUM(s.output_tokens), 0), %s
        FROM {span_table} s
        WHERE s.trace_id IN ({", ".join(["%s"] * len(trace_ids))})
        GROUP BY s.trace_id
        ON CONFLICT (trace_id) DO UPDATE SET {totals}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now()), *trace_ids])


def link_orphan_spans(run):
    """Give a newly registered run the spans that arrived before it (called by registerRun)."""
    # Not the spans another project's token sent naming this run (they wait in that project).
    waiting = Span.objects.filter(Q(project=None) | Q(project_id=run.project_id), run__isnull=True, run_key=run.pk)
    trace_ids = set(waiting.values_list("trace_id", flat=True).distinct())
    if not trace_ids:
        return 0
    linked = waiting.update(run=run, project_id=run.project_id)
    update_traces(trace_ids)
    live.publish_on_commit(events.spans_changed(run.pk, run.project_id))
    return linked
