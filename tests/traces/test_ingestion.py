"""POST /v1/traces as an exporter sees it, and where the stored spans end up."""

import gzip
import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from projects.models import Project
from runs.models import Run
from tests.factories import register, replay_trpc
from tests.support.captures import CAPTURES, capture_spans
from traces.models import Span, Trace

from .bodies import fresh_ids, json_body, protobuf_body, with_run_id

pytestmark = pytest.mark.django_db
PROTOBUF = "application/x-protobuf"


def post(client, body, content_type=PROTOBUF, **headers):
    return client.post("/v1/traces", data=body, content_type=content_type, headers=headers)


def agentscope_spans(run_id, salt=None, capture="agentscope-1.0.21.jsonl", attribute="gen_ai.conversation.id"):
    return with_run_id(fresh_ids(capture_spans(capture), salt or run_id), run_id, attribute)


def test_protobuf_spans_are_stored_and_answered_with_an_empty_protobuf_response(client):
    run = register(client, "run-pb")
    response = post(client, protobuf_body(agentscope_spans("run-pb")))
    assert response.status_code == 200 and response["Content-Type"] == PROTOBUF
    assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
    assert Span.objects.filter(run=run).count() == 8


def test_json_spans_are_answered_in_json(client):
    register(client, "run-json")
    response = post(client, json_body(agentscope_spans("run-json")), "application/json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert Span.objects.filter(run_id="run-json").count() == 8


def test_gzip_bodies_are_taken(client):
    register(client, "run-gz")
    response = post(client, gzip.compress(protobuf_body(agentscope_spans("run-gz"))), CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert Span.objects.filter(run_id="run-gz").count() == 8


def test_a_batch_sent_twice_is_stored_once(client):
    register(client, "run-twice")
    body = protobuf_body(agentscope_spans("run-twice"))
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200
    assert Span.objects.filter(run_id="run-twice").count() == 8
    assert Trace.objects.filter(run_id="run-twice").count() == 3
    agent_trace = Trace.objects.get(run_id="run-twice", name="invoke_agent Friday")
    assert agent_trace.span_count == 6 and agent_trace.input_tokens == 246 and agent_trace.output_tokens == 90


def test_storing_counts_only_the_spans_that_were_new(client):
    from traces import ingest, otlp

    register(client, "run-count")
    spans = otlp.decode(protobuf_body(agentscope_spans("run-count")), PROTOBUF, None, 1 << 20).spans
    assert ingest.store(spans[:5]) == 5
    assert ingest.store(spans) == 3  # the first five are already there
    assert ingest.store(spans) == 0
    assert Span.objects.filter(run_id="run-count").count() == 8


def test_a_batch_larger_than_one_insert_statement_is_stored_whole_and_counted_once(client):
    from traces import ingest, otlp

    register(client, "run-big")
    # 25 agent runs' worth of spans (200): several INSERT statements of ROWS_PER_INSERT rows.
    spans = [span for copy in range(25) for span in agentscope_spans("run-big", salt=f"big-{copy}")]
    assert len(spans) > 2 * ingest.ROWS_PER_INSERT
    decoded = otlp.decode(protobuf_body(spans), PROTOBUF, None, 1 << 22).spans
    assert ingest.store(decoded[:100]) == 100
    # Old and new spans mixed, across statement boundaries: only the new ones count.
    assert ingest.store(decoded[50:]) == 100
    stored = Span.objects.filter(run_id="run-big")
    assert stored.count() == 200
    assert sorted(stored.values_list("span_id", flat=True)) == sorted(span["span_id"] for span in decoded)
    assert sum(trace.span_count for trace in Trace.objects.filter(run_id="run-big")) == 200
    last = decoded[-1]
    row = stored.get(span_id=last["span_id"])
    assert (row.name, row.start_time_ns, row.attributes) == (last["name"], last["start_time_ns"], last["attributes"])


def test_the_stored_span_keeps_exact_nanoseconds_types_and_the_facts_the_tree_needs(client):
    register(client, "run-exact")
    sent = agentscope_spans("run-exact")
    post(client, protobuf_body(sent))
    chat_sent = next(span for span in sent if span["name"].startswith("chat"))
    chat = Span.objects.get(span_id=chat_sent["spanId"])
    assert chat.start_time_ns == int(chat_sent["start"]) and chat.end_time_ns == int(chat_sent["end"])
    assert chat.attributes == chat_sent["attributes"]
    assert chat.operation == "chat" and chat.model == "fake-model-1"
    assert (chat.input_tokens, chat.output_tokens) == (123, 45)
    agent = Span.objects.get(run_id="run-exact", operation="invoke_agent")
    assert agent.agent_name == "Friday" and agent.message_id == "L8K82y8EKAGQxKbsM2smMy"
    tool = Span.objects.get(run_id="run-exact", operation="execute_tool")
    assert tool.tool_name == "get_weather"


def test_spans_that_arrive_before_their_run_are_linked_when_it_registers(client):
    post(client, protobuf_body(agentscope_spans("run-late")))
    assert Span.objects.filter(run__isnull=True, run_key="run-late").count() == 8
    run = register(client, "run-late", project="LateProject")
    assert Span.objects.filter(run=run).count() == 8
    assert set(Span.objects.filter(run=run).values_list("project__name", flat=True)) == {"LateProject"}
    assert Trace.objects.filter(run=run).count() == 3


def test_functions_traced_without_a_run_id_join_the_run_of_their_process(client):
    run = register(client, "run-process")
    post(client, protobuf_body(agentscope_spans("run-process")))
    generic = Span.objects.get(run=run, name="invoke_generic_function my_generic_function")
    assert "gen_ai.conversation.id" not in generic.attributes


def test_legacy_spans_of_agentscope_1_0_8_are_linked_by_project_run_id_and_understood(client):
    run = register(client, "run-legacy")
    spans = agentscope_spans("run-legacy", capture="agentscope-1.0.8.jsonl", attribute="project.run_id")
    assert post(client, protobuf_body(spans)).status_code == 200
    stored = Span.objects.filter(run=run)
    assert stored.count() == len(spans) == 8
    llm = stored.filter(operation="chat")
    assert llm.count() == 2 and set(llm.values_list("model", flat=True)) == {"fake-model-1"}
    assert stored.get(operation="execute_tool").tool_name == "get_weather"
    assert stored.get(operation="invoke_agent").message_id == "mmtjtcKNGKZXfNXKYcUyVt"


def test_spans_of_another_program_go_to_the_project_named_by_its_service(client):
    # Spans with no conversation: nothing to make a run of (issue 17 made runs of the others).
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "v2")
    for span in spans:
        span["attributes"].pop("gen_ai.conversation.id", None)
    assert post(client, protobuf_body(spans)).status_code == 200
    project = Project.objects.get(name="fake_run_v2")
    assert Span.objects.filter(project=project, run__isnull=True).count() == len(spans)
    assert not Span.objects.filter(project=project).exclude(run_key="").exists()
    assert Trace.objects.filter(project=project).count() >= 1


def test_a_genai_conversation_no_client_registered_is_a_run_of_its_service_s_project(client):
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "v2")
    assert post(client, protobuf_body(spans)).status_code == 200
    project = Project.objects.get(name="fake_run_v2")
    (run,) = Run.objects.filter(project=project)
    assert run.origin == Run.Origin.OTEL
    # Every span joined it; none waits for a run that might come later.
    assert Span.objects.filter(project=project, run=run).count() == len(spans)
    assert not Span.objects.filter(project=project).exclude(run_key="").exists()


