"""OTLP/HTTP trace export requests: bytes in, plain spans out; and plain spans out as OTLP/JSON
again (`encode_json`, a run's spans as a download). No database here.

The specification (opentelemetry.io/docs/specs/otlp/#otlphttp) allows two encodings, protobuf
and JSON; JSON differs from protobuf's own JSON mapping in that trace and span ids are hex, not
base64. Either may be gzip- or deflate-compressed. A request is decoded whole or not at all (400);
a span that cannot be stored (a malformed id, a time past 2262) is rejected on its own and
reported back in `partial_success`, so one bad span never costs the exporter its whole batch.
"""

import base64
import json
import math
import re
import zlib
from dataclasses import dataclass, field

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from studio import storable
from studio.rejected import Rejected

PROTOBUF = "protobuf"
JSON = "json"
CONTENT_TYPES = {
    "application/x-protobuf": PROTOBUF,
    "application/protobuf": PROTOBUF,
    "application/json": JSON,
}
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"
JSON_CONTENT_TYPE = "application/json"

# The database stores times in a signed 64-bit column; OTLP's fixed64 could go past it.
MAX_TIME_NS = 2**63 - 1
# How many rejection reasons partial_success spells out; the count covers them all.
MAX_REASONS = 5

# google.rpc.Code values for the Status body of an error answer.
_RPC_CODES = {400: 3, 401: 16, 413: 8, 415: 3}  # google.rpc.Code: UNAUTHENTICATED is 16


@dataclass
class Decoded:
    format: str
    spans: list = field(default_factory=list)
    rejected: list = field(default_factory=list)  # one reason per rejected span


def body_format(content_type):
    """PROTOBUF or JSON from a Content-Type header (parameters ignored), else 415."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise Rejected(
            f"Content-Type must be application/x-protobuf or application/json, not {media_type or 'missing'!r}", 415
        )
    return CONTENT_TYPES[media_type]


def decompress(body, content_encoding, max_bytes):
    """The body without its Content-Encoding, never more than max_bytes (413 past that)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS, max_bytes, members=True)
    if encoding == "deflate":
        # HTTP's "deflate" is the zlib format, but some senders send a raw deflate stream.
        try:
            return _inflate(body, zlib.MAX_WBITS, max_bytes)
        except Rejected as exc:
            if exc.status != 400:
                raise
            return _inflate(body, -zlib.MAX_WBITS, max_bytes)
    raise Rejected(f"Content-Encoding must be gzip, deflate or identity, not {encoding!r}", 415)


def _inflate(data, wbits, max_bytes, members=False):
    out = bytearray()
    rest = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits)
            out += inflater.decompress(rest, max_bytes + 1 - len(out))
            if len(out) > max_bytes or inflater.unconsumed_tail:
                raise Rejected(f"The decompressed body is larger than {max_bytes} bytes", 413)
            if not inflater.eof:
                raise Rejected("The compressed body is truncated", 400)
            rest = inflater.unused_data
            # gzip allows several members one after the other; zero padding after them is harmless.
            if not members or not rest.strip(b"\0"):
                break
    except zlib.error as exc:
        raise Rejected(f"The body is not valid compressed data: {exc}", 400) from None
    return bytes(out)


def parse(data, fmt):
    """An ExportTraceServiceRequest from undecorated bytes, or 400."""
    request = ExportTraceServiceRequest()
    if fmt == PROTOBUF:
        try:
            request.ParseFromString(data)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise Rejected(f"The body is not a protobuf ExportTraceServiceRequest: {exc}", 400) from None
        return request
    try:
        document = storable.loads(data)
    except (ValueError, RecursionError) as exc:
        raise Rejected(f"The body is not valid JSON: {exc}", 400) from None
    if not isinstance(document, dict):
        raise Rejected("The body must be a JSON object (an ExportTraceServiceRequest)", 400)
    _hex_ids_to_base64(document)
    try:
        # Receivers must ignore fields they do not know (the spec's forward compatibility rule).
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    # SystemError: upb's field lookup with a name that is not UTF-8 (a lone surrogate in JSON).
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError, SystemError) as exc:
        raise Rejected(f"The body is not an OTLP/JSON ExportTraceServiceRequest: {exc}", 400) from None
    return request


