"""A GenAI conversation of several turns, each an invoke_agent span: one reply a turn, in order,
the repeated history shown once, also when a rebuild reads only the latest calls."""

import json

import pytest

from runs import from_spans
from runs.models import Message, Reply, Run

from .bodies import protobuf_body

pytestmark = pytest.mark.django_db
TRACE = "ab" * 16
SESSION = "session-turns"


def span(span_id, parent, start, operation, **attributes):
    return {
        "resource": {"service.name": "turns", "service.instance.id": "process-1"},
        "scope": {"name": "agentscope", "version": "2.0.11"},
        "name": operation,
        "kind": "SPAN_KIND_INTERNAL",
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "start": str(start),
        "end": str(start + 10),
        "status": {"code": "STATUS_CODE_OK"},
        "attributes": {"gen_ai.operation.name": operation, "gen_ai.conversation.id": SESSION, **attributes},
        "events": [],
    }


def said(role, text, name=None):
    return {"role": role, "name": name or role, "parts": [{"type": "text", "content": text}]}


def llm(span_id, parent, start, inputs, answer):
    return span(
        span_id,
        parent,
        start,
        "chat",
        **{
            "gen_ai.input.messages": json.dumps(inputs),
            "gen_ai.output.messages": json.dumps([said("assistant", answer, "Bob")]),
        },
    )


def turns():
    """Two turns of agent Bob: "hi" → "hello", then "hi" again → "hello again"."""
    system = said("system", "be kind")
    first = [system, said("user", "hi")]
    second = [*first, said("assistant", "hello", "Bob"), said("user", "hi")]
    return [
        span("00000000000000a1", "", 100, "invoke_agent", **{"gen_ai.agent.name": "Bob"}),
        llm("00000000000000c1", "00000000000000a1", 110, first, "hello"),
        span("00000000000000a2", "", 200, "invoke_agent", **{"gen_ai.agent.name": "Bob"}),
        llm("00000000000000c2", "00000000000000a2", 210, second, "hello again"),
    ]


def post(client, spans):
    response = client.post("/v1/traces", data=protobuf_body(spans), content_type="application/x-protobuf")
    assert response.status_code == 200


def chat():
    return [
        (reply.reply_id, [m.blocks[0]["text"] for m in reply.messages.order_by("pk")])
        for reply in Reply.objects.filter(run_id=SESSION).order_by("pk")
    ]


EXPECTED = [("00000000000000a1", ["hi", "hello"]), ("00000000000000a2", ["hi", "hello again"])]


def test_each_turn_is_a_reply_and_the_history_a_later_call_repeats_is_shown_once(client):
    post(client, turns())
    assert chat() == EXPECTED
    assert Run.objects.get(pk=SESSION).name == "Bob · session-"


def test_turns_arriving_in_separate_batches_and_again_give_the_same_chat(client):
    spans = turns()
    post(client, spans[:2])
    post(client, spans[2:])
    post(client, spans)
    assert chat() == EXPECTED
    assert Message.objects.filter(run_id=SESSION).count() == 4


def test_a_rebuild_reading_only_the_latest_call_keeps_the_earlier_messages_and_adds_none_twice(client, monkeypatch):
    spans = turns()
    post(client, spans[:2])
    monkeypatch.setattr(from_spans, "MAX_CALLS", 1)
    post(client, spans[2:])
    assert chat() == EXPECTED
