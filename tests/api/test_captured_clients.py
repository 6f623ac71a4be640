"""Replaying what real agentscope clients sent (tests/captures/, recorded against a stub server).

Each capture line is one JSON object; "kind": "http" lines hold a request's path, body and the
status the stub answered. Their /trpc bodies are posted here in order, and what is stored must
be what the capture says happened: one reply per replyId, streamed messages once, final content.
"""

import pytest

from runs.models import InputRequest, Message, Reply, Run
from tests.factories import replay_trpc

pytestmark = pytest.mark.django_db


def expected_replies(calls):
    """{reply key: (name, role, {msg id: last content}, msg ids in first-seen order)} from the capture."""
    replies = {}
    for record in calls:
        body = record["body"]
        if not record["path"].endswith("/pushMessage"):
            continue
        msg = body["msg"]
        key = body.get("replyId") or msg["id"]
        name = body.get("replyName") or body.get("name") or msg["name"]
        role = body.get("replyRole") or body.get("role") or msg["role"]
        reply = replies.setdefault(key, {"name": name, "role": role, "content": {}, "order": []})
        if msg["id"] not in reply["content"]:
            reply["order"].append(msg["id"])
        reply["content"][msg["id"]] = (msg["content"], msg["metadata"])
    return replies


@pytest.mark.parametrize(
    "capture", ["agentscope-1.0.21-stream.jsonl", "agentscope-1.0.21.jsonl", "agentscope-1.0.8.jsonl"]
)
def test_a_captured_session_is_stored_as_the_client_meant_it(client, capture):
    calls = replay_trpc(client, capture)
    [registered] = [r["body"] for r in calls if r["path"].endswith("/registerRun")]
    run = Run.objects.get(pk=registered["id"])
    assert (run.project.name, run.name, run.pid) == (registered["project"], registered["name"], registered["pid"])
    assert run.client_timestamp == registered["timestamp"]
    # Both questions were asked; nobody answered them here.
    asked = [r["body"] for r in calls if r["path"].endswith("/requestUserInput")]
    stored = {q.request_id: q for q in InputRequest.objects.filter(run=run)}
    assert set(stored) == {q["requestId"] for q in asked}
    for question in asked:
        assert stored[question["requestId"]].structured_input == question["structuredInput"]
    assert run.status == Run.Status.WAITING

    expected = expected_replies(calls)
    replies = {r.reply_id: r for r in Reply.objects.filter(run=run)}
    assert set(replies) == set(expected)
    pushed_ids = {r["body"]["msg"]["id"] for r in calls if r["path"].endswith("/pushMessage")}
    assert Message.objects.filter(run=run).count() == len(pushed_ids)
    for key, want in expected.items():
        reply = replies[key]
        assert (reply.name, reply.role) == (want["name"], want["role"])
        messages = list(reply.messages.order_by("id"))
        assert [m.msg_id for m in messages] == want["order"]
        assert {m.msg_id: (m.content, m.metadata) for m in messages} == want["content"]


@pytest.mark.parametrize("capture", ["agentscope-1.0.21-stream.jsonl", "agentscope-1.0.8.jsonl"])
def test_the_streamed_react_reply_is_one_reply_with_its_final_text_and_no_duplicates(client, capture):
    calls = replay_trpc(client, capture)
    pushes = [r["body"] for r in calls if r["path"].endswith("/pushMessage")]
    assert len(pushes) == 15  # 8 messages, the streamed ones re-sent chunk by chunk
    friday = Reply.objects.get(name="Friday")
    texts = [(m.name, m.content) for m in friday.messages.order_by("id")]
    assert texts == [
        (
            "Friday",
            [
                {"type": "thinking", "thinking": "I should call the weather tool."},
                {"type": "text", "text": "Let me check the weather."},
                {
                    "type": "tool_use",
                    "id": "call_0001",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                    "raw_input": '{"city": "Paris"}',
                },
            ],
        ),
        (
            "system",
            [
                {
                    "type": "tool_result",
                    "id": "call_0001",
                    "name": "get_weather",
                    "output": [{"type": "text", "text": "Paris: sunny, 25°C"}],
                }
            ],
        ),
        ("Friday", [{"type": "text", "text": "It is sunny in Paris, 25°C."}]),
    ]
    assert Reply.objects.count() == 4 and Message.objects.count() == 8
    assert [r.name for r in Reply.objects.order_by("id")] == ["user", "Friday", "Scripted", "user"]


def test_the_legacy_1_0_8_session_keeps_null_metadata_and_its_broken_timestamp(client):
    replay_trpc(client, "agentscope-1.0.8.jsonl")
    run = Run.objects.get()
    assert run.client_timestamp == "184945_PHsB"
    assert (
        Message.objects.get(run=run, content=[{"type": "text", "text": "It is sunny in Paris, 25°C."}]).metadata is None
    )
    structured = Message.objects.filter(run=run, name="user").order_by("id").last()
    assert structured.metadata == {"confirm": True, "count": 3}


def test_replaying_a_session_twice_changes_nothing(client):
    replay_trpc(client, "agentscope-1.0.21-stream.jsonl")
    before = list(Message.objects.order_by("id").values_list("msg_id", "content"))
    replay_trpc(client, "agentscope-1.0.21-stream.jsonl")
    assert list(Message.objects.order_by("id").values_list("msg_id", "content")) == before
    assert Reply.objects.count() == 4 and InputRequest.objects.count() == 2 and Run.objects.count() == 1
