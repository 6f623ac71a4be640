"""A program with no agentscope at all: the OpenTelemetry SDK's own OTLP/HTTP exporter.

usage: plain_otel.py SERVICE_NAME
One trace: a server span "GET /checkout" with two children (a database query, a failed payment
call with an exception event).
"""

import os
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": sys.argv[1]}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["STUDIO_URL"] + "/v1/traces")))
tracer = provider.get_tracer("shop")

with tracer.start_as_current_span("GET /checkout", kind=trace.SpanKind.SERVER) as root:
    root.set_attribute("http.route", "/checkout")
    root.set_attribute("retry.enabled", True)
    root.set_attribute("cart.items", [3, 5, 8])
    with tracer.start_as_current_span("SELECT cart", kind=trace.SpanKind.CLIENT) as query:
        query.set_attribute("db.rows", 3)
        query.set_attribute("db.load", 0.25)
    try:
        with tracer.start_as_current_span("charge card", kind=trace.SpanKind.CLIENT):
            raise RuntimeError("card declined")
    except RuntimeError:
        pass
provider.force_flush()
provider.shutdown()
