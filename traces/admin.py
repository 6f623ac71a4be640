from django.contrib import admin

from .models import Span


@admin.register(Span)
class SpanAdmin(admin.ModelAdmin):
    list_display = ["name", "trace_id", "span_id", "run", "project", "start_time_ns"]
    search_fields = ["name", "trace_id", "span_id", "run__id"]
    raw_id_fields = ["run", "project"]
