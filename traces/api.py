"""The API's spans and traces: by run and by trace id; a run's statistics; a run's spans as an
OTLP/JSON file that other OpenTelemetry tools load."""

import orjson
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from projects import access
from runs.api import RunChild, viewable_run
from studio.api import READ_ERRORS, ApiView, cursor, errors

from . import otlp, stats
from .models import Span, Trace


class SpanSerializer(serializers.ModelSerializer):
    run = serializers.CharField(source="run_id", allow_null=True, read_only=True)
    duration_ns = serializers.IntegerField(read_only=True)
    attributes = serializers.JSONField()
    events = serializers.JSONField()
    links = serializers.JSONField()
    resource = serializers.JSONField()
    scope = serializers.JSONField()
    dropped = serializers.JSONField()

    class Meta:
        model = Span
        fields = [
            "trace_id",
            "span_id",
            "parent_span_id",
            "run",
            "project",
            "name",
            "kind",
            "start_time_ns",
            "end_time_ns",
            "duration_ns",
            "status_code",
            "status_message",
            "operation",
            "model",
            "input_tokens",
            "output_tokens",
            "tool_name",
            "agent_name",
            "message_id",
            "service_name",
            "attributes",
            "events",
            "links",
            "resource",
            "scope",
            "trace_state",
            "flags",
            "dropped",
        ]


class TraceSerializer(serializers.ModelSerializer):
    run = serializers.CharField(source="run_id", allow_null=True, read_only=True)

    class Meta:
        model = Trace
        fields = [
            "trace_id",
            "name",
            "run",
            "project",
            "has_root",
            "start_time_ns",
            "end_time_ns",
            "span_count",
            "error_count",
            "input_tokens",
            "output_tokens",
        ]


# Spans in time order; ties (a burst within one nanosecond) are kept apart by the cursor's offset.
SPAN_ORDER = cursor("start_time_ns")


@extend_schema(tags=["spans"], responses={200: SpanSerializer(many=True), **errors(*READ_ERRORS)})
class RunSpans(RunChild):
    """A run's spans in time order."""

    serializer_class = SpanSerializer
    pagination_class = SPAN_ORDER

    def rows(self, run):
        return Span.objects.filter(run=run)


@extend_schema(tags=["spans"], responses={200: TraceSerializer(many=True), **errors(*READ_ERRORS)})
class RunTraces(RunChild):
    """A run's traces (their totals), in time order."""

    serializer_class = TraceSerializer
    pagination_class = cursor("start_time_ns")

    def rows(self, run):
        return Trace.objects.filter(run=run)


def viewable_trace(request, trace_id):
    trace = get_object_or_404(Trace, trace_id=trace_id)
    # A trace of no project yet (spans waiting for their run): superusers only, in team mode.
    access.require(request, trace.project_id, access.VIEW)
    return trace


@extend_schema(tags=["spans"], responses={200: TraceSerializer, **errors(*READ_ERRORS)})
class TraceDetail(ApiView):
    """One trace's totals, by its id."""

    def get(self, request, trace_id):
        return Response(TraceSerializer(viewable_trace(request, trace_id)).data)


@extend_schema(tags=["spans"], responses={200: SpanSerializer(many=True), **errors(*READ_ERRORS)})
class TraceSpans(ApiView, ListAPIView):
    """One trace's spans in time order, by its id."""

    serializer_class = SpanSerializer
    pagination_class = SPAN_ORDER

    def get_queryset(self):
        trace = viewable_trace(self.request, self.kwargs["trace_id"])
        return Span.objects.filter(trace_id=trace.trace_id)


class ModelStatsSerializer(serializers.Serializer):
    model = serializers.CharField()
    calls = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=30, decimal_places=10, allow_null=True, help_text="Estimated")
    currency = serializers.CharField(required=False)


class ToolStatsSerializer(serializers.Serializer):
    tool = serializers.CharField()
    calls = serializers.IntegerField()
    failures = serializers.IntegerField()


class LatencySerializer(serializers.Serializer):
    operation = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()
    p50_ns = serializers.IntegerField()
    p95_ns = serializers.IntegerField()
    max_ns = serializers.IntegerField()


class CostSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=10)


class RunStatsSerializer(serializers.Serializer):
    spans = serializers.IntegerField()
    errors = serializers.IntegerField()
    wall_ns = serializers.IntegerField()
    llm_calls = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    tool_calls = serializers.IntegerField()
    tool_failures = serializers.IntegerField()
    models = ModelStatsSerializer(many=True)
    tools = ToolStatsSerializer(many=True)
    latency = LatencySerializer(many=True)
    costs = CostSerializer(many=True, help_text="Estimated, per currency (prices: the admin's Model prices)")
    unpriced = serializers.ListField(child=serializers.CharField(), help_text="Models with tokens but no price")


@extend_schema(tags=["spans"], responses={200: RunStatsSerializer, **errors(*READ_ERRORS)})
class RunStatistics(ApiView):
    """A run's statistics from its spans (as its trace panel shows them)."""

    def get(self, request, run_id):
        run = viewable_run(request, run_id)
        return Response(RunStatsSerializer(stats.run_stats(run.pk)).data)


# The columns `otlp.encode_json` reads: a span as `otlp.spans_of` gives it.
OTLP_COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "flags",
    "name",
    "kind",
    "start_time_ns",
    "end_time_ns",
    "status_code",
    "status_message",
    "attributes",
    "events",
    "links",
    "dropped",
    "resource",
    "scope",
]


@extend_schema(
    tags=["spans"],
    responses={
        (200, otlp.JSON_CONTENT_TYPE): OpenApiResponse(
            OpenApiTypes.OBJECT, description="An OTLP/JSON ExportTraceServiceRequest (resourceSpans)"
        ),
        **errors(*READ_ERRORS),
    },
)
class RunSpansOtlp(ApiView):
    """A run's spans as one OTLP/JSON file (what an exporter would POST to /v1/traces)."""

    def get(self, request, run_id):
        run = viewable_run(request, run_id)
        spans = Span.objects.filter(run=run).order_by("start_time_ns", "pk").values(*OTLP_COLUMNS)
        body = orjson.dumps(otlp.encode_json(spans.iterator(chunk_size=500)))
        response = HttpResponse(body, content_type=otlp.JSON_CONTENT_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{_safe(run.pk)}.otlp.json"'
        return response


def _safe(run_id):
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in run_id)[:60] or "run"
