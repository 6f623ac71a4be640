"""What an open run page receives when spans of its run arrive (runs.consumers.RunConsumer).

Only the new spans travel, as rows that live.js puts in place (docs/LIVE.md): a new root goes
into the tree in time order; a new child goes under its parent if the page has the parent open,
and the parent's row is refreshed (its count of children). Statistics and the waterfall's scale
are re-sent whole: both are small.
"""

from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.urls import reverse

from . import stats, tree
from .models import Span

MAX_ROWS = 300


def last_span_pk(run_id):
    return Span.objects.filter(run_id=run_id).aggregate(last=Max("pk"))["last"] or 0


def render_spans_update(run_id, after_pk):
    """(HTML fragments, the last span pk they cover) for the spans of the run stored after after_pk."""
    # Read first: a span stored while this renders is the next update's, not lost between two.
    last = last_span_pk(run_id)
    context = {"run": {"pk": run_id}, "stats": stats.run_stats(run_id), "window": tree.window(Q(run_id=run_id))}
    html = [render_to_string("traces/run_panel.html#trace-stats", context)]
    html.append(render_to_string("traces/trace_tree.html#tree-window", {"window": context["window"]}))
    if last <= after_pk:
        return "".join(html), after_pk
    html.append(render_to_string("traces/trace_tree.html#trace-empty-removed"))

    # Which new spans the page shows: those whose parent is not new too (a child of a new span
    # shows under it when it is opened). Chosen on ids alone: an exporter's batch is 512 spans.
    batch = Span.objects.filter(run_id=run_id, pk__gt=after_pk, pk__lte=last)
    keys = list(batch.values_list("pk", "trace_id", "span_id", "parent_span_id"))
    new_ids = {(trace, span) for _, trace, span, _ in keys}
    shown = [pk for pk, trace, _, parent in keys if (trace, parent) not in new_ids]
    if len(shown) > MAX_ROWS:
        # Too many to place one by one: the latest roots afresh, as the panel first loads them.
        roots, more = tree.latest_roots(Q(run_id=run_id), None)
        html.append(
            render_to_string(
                "traces/trace_tree.html#root-list",
                {
                    "roots": roots,
                    "more_roots": more,
                    "scope_url": reverse("run-trace", args=[run_id]),
                },
            )
        )
        return "".join(html), last
    new = list(tree.light(Span.objects.filter(pk__in=shown)).order_by("pk"))

    parent_keys = {(span.trace_id, span.parent_span_id) for span in new if span.parent_span_id}
    stored_parents = {
        (parent.trace_id, parent.span_id): parent
        for parent in tree.light(
            Span.objects.filter(
                trace_id__in={trace for trace, _ in parent_keys}, span_id__in={span for _, span in parent_keys}
            )
        )
        if (parent.trace_id, parent.span_id) in parent_keys
    }
    tree.with_child_counts(new + list(stored_parents.values()))
    refreshed = set()
    for span in new:
        parent_key = (span.trace_id, span.parent_span_id)
        parent = stored_parents.get(parent_key)
        if parent is None:
            html.append(render_to_string("traces/trace_tree.html#span-node", {"span": span}))
            continue
        # Under a parent the page may show: into its (open) list, and its row's count updated.
        html.append(
            render_to_string("traces/trace_tree.html#span-node", {"span": span, "into": f"#kids-{parent.span_id}"})
        )
        if parent_key not in refreshed:
            refreshed.add(parent_key)
            html.append(render_to_string("traces/trace_tree.html#span-row", {"span": parent}))
    # Spans shown as roots because their parent was missing now sit under it.
    adopted = list(
        Span.objects.filter(
            Q(trace_id__in={trace for _, trace, _, _ in keys}),
            Q(parent_span_id__in={span for _, _, span, _ in keys}),
            pk__lte=after_pk,
        ).values_list("span_id", flat=True)
    )
    if adopted:
        html.append(render_to_string("traces/trace_tree.html#span-nodes-removed", {"span_ids": adopted}))
    return "".join(html), last
