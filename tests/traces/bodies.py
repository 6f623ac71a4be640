"""OTLP request bodies for tests, built with opentelemetry-proto's own classes (never with the
decoder under test), from capture-style span dicts (tests/support/captures.py)."""

import base64
import hashlib
import json

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def any_value(value):
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, (list, tuple)):
        result = AnyValue()
        result.array_value.values.extend(any_value(item) for item in value)
        return result
    if isinstance(value, dict):
        result = AnyValue()
        result.kvlist_value.values.extend(key_values(value))
        return result
    return AnyValue(string_value=str(value))


def key_values(mapping):
    return [KeyValue(key=key, value=any_value(value)) for key, value in mapping.items()]


STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
KIND = {"SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}


def request_of(spans):
    """An ExportTraceServiceRequest holding capture-style span dicts, grouped by resource and scope."""
    request = ExportTraceServiceRequest()
    groups = {}
    for span in spans:
        key = (json.dumps(span["resource"], sort_keys=True), json.dumps(span["scope"], sort_keys=True))
        if key not in groups:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.extend(key_values(span["resource"]))
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = span["scope"].get("name", "")
            scope_spans.scope.version = span["scope"].get("version", "")
            groups[key] = scope_spans
        groups[key].spans.append(span_message(span))
    return request


def span_message(span):
    message = Span(
        trace_id=bytes.fromhex(span["traceId"]),
        span_id=bytes.fromhex(span["spanId"]),
        parent_span_id=bytes.fromhex(span["parentSpanId"] or ""),
        name=span["name"],
        kind=KIND.get(span.get("kind"), 1),
        start_time_unix_nano=int(span["start"]),
        end_time_unix_nano=int(span["end"]),
        flags=span.get("flags", 0),
        status=Status(code=STATUS[span["status"]["code"]], message=span["status"].get("message", "")),
    )
    message.attributes.extend(key_values(span["attributes"]))
    for event in span.get("events", []):
        added = message.events.add(name=event["name"], time_unix_nano=int(event.get("time", span["end"])))
        added.attributes.extend(key_values(event.get("attributes", {})))
    return message


def protobuf_body(spans):
    return request_of(spans).SerializeToString()


def json_body(spans):
    """The OTLP/JSON the specification describes: camelCase keys, hex ids, int64 as strings."""
    document = json_format.MessageToDict(request_of(spans))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def fresh_ids(spans, salt):
    """The same spans under new trace and span ids (so a test's spans never meet another's)."""

    def remap(hex_id):
        if not hex_id:
            return hex_id
        return hashlib.sha256(f"{salt}:{hex_id}".encode()).hexdigest()[: len(hex_id)]

    return [
        {
            **span,
            "traceId": remap(span["traceId"]),
            "spanId": remap(span["spanId"]),
            "parentSpanId": remap(span["parentSpanId"]),
        }
        for span in spans
    ]


def with_run_id(spans, run_id, attribute="gen_ai.conversation.id"):
    """The spans, those that named a run now naming `run_id` (JSON-encoded, as agentscope does)."""
    return [
        {**span, "attributes": {**span["attributes"], attribute: json.dumps(run_id)}}
        if attribute in span["attributes"]
        else span
        for span in spans
    ]
