"""The overview page's figures: what a person may see, counted cheaply on a big database.

Counts are COUNT(*)s the database answers from an index. Tokens by month and model are one
query a month over `span_tokens_time_idx`, which holds every column they read (a range of
start times, then grouped by model): no table rows are read, and only LLM spans (those with a
model) are in it (bench/search_overview.py measures it on 1,000,000 spans).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth

from runs.models import Message, Run
from traces.models import Span

from .models import Project

MONTHS = 12


@dataclass
class Month:
    start: datetime
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def tokens(self):
        return self.input_tokens + self.output_tokens


def months_back(now, count=MONTHS):
    """The first instants of this month and the `count - 1` before it, oldest first (UTC)."""
    year, month = now.year, now.month
    starts = []
    for _ in range(count):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _next_month(start):
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


CHART_HEIGHT = 100  # the SVG's bars: 0 to this many units tall


def _chart(months, figure, name):
    """Give each month `name`: (x, y, height) of its bar, the tallest CHART_HEIGHT."""
    tallest = max((getattr(month, figure) for month in months), default=0) or 1
    for index, month in enumerate(months):
        height = round(CHART_HEIGHT * getattr(month, figure) / tallest)
        setattr(month, name, (index * 40 + 6, CHART_HEIGHT - height, height))


def _ns(moment):
    return int(moment.timestamp()) * 1_000_000_000


def figures(project_ids, now):
    """The overview of these projects (None: all of them)."""
    runs, messages, spans = Run.objects.all(), Message.objects.all(), Span.objects.filter(~Q(model=""))
    projects = Project.objects.all()
    all_spans = Span.objects.all()
    if project_ids is not None:
        projects = projects.filter(pk__in=project_ids)
        runs = runs.filter(project_id__in=project_ids)
        messages = messages.filter(run__project_id__in=project_ids)
        spans = spans.filter(project_id__in=project_ids)
        all_spans = all_spans.filter(project_id__in=project_ids)
    months = [Month(start) for start in months_back(now)]
    by_model = {}
    for month in months:
        rows = (
            spans.filter(start_time_ns__gte=_ns(month.start), start_time_ns__lt=_ns(_next_month(month.start)))
            .values("model")
            .annotate(input=Sum("input_tokens"), output=Sum("output_tokens"), calls=Count("*"))
        )
        for row in rows:
            month.input_tokens += row["input"] or 0
            month.output_tokens += row["output"] or 0
            model = by_model.setdefault(row["model"], {"model": row["model"], "input": 0, "output": 0, "calls": 0})
            model["input"] += row["input"] or 0
            model["output"] += row["output"] or 0
            model["calls"] += row["calls"]
    started = runs.filter(started_at__gte=months[0].start).annotate(month=TruncMonth("started_at", tzinfo=UTC))
    runs_by_month = dict(started.values_list("month").annotate(n=Count("*")).values_list("month", "n"))
    for month in months:
        month.runs = runs_by_month.get(month.start, 0)
    _chart(months, "tokens", "token_bar")
    _chart(months, "runs", "run_bar")
    models = sorted(by_model.values(), key=lambda m: -(m["input"] + m["output"]))
    for model in models:
        model["total"] = model["input"] + model["output"]
    return {
        "projects": projects.count(),
        "runs": runs.count(),
        "messages": messages.count(),
        "spans": all_spans.count(),
        "months": months,
        "models": models,
        "tokens": sum(month.tokens for month in months),
    }
