"""What the AgentScope Java client (agentscope-java 2.x) sends: stored as sent, checked like the rest.

The bodies come from tests/captures/agentscope-java-2.0-shaped.jsonl, built from the Java
source (its README says from which files): upper-case roles, a `usage` object, `metadata` and
`state` on blocks, and the 2.0 content model's `hint` and `data` blocks.
"""

import json
from pathlib import Path

import pytest

from runs.models import Message, Reply, Run
from tests.factories import assert_error, call, msg, push_body, register

pytestmark = pytest.mark.django_db

CAPTURE = Path(__file__).parents[1] / "captures" / "agentscope-java-2.0-shaped.jsonl"
PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}


def java_calls():
    records = [json.loads(line) for line in CAPTURE.read_text().splitlines() if line.strip()]
    return [r for r in records if r["kind"] == "http"]


def replay(client):
    calls = java_calls()
    for record in calls:
        response = call(client, record["path"].rsplit("/", 1)[1], record["body"])
        assert response.status_code == 200, (record["path"], response.content)
        assert response.json() == {"result": {}}
    return calls


def pushed(calls):
    return [r["body"] for r in calls if r["path"].endswith("/pushMessage")]


def push_blocks(client, blocks):
    register(client, "run-1")
    return call(client, "pushMessage", push_body(msg("m1", blocks, role="ASSISTANT")))


def test_a_java_session_is_stored_block_for_block_with_its_extra_keys(client):
    calls = replay(client)
    run = Run.objects.get(pk=calls[0]["body"]["id"])
    assert run.project.name == "JavaProject"
    for body in pushed(calls):
        stored = Message.objects.get(run=run, msg_id=body["msg"]["id"])
        assert stored.content == body["msg"]["content"]
        assert stored.metadata == body["msg"]["metadata"]
        assert stored.role == body["msg"]["role"]
    thinking = Message.objects.get(run=run, msg_id="c0ffee0000000000000000000000a001").content[0]
    assert thinking == {"type": "thinking", "thinking": thinking["thinking"], "metadata": None}


def test_each_java_message_is_a_reply_of_its_own_with_the_lower_case_reply_role(client):
    calls = replay(client)
    replies = Reply.objects.filter(run_id=calls[0]["body"]["id"]).order_by("pk")
    assert [(r.reply_id, r.role) for r in replies] == [(b["replyId"], b["role"]) for b in pushed(calls)]
    assert {m.role for m in Message.objects.all()} == {"USER", "ASSISTANT", "TOOL", "SYSTEM"}


VALID = {
    "a Java hint": [{"type": "hint", "id": "h1", "hint": "From the docs: ...", "source": "rag"}],
    "a Java hint without source or id": [{"type": "hint", "id": None, "hint": "Be brief.", "source": None}],
    "a Python 2.x hint of text and data blocks": [
        {
            "type": "hint",
            "id": "h2",
            "hint": [
                {"type": "text", "text": "The background task finished:", "id": "t1", "created_at": "x"},
                {"type": "data", "id": "d1", "source": {**PNG}, "name": "plot.png"},
            ],
            "source": "background",
            "created_at": "2026-12-02 18:50:01.000",
            "finished_at": None,
        }
    ],
    "a data block from base64": [{"type": "data", "id": "d1", "source": PNG, "name": "cat.png"}],
    "a data block from a URL with Java's mime_type": [
        {"type": "data", "id": "d2", "source": {"type": "url", "url": "https://x.test/v", "mime_type": "video/mp4"}}
    ],
    "a data block from a URL with Python's media_type": [
        {"type": "data", "source": {"type": "url", "url": "https://x.test/a.wav", "media_type": "audio/wav"}}
    ],
    "a data block with a javascript: URL (stored; shown as text)": [
        {"type": "data", "source": {"type": "url", "url": "javascript:alert(1)"}, "name": "x"}
    ],
    "a data block in a tool result": [
        {"type": "tool_result", "id": "c", "name": "t", "output": [{"type": "data", "source": PNG}], "state": "success"}
    ],
    "Java tool_use with content, metadata and state": [
        {"type": "tool_use", "id": "c", "name": "t", "input": {}, "content": None, "metadata": {}, "state": "pending"}
    ],
}


@pytest.mark.parametrize("blocks", VALID.values(), ids=VALID.keys())
def test_java_and_python_2_blocks_are_stored_exactly_as_sent(client, blocks):
    response = push_blocks(client, blocks)
    assert response.status_code == 200, response.content
    assert Message.objects.get(msg_id="m1").content == blocks


INVALID = {
    "a hint without its hint": ([{"type": "hint", "source": "rag"}], "msg.content[0]", "'hint' is a required"),
    "a hint that is a number": ([{"type": "hint", "hint": 42}], "msg.content[0].hint", "is not of type"),
    "a hint whose source is an object": (
        [{"type": "hint", "hint": "x", "source": {"from": "rag"}}],
        "msg.content[0].source",
        "is not of type",
    ),
    "a hint holding a broken data block": (
        [{"type": "hint", "hint": [{"type": "text", "text": "ok"}, {"type": "data", "source": {"type": "url"}}]}],
        "msg.content[0].hint[1].source",
        "source must be",
    ),
    "a hint holding a block without a type": (
        [{"type": "hint", "hint": [{"text": "no type"}]}],
        "msg.content[0].hint[0].type",
        "needs a string 'type'",
    ),
    "a data block without a source": ([{"type": "data", "name": "x.png"}], "msg.content[0]", "'source'"),
    "a data block with base64 but no media type": (
        [{"type": "data", "source": {"type": "base64", "data": "AAAA"}}],
        "msg.content[0].source",
        "source must be",
    ),
    "a data block whose name is a number": (
        [{"type": "data", "source": PNG, "name": 7}],
        "msg.content[0].name",
        "is not of type",
    ),
}


@pytest.mark.parametrize(("blocks", "field", "says"), INVALID.values(), ids=INVALID.keys())
def test_malformed_hint_and_data_blocks_are_refused_naming_the_field(client, blocks, field, says):
    response = push_blocks(client, blocks)
    assert_error(response, 400, "pushMessage", field=field, says=says)
    assert not Message.objects.exists()


def test_a_messages_usage_is_stored_as_sent_and_in_its_full_json(client):
    calls = replay(client)
    [with_usage, *_] = [b["msg"] for b in pushed(calls) if b["msg"]["usage"]]
    stored = Message.objects.get(msg_id=with_usage["id"])
    assert (
        stored.usage
        == with_usage["usage"]
        == {
            "inputTokens": 1234,
            "outputTokens": 56,
            "cachedTokens": 1000,
            "totalTokens": 1290,
            "time": 1.734,
        }
    )
    assert Message.objects.get(msg_id=pushed(calls)[0]["msg"]["id"]).usage is None
    body = client.get(f"/runs/{stored.run_id}/messages/{stored.pk}/json").json()
    assert body["usage"] == with_usage["usage"]


def test_a_streaming_resend_replaces_the_usage_and_an_odd_usage_is_dropped_not_refused(client):
    register(client, "run-1")
    call(client, "pushMessage", push_body(msg("m1", "Hel", usage={"inputTokens": 1, "outputTokens": 1})))
    call(client, "pushMessage", push_body(msg("m1", "Hello", usage={"inputTokens": 1, "outputTokens": 2})))
    assert Message.objects.get(msg_id="m1").usage == {"inputTokens": 1, "outputTokens": 2}
    response = call(client, "pushMessage", push_body(msg("m2", "x", usage=[1, 2])))
    assert response.status_code == 200
    assert Message.objects.get(msg_id="m2").usage is None
