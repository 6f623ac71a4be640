import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import OperationalError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from projects import access, tokens
from projects.models import Project
from runs.models import Message, Reply, Run
from studio.htmx import render_page
from studio.rejected import Rejected

from . import conventions, ingest, otlp, stats, tree
from .filters import TraceFilters
from .models import Span, Trace

log = logging.getLogger(__name__)


def _answer(body_and_type, status=200, **headers):
    body, content_type = body_and_type
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    return response


@csrf_exempt
@login_not_required  # an exporter's token (projects/tokens.py), never a person's login
def ingest_traces(request):
    """OTLP/HTTP trace export (opentelemetry.io/docs/specs/otlp/#otlphttp-request)."""
    if request.method != "POST":
        return _answer(otlp.error_body(otlp.JSON, 405, "Use POST"), 405, Allow="POST")
    try:
        fmt = otlp.body_format(request.content_type)
    except Rejected as exc:
        # The request's format is unknown: answer in JSON, readable by a person with curl.
        return _answer(otlp.error_body(otlp.JSON, exc.status, exc.message), exc.status)
    try:
        token = tokens.for_request(request)
    except Rejected as exc:
        return _answer(
            otlp.error_body(fmt, exc.status, exc.message), exc.status, **{"WWW-Authenticate": tokens.CHALLENGE}
        )
    limit = settings.OTLP_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _answer(otlp.error_body(fmt, 413, f"The body is larger than {limit} bytes"), 413)
    try:
        decoded = otlp.decode(request.body, request.content_type, request.headers.get("Content-Encoding"), limit)
    except Rejected as exc:
        return _answer(otlp.error_body(fmt, exc.status, exc.message), exc.status)
    try:
        # With a token, the spans go into its project, and join only that project's runs.
        ingest.store(decoded.spans, token.project if token is not None else None)
    except OperationalError:
        # A locked or unreachable database: the exporter retries a 503 after Retry-After.
        log.exception("storing %d spans failed", len(decoded.spans))
        return _answer(otlp.error_body(fmt, 503, "The database is busy; try again"), 503, **{"Retry-After": "2"})
    return _answer(otlp.success_body(fmt, decoded.rejected))


# ---- pages: the run page's trace panel, a span's detail, a project's traces ----


def _position(request, name):
    """A (start_time_ns, pk) position from ?name=<start>:<pk>, or None; 404 if malformed."""
    value = request.GET.get(name)
    if not value:
        return None
    try:
        start, pk = value.split(":")
        return int(start), int(pk)
    except ValueError:
        raise Http404(f"{name} must be <start>:<pk>") from None


def _span_page_context(roots, more, scope_url):
    return {"roots": roots, "more_roots": more, "scope_url": scope_url}


@require_GET
def run_trace(request, run_id):
    """The run page's trace panel: statistics and the latest roots; ?before= gives earlier roots."""
    run = get_object_or_404(Run.objects.select_related("project"), pk=run_id)
    access.require(request, run.project_id, access.VIEW)
    before = _position(request, "before")
    roots, more = tree.latest_roots(Q(run_id=run.pk), before)
    context = {"run": run, **_span_page_context(roots, more, reverse("run-trace", args=[run.pk]))}
    if before is not None:
        return render(request, "traces/trace_tree.html#root-rows", context)
    context["stats"] = stats.run_stats(run.pk)
    context["window"] = tree.window(Q(run_id=run.pk))
    return render(request, "traces/run_panel.html", context)


@require_GET
def span_children(request, pk):
    span = get_object_or_404(tree.light(Span.objects.all()), pk=pk)
    access.require(request, span.project_id, access.VIEW)
    kids, more = tree.children(span, _position(request, "after"))
    return render(request, "traces/trace_tree.html#child-rows", {"span": span, "kids": kids, "more_kids": more})


@require_GET
def span_detail(request, pk):
    span = get_object_or_404(Span.objects.select_related("run__project", "project"), pk=pk)
    access.require(request, span.project_id, access.VIEW)
    return _span_detail(request, span)


def _span_detail(request, span):
    inputs, outputs = conventions.io_sections(span.attributes)
    agent = tree.agent_ancestor(span)
    reply = None
    if agent is not None and span.run_id:
        message = Message.objects.filter(run_id=span.run_id, msg_id=agent.message_id).select_related("reply").first()
        reply = message.reply if message else None
    context = {
        "span": span,
        "inputs": inputs,
        "outputs": outputs,
        "reply": reply,
        "parent": tree.parent_of(span),
        "ancestors": " ".join(ancestor.span_id for ancestor in tree.ancestors(span)),
        "exceptions": [event for event in span.events if event.get("name") == "exception"],
    }
    return render(request, "traces/span_detail.html", context)


@require_GET
def reply_spans(request, run_id, reply_pk):
    """The agent span that produced a reply, shown in the span detail (the tree highlights it)."""
    reply = get_object_or_404(Reply.objects.select_related("run"), run_id=run_id, pk=reply_pk)
    access.require(request, reply.run.project_id, access.VIEW)
    message_ids = Message.objects.filter(reply=reply).values("msg_id")
    span = (
        Span.objects.filter(run_id=run_id, message_id__in=message_ids)
        .select_related("run__project", "project")
        .order_by("start_time_ns")
        .first()
    )
    if span is None:
        return render(request, "traces/span_detail.html", {"span": None, "reply": reply})
    return _span_detail(request, span)


TRACES_PER_PAGE = 50


@require_GET
def project_traces(request, project_name):
    """Every trace of a project, newest first, filtered by time range, status, model and name."""
    project = get_object_or_404(Project, name=project_name)
    access.require(request, project, access.VIEW)
    filters = TraceFilters.from_request(request)
    traces = filters.apply(Trace.objects.filter(project=project).select_related("run"))
    page = Paginator(traces.order_by("-start_time_ns", "-pk"), TRACES_PER_PAGE).get_page(request.GET.get("page"))
    models = (
        Span.objects.filter(project=project)
        .exclude(model="")
        .values_list("model", flat=True)
        .order_by("model")
        .distinct()[:200]
    )
    context = {"project": project, "page": page, "filters": filters, "models": models}
    return render_page(request, "traces/project_traces.html", context)


@require_GET
def trace_page(request, project_name, trace_id):
    """One trace of a program with no run (or any trace): its tree and span details."""
    trace = get_object_or_404(Trace.objects.select_related("project", "run__project"), trace_id=trace_id)
    if trace.project is None or trace.project.name != project_name:
        raise Http404("No such trace in this project")
    access.require(request, trace.project, access.VIEW)
    before = _position(request, "before")
    roots, more = tree.latest_roots(Q(trace_id=trace.trace_id), before)
    context = {
        "trace": trace,
        "project": trace.project,
        **_span_page_context(roots, more, reverse("trace", args=[project_name, trace_id])),
    }
    if before is not None:
        return render(request, "traces/trace_tree.html#root-rows", context)
    context["window"] = (trace.start_time_ns, trace.end_time_ns)
    return render(request, "traces/trace_page.html", context)
