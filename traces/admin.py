from django.contrib import admin

from studio.formatting import ns_duration

from .models import ModelPrice, Span, Trace


@admin.register(Span)
class SpanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "operation",
        "model",
        "status_code",
        "duration",
        "input_tokens",
        "output_tokens",
        "run",
        "project",
        "trace_id",
        "span_id",
    ]
    list_filter = ["operation", "status_code", "kind"]
    search_fields = ["name", "trace_id", "span_id", "run__id", "model", "tool_name", "service_name"]
    raw_id_fields = ["run", "project"]
    list_select_related = ["run", "project"]

    @admin.display(description="Duration", ordering="end_time_ns")
    def duration(self, span):
        return ns_duration(span.duration_ns)


@admin.register(Trace)
class TraceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "trace_id",
        "project",
        "run",
        "span_count",
        "error_count",
        "input_tokens",
        "output_tokens",
        "duration",
        "updated_at",
    ]
    list_filter = ["project"]
    search_fields = ["name", "trace_id", "run__id"]
    raw_id_fields = ["run", "project"]
    list_select_related = ["run", "project"]

    @admin.display(description="Duration")
    def duration(self, trace):
        return ns_duration(trace.duration_ns)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """The price table behind the runs' estimated cost: edit it to match your providers."""

    list_display = ["model", "input_per_million", "output_per_million", "currency", "updated_at"]
    list_editable = ["input_per_million", "output_per_million", "currency"]
    search_fields = ["model"]