_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{16}){1,2}")


def _hex_ids_to_base64(document):
    """OTLP/JSON ids are hex; protobuf's JSON parser expects base64. Ids already in base64 (as
    protobuf's own JSON mapping writes them) stay as they are: hex ids are 16 or 32 characters,
    base64 ones 12 or 24, so the two cannot be confused."""

    def convert(holder, key):
        value = holder.get(key)
        if isinstance(value, str) and _HEX_ID.fullmatch(value):
            holder[key] = base64.b64encode(bytes.fromhex(value)).decode()

    for resource_spans in _dicts(document.get("resourceSpans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            for span in _dicts(scope_spans.get("spans")):
                for key in ("traceId", "spanId", "parentSpanId"):
                    convert(span, key)
                for link in _dicts(span.get("links")):
                    convert(link, "traceId")
                    convert(link, "spanId")


def _dicts(value):
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def decode(body, content_type, content_encoding, max_bytes):
    """Check, decompress and decode a request body into plain spans (see `spans_of`)."""
    fmt = body_format(content_type)
    if len(body) > max_bytes:
        raise Rejected(f"The body is larger than {max_bytes} bytes", 413)
    request = parse(decompress(body, content_encoding, max_bytes), fmt)
    spans, rejected = spans_of(request)
    return Decoded(fmt, spans, rejected)


def spans_of(request):
    """Every span of the request as a dict of plain values, and the reasons for those rejected.

    A span: trace_id, span_id, parent_span_id (lowercase hex, "" for a root), trace_state,
    flags, name, kind (the OTLP SpanKind number), start_time_ns and end_time_ns (ints, exact),
    status_code (0 unset, 1 ok, 2 error), status_message, attributes (a dict whose values keep
    their types: str, bool, int, float, list, dict), events, links, dropped counts, resource
    (its attributes) and scope (name, version, attributes).
    """
    spans, rejected = [], []
    for resource_spans in request.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = {"name": _clean(scope_spans.scope.name), "version": _clean(scope_spans.scope.version)}
            if scope_spans.scope.attributes:
                scope["attributes"] = attributes_dict(scope_spans.scope.attributes)
            for span in scope_spans.spans:
                decoded = _span_dict(span, resource, scope)
                if isinstance(decoded, str):
                    rejected.append(f"span {span.name[:80]!r}: {decoded}")
                else:
                    spans.append(decoded)
    return spans, rejected


def _span_dict(span, resource, scope):
    """The span as a dict of plain values, or why it cannot be stored (a str).

    Each field is read from the message once: every read of a protobuf field makes a new
    Python object, and this runs for every span of every batch.
    """
    trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
    start, end, kind, status = span.start_time_unix_nano, span.end_time_unix_nano, span.kind, span.status
    status_code = status.code
    if len(trace_id) != 16 or trace_id == _ZEROS_16:
        return "trace_id must be 16 bytes, not all zero"
    if len(span_id) != 8 or span_id == _ZEROS_8:
        return "span_id must be 8 bytes, not all zero"
    if len(parent_id) not in (0, 8):
        return "parent_span_id must be empty or 8 bytes"
    if start > MAX_TIME_NS or end > MAX_TIME_NS:
        return "start or end time is out of range"
    # Protobuf keeps enum numbers it does not know; the spec has these.
    if not 0 <= kind <= 5:
        return f"kind {kind} is not a SpanKind (0-5)"
    if not 0 <= status_code <= 2:
        return f"status.code {status_code} is not a StatusCode (0-2)"
    dropped_attributes, dropped_events, dropped_links = (
        span.dropped_attributes_count,
        span.dropped_events_count,
        span.dropped_links_count,
    )
    events, links = span.events, span.links
    return {
        "trace_id": trace_id.hex(),
        "span_id": span_id.hex(),
        # Some senders write eight zero bytes for "no parent".
        "parent_span_id": "" if parent_id == _ZEROS_8 else parent_id.hex(),
        "trace_state": _clean(span.trace_state),
        "flags": span.flags,
        "name": _clean(span.name),
        "kind": kind,
        "start_time_ns": start,
        "end_time_ns": end,
        "status_code": status_code,
        "status_message": _clean(status.message),
        "attributes": attributes_dict(span.attributes),
        "events": [_event_dict(event) for event in events] if events else [],
        "links": [_link_dict(link) for link in links] if links else [],
        "dropped": {
            name: count
            for name, count in (
                ("attributes", dropped_attributes),
                ("events", dropped_events),
                ("links", dropped_links),
            )
            if count
        }
        if dropped_attributes or dropped_events or dropped_links
        else {},
        "resource": resource,
        "scope": scope,
    }


_ZEROS_16, _ZEROS_8 = bytes(16), bytes(8)


def _event_dict(event):
    return {
        "name": _clean(event.name),
        "time_ns": event.time_unix_nano,
        "attributes": attributes_dict(event.attributes),
        **({"dropped_attributes_count": event.dropped_attributes_count} if event.dropped_attributes_count else {}),
    }


def _link_dict(link):
    return {
        "trace_id": link.trace_id.hex(),
        "span_id": link.span_id.hex(),
        "trace_state": _clean(link.trace_state),
        "attributes": attributes_dict(link.attributes),
        **({"flags": link.flags} if link.flags else {}),
    }


def attributes_dict(key_values):
    """OTLP KeyValue list to a dict; a repeated key keeps its last value.

    The hot loop of ingestion (ten attributes a span): strings and ints, nearly all of them,
    are taken inline; the other kinds go through `any_value`.
    """
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            text = value.string_value
            converted = text.replace("\0", "\ufffd") if "\0" in text else text
        elif kind == "int_value":
            converted = value.int_value
        else:
            converted = any_value(value, kind)
        key = kv.key
        out[key.replace("\0", "\ufffd") if "\0" in key else key] = converted
    return out


def _clean(text):
    # studio/storable.py's rule for protobuf strings, whose UTF-8 protobuf has checked already:
    # PostgreSQL refuses NUL in text and in JSON strings. (attributes_dict has this inline.)
    return text.replace("\0", "\ufffd") if "\0" in text else text


def any_value(value, kind=None):
    kind = kind or value.WhichOneof("value")
    if kind == "string_value":
        return _clean(value.string_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        # JSON (and so the database's JSON columns) has no NaN or infinity: keep them as text.
        return number if math.isfinite(number) else str(number)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        # As OTLP/JSON writes bytes.
        return base64.b64encode(value.bytes_value).decode()
    return None


def success_body(fmt, rejected):
    """An ExportTraceServiceResponse in the request's format, with partial_success if needed."""
    response = ExportTraceServiceResponse()
    if rejected:
        reasons = "; ".join(rejected[:MAX_REASONS])
        more = len(rejected) - MAX_REASONS
        if more > 0:
            reasons += f"; and {more} more"
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=len(rejected), error_message=reasons)
        )
    if fmt == PROTOBUF:
        return response.SerializeToString(), PROTOBUF_CONTENT_TYPE
    return json_format.MessageToJson(response, indent=None).encode(), JSON_CONTENT_TYPE


def error_body(fmt, status, message):
    """A google.rpc.Status, as the spec asks of 4xx answers, in the request's format."""
    code = _RPC_CODES.get(status, 2)
    if fmt == PROTOBUF:
        text = message.encode()
        # Status is {int32 code = 1; string message = 2}: two fields, written by hand rather
        # than depending on googleapis-common-protos for them.
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text, PROTOBUF_CONTENT_TYPE
    return json.dumps({"code": code, "message": message}).encode(), JSON_CONTENT_TYPE


def _varint(number):
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# ---- the other way: plain spans (as `spans_of` gives and the database stores them) out as OTLP/JSON ----


def encode_json(spans):
    """An ExportTraceServiceRequest in OTLP/JSON (a dict) holding these plain spans: one
    resourceSpans per resource, one scopeSpans per scope, ids in hex, times as strings of
    nanoseconds, enums as numbers, as the specification writes it. `parse(…, JSON)` and
    `spans_of` read it back to the same spans."""
    request = ExportTraceServiceRequest()
    groups = {}
    for span in spans:
        resource_key = json.dumps(span["resource"], sort_keys=True, default=str)
        scope_key = json.dumps(span["scope"], sort_keys=True, default=str)
        if resource_key not in groups:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.extend(_key_values(span["resource"]))
            groups[resource_key] = (resource_spans, {})
        resource_spans, scopes = groups[resource_key]
        if scope_key not in scopes:
            scope_spans = resource_spans.scope_spans.add()
            scope = span["scope"] or {}
            scope_spans.scope.name = scope.get("name", "")
            scope_spans.scope.version = scope.get("version", "")
            scope_spans.scope.attributes.extend(_key_values(scope.get("attributes") or {}))
            scopes[scope_key] = scope_spans
        _fill_span(scopes[scope_key].spans.add(), span)
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    _base64_ids_to_hex(document)
    return document


def _fill_span(out, span):
    out.trace_id = bytes.fromhex(span["trace_id"])
    out.span_id = bytes.fromhex(span["span_id"])
    if span["parent_span_id"]:
        out.parent_span_id = bytes.fromhex(span["parent_span_id"])
    out.trace_state = span.get("trace_state") or ""
    out.flags = span.get("flags") or 0
    out.name = span["name"]
    out.kind = span["kind"]
    out.start_time_unix_nano = span["start_time_ns"]
    out.end_time_unix_nano = span["end_time_ns"]
    out.status.code = span["status_code"]
    out.status.message = span.get("status_message") or ""
    out.attributes.extend(_key_values(span["attributes"]))
    for event in span.get("events") or []:
        added = out.events.add(name=event.get("name", ""), time_unix_nano=event.get("time_ns", 0))
        added.attributes.extend(_key_values(event.get("attributes") or {}))
        added.dropped_attributes_count = event.get("dropped_attributes_count", 0)
    for link in span.get("links") or []:
        added = out.links.add(
            trace_id=bytes.fromhex(link["trace_id"]),
            span_id=bytes.fromhex(link["span_id"]),
            trace_state=link.get("trace_state", ""),
            flags=link.get("flags", 0),
        )
        added.attributes.extend(_key_values(link.get("attributes") or {}))
    dropped = span.get("dropped") or {}
    out.dropped_attributes_count = dropped.get("attributes", 0)
    out.dropped_events_count = dropped.get("events", 0)
    out.dropped_links_count = dropped.get("links", 0)


def _key_values(attributes):
    return [KeyValue(key=key, value=_any_value(value)) for key, value in attributes.items()]


_INT64 = (-(2**63), 2**63 - 1)


def _any_value(value):
    """A stored attribute value as an AnyValue: the inverse of `any_value` (bytes were stored as
    their base64 text, and come back as that string)."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_any_value(item) for item in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=_key_values(value)))
    if value is None:
        return AnyValue()
    return AnyValue(string_value=str(value))


def _base64_ids_to_hex(document):
    """protobuf's JSON mapping writes bytes as base64; OTLP/JSON writes trace and span ids in hex."""

    def convert(holder, key):
        if key in holder:
            holder[key] = base64.b64decode(holder[key]).hex()

    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    convert(span, key)
                for link in span.get("links", []):
                    convert(link, "traceId")
                    convert(link, "spanId")
