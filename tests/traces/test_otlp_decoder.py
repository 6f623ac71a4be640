"""traces.otlp turns OTLP/HTTP bodies into plain spans, with no database: captured real bodies,
spec JSON, gzip and deflate, and every way a body can be wrong."""

import gzip
import json
import zlib

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from studio.rejected import Rejected
from tests.support.captures import CAPTURES, capture_spans
from traces import otlp

from .bodies import json_body, protobuf_body

LIMIT = 1_000_000
PROTOBUF = "application/x-protobuf"


def decode(body, content_type=PROTOBUF, encoding=None, limit=LIMIT):
    return otlp.decode(body, content_type, encoding, limit)


def by_id(spans):
    return {span["span_id"]: span for span in spans}


def test_the_captured_protobuf_body_of_agentscope_1_0_21_decodes_to_its_six_spans():
    decoded = decode((CAPTURES / "otlp-agentscope-1.0.21-10spans.bin").read_bytes())
    assert decoded.format == otlp.PROTOBUF and decoded.rejected == []
    names = [span["name"] for span in decoded.spans]
    assert names == [
        "format dashscope",
        "chat fake-model-1",
        "execute_tool add",
        "format dashscope",
        "chat fake-model-1",
        "invoke_agent Friday",
    ]
    agent = decoded.spans[-1]
    assert agent["parent_span_id"] == "" and len(agent["trace_id"]) == 32 and len(agent["span_id"]) == 16
    assert {span["trace_id"] for span in decoded.spans} == {agent["trace_id"]}
    assert all(span["parent_span_id"] == agent["span_id"] for span in decoded.spans[:-1])
    chat = decoded.spans[1]
    # Integers stay integers, the JSON-encoded run id stays a string as sent.
    assert isinstance(chat["attributes"]["gen_ai.usage.input_tokens"], int)
    assert chat["attributes"]["gen_ai.conversation.id"] == '"BJZmkte8VZ6HrUbgJaPria"'
    assert chat["resource"]["service.name"] == "unknown_service:python"
    assert chat["scope"] == {"name": "agentscope", "version": "1.0.21"}
    assert isinstance(chat["start_time_ns"], int) and chat["end_time_ns"] >= chat["start_time_ns"]


@pytest.mark.parametrize(
    "capture", ["agentscope-1.0.21.jsonl", "agentscope-1.0.8.jsonl", "agentscope-2.0.11-otlp-only.jsonl"]
)
def test_captured_spans_decode_exactly_from_protobuf_and_from_spec_json(capture):
    expected = capture_spans(capture)
    from_protobuf = decode(protobuf_body(expected)).spans
    from_json = decode(json_body(expected), "application/json").spans
    assert from_protobuf == from_json
    assert len(from_protobuf) == len(expected)
    for span, sent in zip(from_protobuf, expected, strict=True):
        assert span["trace_id"] == sent["traceId"] and span["span_id"] == sent["spanId"]
        assert span["parent_span_id"] == (sent["parentSpanId"] or "")
        # Exact nanoseconds: no float rounding on the way.
        assert span["start_time_ns"] == int(sent["start"]) and span["end_time_ns"] == int(sent["end"])
        assert span["attributes"] == sent["attributes"]
        assert (
            span["status_code"]
            == {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}[sent["status"]["code"]]
        )
        assert [event["name"] for event in span["events"]] == [event["name"] for event in sent["events"]]


def test_the_failing_function_keeps_its_exception_event_with_the_stack_trace():
    spans = decode(protobuf_body(capture_spans("agentscope-1.0.21.jsonl"))).spans
    failing = next(span for span in spans if span["name"].endswith("failing_function"))
    assert failing["status_code"] == 2 and "boom" in failing["status_message"]
    event = failing["events"][0]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"
    assert "Traceback (most recent call last)" in event["attributes"]["exception.stacktrace"]


