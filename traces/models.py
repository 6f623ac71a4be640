from django.db import models

from projects.models import Project
from runs.models import Run


class Span(models.Model):
    """One OpenTelemetry span, stored once per (trace id, span id)."""

    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, null=True, blank=True, related_name="spans")
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="spans"
    )
    name = models.CharField(max_length=512)
    start_time_ns = models.BigIntegerField()
    end_time_ns = models.BigIntegerField()
    attributes = models.JSONField(default=dict)

    class Meta:
        constraints = [
            # A span exported twice (exporter retry) is stored once.
            models.UniqueConstraint(fields=["trace_id", "span_id"], name="span_unique_id"),
        ]
        indexes = [
            # A run's trace view, in time order.
            models.Index(fields=["run", "start_time_ns"], name="span_run_time_idx"),
        ]

    def __str__(self):
        return self.name
