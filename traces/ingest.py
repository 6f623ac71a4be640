"""Storing decoded spans (traces.otlp): link each to its run or project, insert them in bulk once,
keep the per-trace totals, and tell the open run pages.

How a span finds its run (traces.conventions.run_key):
1. it names a registered run (agentscope 1.x: `gen_ai.conversation.id` or `project.run_id`);
2. it names a run that has not registered yet: it waits with the id in `run_key`, and
   `link_orphan_spans` links it when `registerRun` comes;
3. it names no run (agentscope's @trace functions, a library's own spans): it goes with another
   span of its trace, or else of its process (`service.instance.id`), that found one;
4. otherwise it belongs to the project named by its `service.name`, run-less.
"""

from django.db import transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from projects.models import Project
from runs.models import Run
from studio import live

from . import conventions
from .models import Span, Trace

STATUS_ERROR = conventions.STATUS_ERROR


def store(spans):
    """Store decoded spans (a span already stored is left as it is). Returns how many were new."""
    if not spans:
        return 0
    rows = [_row(span) for span in spans]
    with transaction.atomic():
        _link(rows, [conventions.run_key(span)[1] for span in spans])
        before = _max_pk()
        Span.objects.bulk_create([Span(**row) for row in rows], ignore_conflicts=True, batch_size=500)
        stored = Span.objects.filter(pk__gt=before).count() if before is not None else len(rows)
        update_traces({row["trace_id"] for row in rows})
        for run_id, project_id in {(row["run_id"], row["project_id"]) for row in rows if row["run_id"]}:
            live.publish_on_commit(live.spans_changed(run_id, project_id))
    return stored


def _max_pk():
    return Span.objects.aggregate(last=Max("pk"))["last"] or 0


def _row(span):
    key, _ = conventions.run_key(span)
    service_name, instance = conventions.service(span)
    return {
        **{name: span[name] for name in (
            "trace_id", "span_id", "parent_span_id", "trace_state", "flags", "name", "kind",
            "start_time_ns", "end_time_ns", "status_code", "status_message",
            "attributes", "events", "links", "dropped", "resource", "scope",
        )},
        **conventions.summary(span),
        "run_key": key,
        "service_name": service_name,
        "service_instance_id": instance,
        "run_id": None,
        "project_id": None,
    }


def _link(rows, names_a_run):
    """Set run_id, project_id and run_key of each row (see the module's docstring).

    names_a_run[i]: row i's run key is a studio client's run id (JSON-encoded), not some other
    program's session id, so it may wait for its run.
    """
    keys = {row["run_key"] for row in rows if row["run_key"]}
    runs = dict(Run.objects.filter(pk__in=keys).values_list("pk", "project_id")) if keys else {}
    by_trace, by_instance = {}, {}  # -> (run_id, project_id, run_key) of a span that named one

    for row, named in zip(rows, names_a_run):
        key = row["run_key"]
        if key in runs:
            row["run_id"], row["project_id"] = key, runs[key]
        elif key and named:
            pass  # a run that has not registered yet: it stays in run_key
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
    _remember_stored_links(unlinked, by_trace, by_instance)
    projects = {}
    for row in unlinked:
        link = by_trace.get(row["trace_id"]) or by_instance.get(row["service_instance_id"])
        if link:
            row["run_id"], row["project_id"], row["run_key"] = link
            continue
        name = row["service_name"]
        if name not in projects:
            project, _ = Project.objects.get_or_create(name=name)
            Project.objects.filter(pk=project.pk).update(last_activity_at=timezone.now())
            projects[name] = project.pk
        row["project_id"] = projects[name]


def _remember_stored_links(unlinked, by_trace, by_instance):
    """Add the links of already stored spans of the same traces and processes."""
    linked = Q(run__isnull=False) | ~Q(run_key="")
    trace_ids = {row["trace_id"] for row in unlinked} - by_trace.keys()
    if trace_ids:
        for trace_id, run_id, project_id, key in (
            Span.objects.filter(linked, trace_id__in=trace_ids)
            .values_list("trace_id", "run_id", "project_id", "run_key").order_by("trace_id", "-run_id").distinct()
        ):
            by_trace.setdefault(trace_id, (run_id, project_id, key))
    instances = {row["service_instance_id"] for row in unlinked if row["service_instance_id"]} - by_instance.keys()
    for instance in instances:
        found = (
            Span.objects.filter(linked, service_instance_id=instance)
            .values_list("run_id", "project_id", "run_key").order_by("-pk").first()
        )
        if found:
            by_instance[instance] = found


def update_traces(trace_ids):
    """Recompute the totals of these traces from their spans (idempotent, whatever arrived twice)."""
    trace_ids = list(trace_ids)
    if not trace_ids:
        return
    totals = (
        Span.objects.filter(trace_id__in=trace_ids).values("trace_id").annotate(
            start=Min("start_time_ns"), end=Max("end_time_ns"), spans=Count("pk"),
            errors=Count("pk", filter=Q(status_code=STATUS_ERROR)),
            tokens_in=Sum("input_tokens"), tokens_out=Sum("output_tokens"),
            run=Max("run_id"), project=Max("project_id"),
        )
    )
    roots = dict(Span.objects.filter(trace_id__in=trace_ids, parent_span_id="").values_list("trace_id", "name"))
    earliest = {}
    missing_root = [trace_id for trace_id in trace_ids if trace_id not in roots]
    if missing_root:
        # Children come before their root: name the trace after its earliest span meanwhile.
        for trace_id, name in (
            Span.objects.filter(trace_id__in=missing_root).order_by("trace_id", "start_time_ns")
            .values_list("trace_id", "name")
        ):
            earliest.setdefault(trace_id, name)
    now = timezone.now()
    Trace.objects.bulk_create(
        [
            Trace(
                trace_id=row["trace_id"], run_id=row["run"], project_id=row["project"],
                name=roots.get(row["trace_id"], earliest.get(row["trace_id"], "")),
                has_root=row["trace_id"] in roots,
                start_time_ns=row["start"], end_time_ns=row["end"], span_count=row["spans"],
                error_count=row["errors"], input_tokens=row["tokens_in"] or 0,
                output_tokens=row["tokens_out"] or 0, updated_at=now,
            )
            for row in totals
        ],
        update_conflicts=True,
        unique_fields=["trace_id"],
        update_fields=["run", "project", "name", "has_root", "start_time_ns", "end_time_ns", "span_count",
                       "error_count", "input_tokens", "output_tokens", "updated_at"],
    )


def link_orphan_spans(run):
    """Give a newly registered run the spans that arrived before it (called by registerRun)."""
    waiting = Span.objects.filter(run__isnull=True, run_key=run.pk)
    trace_ids = set(waiting.values_list("trace_id", flat=True).distinct())
    if not trace_ids:
        return 0
    linked = waiting.update(run=run, project_id=run.project_id)
    update_traces(trace_ids)
    live.publish_on_commit(live.spans_changed(run.pk, run.project_id))
    return linked