@pytest.mark.parametrize(
    "body, content_type, headers, status",
    [
        (b"garbage\xff\xff", PROTOBUF, {}, 400),
        (b"{oops", "application/json", {}, 400),
        (b"{}", "text/plain", {}, 415),
        (b"x", PROTOBUF, {"CONTENT_ENCODING": "br"}, 415),
        (b"not gzip", PROTOBUF, {"CONTENT_ENCODING": "gzip"}, 400),
    ],
)
def test_bad_bodies_get_a_clear_error_and_store_nothing(client, body, content_type, headers, status):
    response = post(client, body, content_type, **headers)
    assert response.status_code == status
    if response["Content-Type"] == "application/json":
        assert response.json()["message"]
    else:
        assert len(response.content) > 2
    assert Span.objects.count() == 0


def test_an_oversized_body_gets_413_and_stores_nothing(client, settings):
    settings.OTLP_MAX_BODY_BYTES = 1000
    response = post(client, json_body(agentscope_spans("run-big")), "application/json")
    assert response.status_code == 413
    assert "1000" in response.json()["message"]
    assert Span.objects.count() == 0


def test_get_is_not_allowed(client):
    response = client.get("/v1/traces")
    assert response.status_code == 405 and response.json()["message"]


def test_one_bad_span_is_rejected_and_reported_while_the_others_are_stored(client):
    register(client, "run-partial")
    spans = agentscope_spans("run-partial")
    document = json.loads(json_body(spans))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "abcd"
    response = post(client, json.dumps(document).encode(), "application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert Span.objects.filter(run_id="run-partial").count() == 7


@pytest.mark.parametrize(
    "field, value", [("kind", -5), ("kind", 70000), ("status", {"code": -3}), ("status", {"code": 9})]
)
def test_a_span_with_an_unknown_kind_or_status_is_rejected_alone(client, field, value):
    register(client, "run-enums")
    spans = agentscope_spans("run-enums")
    document = json.loads(json_body(spans))
    document["resourceSpans"][0]["scopeSpans"][0]["spans"][0][field] = value
    response = post(client, json.dumps(document).encode(), "application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert field.split(".")[0] in response.json()["partialSuccess"]["errorMessage"]
    assert Span.objects.filter(run_id="run-enums").count() == 7


def test_the_captured_flow_replayed_links_its_spans_to_its_run(client):
    replay_trpc(client, "agentscope-1.0.21.jsonl")
    post(client, (CAPTURES / "otlp-agentscope-1.0.21-10spans.bin").read_bytes())
    post(client, protobuf_body(capture_spans("agentscope-1.0.21.jsonl")))
    run = Run.objects.get(pk="QCTgBrrn8hdahBwPGcXB8k")
    assert Span.objects.filter(run=run).count() == 8
