"""The span tree of a run, a bounded piece at a time: the latest roots, one span's children.

A root is a span without a parent, or whose parent has not been stored (children arrive before
their parents; a parent may live in another service). No function here loads a whole run.
"""

from django.db.models import Count, Exists, Max, Min, OuterRef, Q

from .models import Span

ROOTS_PAGE = 50
CHILDREN_PAGE = 200
# Columns the tree's rows never show; the span detail loads them.
HEAVY = ("attributes", "events", "links", "resource", "scope", "dropped")


def light(queryset):
    return queryset.defer(*HEAVY)


def _parent_stored():
    return Exists(Span.objects.filter(trace_id=OuterRef("trace_id"), span_id=OuterRef("parent_span_id")))


def latest_roots(scope, before=None, limit=ROOTS_PAGE):
    """(roots in time order, whether earlier ones exist): the newest `limit` of `scope` (a Q:
    a run's spans, a trace's) before `before`, a (start_time_ns, pk) position."""
    roots = light(Span.objects.filter(scope).filter(Q(parent_span_id="") | ~_parent_stored()))
    if before is not None:
        start, pk = before
        roots = roots.filter(Q(start_time_ns__lt=start) | Q(start_time_ns=start, pk__lt=pk))
    page = list(roots.order_by("-start_time_ns", "-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    page.reverse()
    return with_child_counts(page), more


def children(span, after=None, limit=CHILDREN_PAGE):
    """(the span's children in time order, from the (start_time_ns, pk) position `after`; more?)."""
    kids = light(Span.objects.filter(trace_id=span.trace_id, parent_span_id=span.span_id))
    if after is not None:
        start, pk = after
        kids = kids.filter(Q(start_time_ns__gt=start) | Q(start_time_ns=start, pk__gt=pk))
    page = list(kids.order_by("start_time_ns", "pk")[: limit + 1])
    return with_child_counts(page[:limit]), len(page) > limit


def with_child_counts(spans):
    """Set `child_count` on each span (one query for them all)."""
    for span in spans:
        span.child_count = 0
    if not spans:
        return spans
    counts = {
        (row["trace_id"], row["parent_span_id"]): row["n"]
        for row in Span.objects.filter(
            trace_id__in={span.trace_id for span in spans}, parent_span_id__in={span.span_id for span in spans}
        )
        .values("trace_id", "parent_span_id")
        .annotate(n=Count("pk"))
    }
    for span in spans:
        span.child_count = counts.get((span.trace_id, span.span_id), 0)
    return spans


def window(scope):
    """(first start, last end) in ns of the spans of `scope` (a Q), for the waterfall's scale."""
    bounds = Span.objects.filter(scope).aggregate(start=Min("start_time_ns"), end=Max("end_time_ns"))
    return (bounds["start"], bounds["end"]) if bounds["start"] is not None else None


def parent_of(span):
    if not span.parent_span_id:
        return None
    return Span.objects.filter(trace_id=span.trace_id, span_id=span.parent_span_id).first()


def agent_ancestor(span, max_depth=32):
    """The nearest span at or above this one that returned a reply's message (see Span.message_id)."""
    current, depth = span, 0
    while current is not None and depth < max_depth:
        if current.message_id:
            return current
        current, depth = parent_of(current), depth + 1
    return None


def ancestors(span, max_depth=32):
    """The span's stored ancestors, its root first: the path the tree opens to show it."""
    path, current = [], parent_of(span)
    while current is not None and len(path) < max_depth:
        path.append(current)
        current = parent_of(current)
    return path[::-1]
