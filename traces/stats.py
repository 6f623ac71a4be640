"""A run's statistics from its spans: LLM calls and tokens by model, tool calls by tool, errors,
latency per operation, wall time, and an estimated cost from the ModelPrice table."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Min, Q, Sum

from .conventions import LLM_OPERATIONS, OPERATION_LABELS, STATUS_ERROR, TOOL_OPERATION
from .models import ModelPrice, Span

MILLION = Decimal(1_000_000)


@dataclass
class RunStats:
    spans: int = 0
    errors: int = 0
    wall_ns: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    models: list = field(default_factory=list)  # {model, calls, input_tokens, output_tokens, cost}
    tools: list = field(default_factory=list)  # {tool, calls, failures}
    latency: list = field(default_factory=list)  # {operation, label, count, p50_ns, p95_ns, max_ns}
    costs: list = field(default_factory=list)  # {currency, amount}: prices may be in several
    unpriced: list = field(default_factory=list)  # models with tokens but no price

    @property
    def total_tokens(self):
        return self.input_tokens + self.output_tokens

    @property
    def tool_calls(self):
        return sum(tool["calls"] for tool in self.tools)

    @property
    def tool_failures(self):
        return sum(tool["failures"] for tool in self.tools)


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * fraction // 1))  # ceil(n * fraction), at least 1
    return sorted_values[int(rank) - 1]


def price_for(model, prices):
    """The price whose model is the longest prefix of `model` (exact names match first)."""
    best = None
    for price in prices:
        if model.startswith(price.model) and (best is None or len(price.model) > len(best.model)):
            best = price
    return best


def run_stats(run_id):
    spans = Span.objects.filter(run_id=run_id)
    totals = spans.aggregate(
        count=Count("pk"),
        errors=Count("pk", filter=Q(status_code=STATUS_ERROR)),
        start=Min("start_time_ns"),
        end=Max("end_time_ns"),
    )
    stats = RunStats(spans=totals["count"], errors=totals["errors"])
    if not stats.spans:
        return stats
    stats.wall_ns = max(0, totals["end"] - totals["start"])

    prices = list(ModelPrice.objects.all())
    costs = {}
    for row in (
        spans.filter(operation__in=LLM_OPERATIONS)
        .values("model")
        .annotate(calls=Count("pk"), tokens_in=Sum("input_tokens"), tokens_out=Sum("output_tokens"))
        .order_by("-calls", "model")
    ):
        tokens_in, tokens_out = row["tokens_in"] or 0, row["tokens_out"] or 0
        entry = {
            "model": row["model"] or "(unknown model)",
            "calls": row["calls"],
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
            "cost": None,
        }
        price = price_for(row["model"], prices) if row["model"] else None
        if price is not None:
            entry["cost"] = (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / MILLION
            entry["currency"] = price.currency
            costs[price.currency] = costs.get(price.currency, Decimal(0)) + entry["cost"]
        elif tokens_in or tokens_out:
            stats.unpriced.append(entry["model"])
        stats.models.append(entry)
        stats.llm_calls += row["calls"]
        stats.input_tokens += tokens_in
        stats.output_tokens += tokens_out
    stats.costs = [{"currency": currency, "amount": amount} for currency, amount in sorted(costs.items())]

    stats.tools = [
        {"tool": row["tool_name"] or "(unnamed tool)", "calls": row["calls"], "failures": row["failures"]}
        for row in spans.filter(operation=TOOL_OPERATION)
        .values("tool_name")
        .annotate(calls=Count("pk"), failures=Count("pk", filter=Q(status_code=STATUS_ERROR)))
        .order_by("-calls", "tool_name")
    ]

    durations = {}
    for operation, start, end in spans.values_list("operation", "start_time_ns", "end_time_ns"):
        durations.setdefault(operation, []).append(max(0, end - start))
    for operation, values in sorted(durations.items(), key=lambda item: -len(item[1])):
        values.sort()
        stats.latency.append(
            {
                "operation": operation or "(other)",
                "label": OPERATION_LABELS.get(operation, operation or "other"),
                "count": len(values),
                "p50_ns": percentile(values, 0.5),
                "p95_ns": percentile(values, 0.95),
                "max_ns": values[-1],
            }
        )
    return stats
