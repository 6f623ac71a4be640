"""The filters of a project's traces page, read from the query string."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef

from .models import Span

# "Last hour" and friends; "" is all time.
RANGES = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
STATUSES = ("ok", "error")


@dataclass
class TraceFilters:
    range: str = ""
    status: str = ""
    model: str = ""
    name: str = ""

    @classmethod
    def from_request(cls, request):
        get = request.GET.get
        return cls(
            range=get("range", "") if get("range", "") in RANGES else "",
            status=get("status", "") if get("status", "") in STATUSES else "",
            model=get("model", "").strip()[:255],
            name=get("name", "").strip()[:255],
        )

    @property
    def active(self):
        return any((self.range, self.status, self.model, self.name))

    def apply(self, traces, now=None):
        if self.range:
            since = (now or datetime.now(UTC)) - RANGES[self.range]
            traces = traces.filter(end_time_ns__gte=int(since.timestamp() * 1e9))
        if self.status == "error":
            traces = traces.filter(error_count__gt=0)
        elif self.status == "ok":
            traces = traces.filter(error_count=0)
        if self.name:
            traces = traces.filter(name__icontains=self.name)
        if self.model:
            traces = traces.filter(Exists(Span.objects.filter(trace_id=OuterRef("trace_id"), model=self.model)))
        return traces

    def querystring(self):
        return urlencode({key: value for key, value in vars(self).items() if value})
