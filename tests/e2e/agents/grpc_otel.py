"""The OpenTelemetry SDK's official OTLP/gRPC exporter, gzip-compressed, sending one trace twice.

usage: grpc_otel.py ENDPOINT SERVICE_NAME     (ENDPOINT: http://127.0.0.1:PORT)
One trace: "plan" with two children ("search", and "book" which fails). The same batch is
exported a second time, as an exporter retrying after a lost answer does. Prints the export
results.
"""

import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import Compression, OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

endpoint, service = sys.argv[1], sys.argv[2]
memory = InMemorySpanExporter()
provider = TracerProvider(resource=Resource.create({"service.name": service}))
provider.add_span_processor(SimpleSpanProcessor(memory))
tracer = provider.get_tracer("travel")

with tracer.start_as_current_span("plan") as root:
    root.set_attribute("trip.days", 3)
    with tracer.start_as_current_span("search", kind=trace.SpanKind.CLIENT) as search:
        search.set_attribute("results", ["a", "b"])
    try:
        with tracer.start_as_current_span("book", kind=trace.SpanKind.CLIENT):
            raise RuntimeError("sold out")
    except RuntimeError:
        pass

spans = memory.get_finished_spans()
exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, compression=Compression.Gzip, timeout=20)
print(exporter.export(spans).name, exporter.export(spans).name)
exporter.shutdown()