def spec_json_document():
    """A hand-written OTLP/JSON request as the specification's example writes one."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "my.library", "version": "1.0.0"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "I'm a server span",
                                "startTimeUnixNano": "1544712660000000001",
                                "endTimeUnixNano": "1544712661000000009",
                                "kind": 2,
                                "attributes": [
                                    {"key": "my.span.attr", "value": {"stringValue": "some value"}},
                                    {"key": "retries", "value": {"intValue": "9007199254740993"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                    {"key": "cached", "value": {"boolValue": True}},
                                    {
                                        "key": "tags",
                                        "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}},
                                    },
                                    {
                                        "key": "nested",
                                        "value": {
                                            "kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}
                                        },
                                    },
                                ],
                                "events": [
                                    {
                                        "timeUnixNano": "1544712660500000000",
                                        "name": "cache miss",
                                        "attributes": [{"key": "key", "value": {"stringValue": "user:1"}}],
                                    }
                                ],
                                "links": [
                                    {"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175"}
                                ],
                                "status": {"code": 2, "message": "it broke"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ],
    }


def test_spec_json_with_hex_ids_and_string_nanoseconds_keeps_every_value_and_type():
    decoded = decode(json.dumps(spec_json_document()).encode(), "application/json; charset=utf-8")
    (span,) = decoded.spans
    assert decoded.format == otlp.JSON
    assert span["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert span["span_id"] == "eee19b7ec3c1b174" and span["parent_span_id"] == "eee19b7ec3c1b173"
    assert span["start_time_ns"] == 1544712660000000001 and span["end_time_ns"] == 1544712661000000009
    assert span["kind"] == 2 and span["status_code"] == 2 and span["status_message"] == "it broke"
    assert span["attributes"] == {
        "my.span.attr": "some value",
        "retries": 9007199254740993,
        "ratio": 0.5,
        "cached": True,
        "tags": ["a", 2],
        "nested": {"k": False},
    }
    assert span["events"] == [{"name": "cache miss", "time_ns": 1544712660500000000, "attributes": {"key": "user:1"}}]
    assert span["links"][0]["trace_id"] == "5b8efff798038103d269b633813fc60d"
    assert span["resource"] == {"service.name": "my.service"}


@pytest.mark.parametrize(
    "compress, encoding",
    [
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (lambda data: zlib.compress(data)[2:-4], "deflate"),  # a raw deflate stream, as some senders send
    ],
)
def test_compressed_bodies_decode_like_plain_ones(compress, encoding):
    body = protobuf_body(capture_spans("agentscope-1.0.21.jsonl"))
    assert decode(compress(body), encoding=encoding).spans == decode(body).spans


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", "", None])
def test_other_content_types_are_refused_with_415(content_type):
    with pytest.raises(Rejected) as error:
        decode(b"{}", content_type)
    assert error.value.status == 415


def test_an_unknown_content_encoding_is_refused_with_415():
    with pytest.raises(Rejected) as error:
        decode(b"x", encoding="br")
    assert error.value.status == 415


@pytest.mark.parametrize(
    "body, content_type, encoding",
    [
        (b"\xff\xff\xff garbage", PROTOBUF, None),
        (b"{not json", "application/json", None),
        (b"[1, 2]", "application/json", None),
        (b'{"resourceSpans": "nope"}', "application/json", None),
        (b"not gzip at all", PROTOBUF, "gzip"),
        (gzip.compress(b"x" * 1000)[:20], PROTOBUF, "gzip"),
    ],
)
def test_undecodable_bodies_are_refused_with_400(body, content_type, encoding):
    with pytest.raises(Rejected) as error:
        decode(body, content_type, encoding)
    assert error.value.status == 400


def test_a_body_over_the_limit_is_refused_with_413_also_when_it_only_grows_on_decompression():
    body = protobuf_body(capture_spans("agentscope-1.0.21.jsonl"))
    with pytest.raises(Rejected) as error:
        decode(body, limit=len(body) - 1)
    assert error.value.status == 413
    bomb = gzip.compress(b"\0" * (LIMIT * 20))
    assert len(bomb) < LIMIT
    with pytest.raises(Rejected) as error:
        decode(bomb, encoding="gzip")
    assert error.value.status == 413


def test_a_bad_span_is_rejected_alone_and_reported():
    document = spec_json_document()
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "00000000000000000000", "name": "bad id"})
    spans.append({**spans[0], "spanId": "eee19b7ec3c1b199", "name": "good too"})
    decoded = decode(json.dumps(document).encode(), "application/json")
    assert [span["name"] for span in decoded.spans] == ["I'm a server span", "good too"]
    assert len(decoded.rejected) == 1 and "bad id" in decoded.rejected[0]
    body, content_type = otlp.success_body(otlp.PROTOBUF, decoded.rejected)
    response = ExportTraceServiceResponse.FromString(body)
    assert content_type == PROTOBUF
    assert response.partial_success.rejected_spans == 1 and "span_id" in response.partial_success.error_message


def test_the_success_answer_is_an_empty_response_in_the_request_format():
    body, content_type = otlp.success_body(otlp.JSON, [])
    assert content_type == "application/json" and json.loads(body) == {}
    body, content_type = otlp.success_body(otlp.PROTOBUF, [])
    assert content_type == PROTOBUF and ExportTraceServiceResponse.FromString(body) == ExportTraceServiceResponse()
    assert json_format.MessageToDict(ExportTraceServiceResponse.FromString(body)) == {}


def test_values_json_cannot_hold_are_kept_readable():
    document = spec_json_document()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "nul", "value": {"stringValue": "a\u0000b"}},
        {"key": "k\u0000ey", "value": {"intValue": "7"}},
    ]
    (decoded,) = decode(json.dumps(document).encode(), "application/json").spans
    assert decoded["attributes"] == {"nan": "nan", "nul": "a\ufffdb", "k\ufffdey": 7}
