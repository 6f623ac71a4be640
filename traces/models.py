from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import Project
from runs.models import Run
from studio.fields import WrittenJSONField

from .conventions import LLM_OPERATIONS, OPERATION_LABELS, SPAN_KINDS, STATUS_ERROR


class Span(models.Model):
    """One OpenTelemetry span, stored once per (trace id, span id), exactly as it was sent.

    `run` is set when the span names a registered run (or shares a trace or a process with one
    that does); `project` is the run's project, or for other programs the project named by
    their `service.name`. A span of an agentscope run that has not registered yet has neither,
    and keeps the run id in `run_key` until `traces.linking.link_orphan_spans` sees the run.
    """

    class Status(models.IntegerChoices):
        UNSET = 0, "Unset"
        OK = 1, "OK"
        ERROR = 2, "Error"

    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    # No index of its own: span_run_time_idx begins with it (one index less to write per span).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, null=True, blank=True, related_name="spans", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="spans")
    run_key = models.CharField(max_length=255, blank=True)
    service_name = models.CharField(max_length=255, blank=True)
    service_instance_id = models.CharField(max_length=255, blank=True)
    name = models.TextField()
    kind = models.PositiveSmallIntegerField(default=0)
    start_time_ns = models.BigIntegerField()
    end_time_ns = models.BigIntegerField()
    status_code = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.UNSET)
    status_message = models.TextField(blank=True)
    # Taken out of the attributes at ingestion, for statistics, filters and the tree's rows.
    operation = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=255, blank=True)
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    tool_name = models.CharField(max_length=255, blank=True)
    agent_name = models.CharField(max_length=255, blank=True)
    # The id of the message an agent span returned: it finds the span's reply in the chat.
    message_id = models.CharField(max_length=255, blank=True)
    # As sent, values keeping their types (see traces.otlp.spans_of).
    attributes = WrittenJSONField(default=dict)
    events = WrittenJSONField(default=list)
    links = WrittenJSONField(default=list)
    resource = WrittenJSONField(default=dict)
    scope = WrittenJSONField(default=dict)
    trace_state = models.TextField(blank=True)
    flags = models.PositiveBigIntegerField(default=0)
    dropped = WrittenJSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # A span exported twice (exporter retry) is stored once.
            models.UniqueConstraint(fields=["trace_id", "span_id"], name="span_unique_id"),
        ]
        indexes = [
            # A run's spans in time order: its roots, its time window, its statistics.
            models.Index(fields=["run", "start_time_ns"], name="span_run_time_idx"),
            # A span's children, in time order (the tree loads them on demand).
            models.Index(fields=["trace_id", "parent_span_id", "start_time_ns"], name="span_children_idx"),
            # Spans waiting for their run: link_orphan_spans when the run registers.
            models.Index(fields=["run_key"], condition=Q(run__isnull=True), name="span_orphan_key_idx"),
            # Spans of one process: one that names its run links the others (agentscope's
            # @trace functions carry no run id).
            models.Index(
                fields=["service_instance_id"], condition=~Q(service_instance_id=""), name="span_instance_idx"
            ),
            # A reply's spans (the chat's "spans" button): its agent span by the message it returned.
            models.Index(fields=["run", "message_id"], condition=~Q(message_id=""), name="span_run_message_idx"),
            # The model filter's choices on a project's traces page.
            models.Index(fields=["project", "model"], condition=~Q(model=""), name="span_project_model_idx"),
            # The overview's tokens by month and model, read from this index alone (LLM spans only).
            models.Index(
                fields=["start_time_ns", "model", "project", "input_tokens", "output_tokens"],
                condition=~Q(model=""),
                name="span_tokens_time_idx",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def duration_ns(self):
        return max(0, self.end_time_ns - self.start_time_ns)

    @property
    def is_error(self):
        return self.status_code == STATUS_ERROR

    @property
    def is_llm(self):
        return self.operation in LLM_OPERATIONS

    @property
    def label(self):
        """A short word for what the span is (agent, LLM, tool, ...)."""
        return OPERATION_LABELS.get(self.operation, self.operation or SPAN_KINDS.get(self.kind, "span"))

    @property
    def short_name(self):
        """The name without its GenAI operation prefix ("execute_tool get_weather" -> "get_weather"):
        the tree's label already says what the span is."""
        prefix = f"{self.operation} "
        if self.operation and self.name.startswith(prefix) and len(self.name) > len(prefix):
            return self.name[len(prefix) :]
        return self.name

    @property
    def total_tokens(self):
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def kind_name(self):
        return SPAN_KINDS.get(self.kind, str(self.kind))


class Trace(models.Model):
    """A trace's totals, kept up to date as its spans arrive (a project's traces page lists
    these instead of grouping every span on each visit)."""

    trace_id = models.CharField(max_length=32, unique=True)
    # Indexed by trace_project_newest_idx and trace_run_idx below, not twice.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, null=True, blank=True, related_name="traces", db_index=False
    )
    run = models.ForeignKey(Run, on_delete=models.CASCADE, null=True, blank=True, related_name="traces", db_index=False)
    # The root span's name; until the root arrives (children come first), the earliest span's.
    name = models.TextField(blank=True)
    has_root = models.BooleanField(default=False)
    start_time_ns = models.BigIntegerField()
    end_time_ns = models.BigIntegerField()
    span_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A project's traces page, newest first, and its time range filter.
            models.Index(fields=["project", "-start_time_ns"], name="trace_project_newest_idx"),
            # The traces of a run (deleting or relinking a run's spans).
            models.Index(fields=["run"], name="trace_run_idx"),
        ]

    def __str__(self):
        return self.name or self.trace_id

    @property
    def duration_ns(self):
        return max(0, self.end_time_ns - self.start_time_ns)

    @property
    def total_tokens(self):
        return self.input_tokens + self.output_tokens

    @property
    def status(self):
        return "error" if self.error_count else "ok"


class ModelPrice(models.Model):
    """What a model costs, for the estimated cost of runs. Edited by people in the admin."""

    model = models.CharField(
        max_length=255,
        unique=True,
        help_text="A model name as spans report it (gen_ai.request.model). It also prices every model "
        "whose name starts with it, unless a longer entry matches: 'gpt-4o' covers 'gpt-4o-2024-08-06'.",
    )
    input_per_million = models.DecimalField(max_digits=12, decimal_places=4, help_text="Price per million input tokens")
    output_per_million = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Price per million output tokens"
    )
    currency = models.CharField(max_length=8, default="USD")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model"]

    def __str__(self):
        return f"{self.model}: {self.input_per_million} / {self.output_per_million} {self.currency} per M tokens"
