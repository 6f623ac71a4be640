"""One rule for text no database or page can hold (studio/storable.py), the same on every surface:
a lone surrogate or a NUL is stored as U+FFFD, and every page of the run still renders."""

import json

import pytest
from django.db import connection
from django.urls import reverse

from runs.models import InputRequest, Message, Reply, Run
from studio import storable
from tests.factories import call, input_body, msg, push_body, register
from tests.support.backends import sqlite_only, through_async_views
from tests.support.captures import capture_spans
from tests.support.pages import assert_run_pages_render
from tests.traces.bodies import fresh_ids, json_body, protobuf_body, with_run_id
from traces.models import Span

pytestmark = pytest.mark.django_db

LONE = "x\ud800y"
NUL = "x\x00y"
CLEAN = "x\ufffdy"


def test_storable_replaces_lone_surrogates_and_nul_in_strings_and_keys():
    value = {"a\udc00": [LONE, NUL, 1, None, {"k": "\U0001f600"}]}
    assert storable.storable(value) == {"a\ufffd": [CLEAN, CLEAN, 1, None, {"k": "\U0001f600"}]}


def test_loads_keeps_json_as_it_is_when_nothing_needs_replacing():
    text = json.dumps({"a": ["ok", 1.5, 2**70, "\U0001f600"]}, ensure_ascii=False)
    assert storable.loads(text.encode()) == {"a": ["ok", 1.5, 2**70, "\U0001f600"]}
    assert storable.loads(json.dumps("\U0001f600")) == "\U0001f600"  # an escaped pair is one character


@pytest.mark.parametrize("text", [b"NaN", b'{"a": Infinity}', b"\xff{}", b"{"])
def test_loads_refuses_what_is_not_strict_json(text):
    with pytest.raises(ValueError):
        storable.loads(text)


HOSTILE_CONTENT = [
    {"type": "text", "text": LONE},
    {"type": "thinking", "thinking": NUL},
    {"type": "tool_use", "id": "t1", "name": "f\ud800", "input": {"q\udfff": LONE}},
    {"type": "tool_result", "id": "t1", "name": "f", "output": [{"type": "text", "text": "\udc00"}]},
]


def test_a_pushed_message_with_lone_surrogates_and_nul_everywhere_is_stored_replaced_and_its_pages_render(client):
    register(client, "run-1")
    body = push_body(msg("m1", HOSTILE_CONTENT, name=NUL, metadata={"k\ud800": LONE}), replyName=LONE)
    response = call(client, "pushMessage", json.dumps(body))
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert message.name == CLEAN and Reply.objects.get().name == CLEAN
    assert message.content[0]["text"] == CLEAN and message.content[1]["thinking"] == CLEAN
    assert message.content[2]["input"] == {"q\ufffd": CLEAN}
    assert message.content[3]["output"][0]["text"] == "\ufffd"
    assert message.metadata == {"k\ufffd": CLEAN}
    assert_run_pages_render(client, "run-1")
    page = client.get(reverse("run", args=["Project", "run-1"])).content.decode()
    assert CLEAN in page


@sqlite_only  # PostgreSQL's jsonb never took a lone surrogate
def test_a_message_stored_with_a_lone_surrogate_before_the_rule_still_renders(client):
    register(client, "run-1")
    assert call(client, "pushMessage", json.dumps(push_body(msg("m1", "fine")))).status_code == 200
    # As the previous version stored it: JSON text with the surrogate escaped.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE runs_message SET content = %s, metadata = %s",
            ['[{"type": "text", "text": "x\\ud800y"}]', '{"a": "\\udfff"}'],
        )
    message = Message.objects.get()
    assert message.content == [{"type": "text", "text": CLEAN}] and message.metadata == {"a": "\ufffd"}
    assert_run_pages_render(client, "run-1")


def test_register_run_and_a_request_for_input_store_replaced_text(client):
    assert call(client, "registerRun", {"id": "run-1", "project": "Project", "name": LONE, "pid": 1}).status_code == 200
    schema = {"title": LONE, "type": "object", "properties": {"a\ud800": {"type": "string", "description": NUL}}}
    response = call(client, "requestUserInput", json.dumps({**input_body("q-1", schema=schema), "agentName": LONE}))
    assert response.status_code == 200, response.content
    assert Run.objects.get().name == CLEAN
    request = InputRequest.objects.get()
    assert request.agent_name == CLEAN
    assert request.structured_input == {
        "title": CLEAN,
        "type": "object",
        "properties": {"a\ufffd": {"type": "string", "description": CLEAN}},
    }
    assert_run_pages_render(client, "run-1")


@through_async_views
def test_an_answer_over_http_with_a_lone_surrogate_is_stored_replaced(client):
    register(client, "run-1")
    assert call(client, "requestUserInput", input_body("q-1")).status_code == 200
    body = json.dumps({"blocks": [{"type": "text", "text": LONE}]})
    response = client.post(reverse("input-answer", args=["run-1", "q-1"]), body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert InputRequest.objects.get().answer_blocks == [{"type": "text", "text": CLEAN}]
    assert_run_pages_render(client, "run-1")


def traced_spans(run_id):
    spans = with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), run_id), run_id)
    spans[0] = {**spans[0], "name": "MARK-NAME", "attributes": {**spans[0]["attributes"], "MARK-KEY": "MARK-VALUE"}}
    return spans


def test_otlp_json_with_lone_surrogates_is_stored_replaced_and_the_run_renders(client):
    register(client, "run-1")
    body = json_body(traced_spans("run-1"))
    for mark, hostile in [(b"MARK-NAME", b"n\\ud800"), (b"MARK-KEY", b"k\\udc00"), (b"MARK-VALUE", b"x\\ud800y")]:
        body = body.replace(mark, hostile)
    response = client.post("/v1/traces", body, content_type="application/json")
    assert response.status_code == 200, response.content
    span = Span.objects.get(run_id="run-1", name="n\ufffd")
    assert span.attributes["k\ufffd"] == CLEAN
    assert_run_pages_render(client, "run-1")


def test_otlp_protobuf_with_nul_is_stored_replaced_and_the_run_renders(client):
    register(client, "run-1")
    spans = traced_spans("run-1")
    spans[0] = {**spans[0], "name": NUL, "attributes": {**spans[0]["attributes"], "MARK-KEY": NUL}}
    response = client.post("/v1/traces", protobuf_body(spans), content_type="application/x-protobuf")
    assert response.status_code == 200, response.content
    span = Span.objects.get(run_id="run-1", name=CLEAN)
    assert span.attributes["MARK-KEY"] == CLEAN
    assert_run_pages_render(client, "run-1")


# Where protobuf's JSON parser looks up a field name, a lone surrogate raised SystemError; now it
# is a U+FFFD, a name the parser ignores like any it does not know.
@pytest.mark.parametrize("body", [b'{"resourceSpans": [{"\\ud800": 1}]}', b'{"resourceSpans": ["\\ud800x"]}'])
def test_an_unknown_otlp_json_key_holding_a_lone_surrogate_is_ignored_as_any_unknown_key(client, body):
    response = client.post("/v1/traces", body, content_type="application/json")
    assert response.status_code == 200 and not Span.objects.exists()
