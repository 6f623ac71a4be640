"""GenAI spans → chat messages, on the spans a real agentscope 2.0.11 program exported: pure
functions, no database."""

import json

from runs.from_spans import block_of, chat_of, message_id
from tests.support.captures import capture_spans
from tests.traces.bodies import protobuf_body
from traces import conventions, otlp

CAPTURE = "agentscope-2.0.11-otlp-only.jsonl"
AGENT_SPAN = "116f254c59b2e631"


def captured_spans():
    """The capture's spans as traces.otlp decodes them, with the columns ingestion adds."""
    decoded = otlp.decode(protobuf_body(capture_spans(CAPTURE)), "application/x-protobuf", None, 10**8)
    return [{**span, **conventions.summary(span)} for span in decoded.spans]


def chat(spans):
    replies, messages = chat_of(spans)
    return replies, [(m["reply"], m["name"], m["role"], m["content"]) for m in messages]


PARIS = [
    (AGENT_SPAN, "user", "user", [{"type": "text", "text": "Weather in Paris?"}]),
    (
        AGENT_SPAN,
        "Friday2",
        "assistant",
        [
            {"type": "thinking", "thinking": "need the weather tool"},
            {"type": "tool_use", "id": "call_v2_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    ),
    (
        AGENT_SPAN,
        "get_weather",
        "tool",
        [
            {
                "type": "tool_result",
                "id": "call_v2_1",
                "name": "get_weather",
                "output": [{"type": "text", "text": "Paris: sunny, 25°C."}],
            }
        ],
    ),
    (AGENT_SPAN, "Friday2", "assistant", [{"type": "text", "text": "Paris is sunny."}]),
]


def test_the_captured_conversation_becomes_user_text_reasoning_tool_call_result_and_answer_once_each():
    replies, messages = chat(captured_spans())
    assert replies == {AGENT_SPAN: "Friday2"}
    assert messages == PARIS


def test_spans_in_any_order_give_the_same_chat():
    assert chat(captured_spans()[::-1]) == chat(captured_spans())


def test_before_the_agent_span_arrives_its_calls_are_grouped_under_its_id_and_named_after_the_agent():
    spans = [span for span in captured_spans() if span["operation"] != "invoke_agent"]
    assert chat(spans) == ({AGENT_SPAN: "Friday2"}, PARIS)


def test_without_the_tool_span_the_result_comes_from_the_next_calls_tool_call_response():
    spans = [span for span in captured_spans() if span["operation"] != "execute_tool"]
    _, messages = chat(spans)
    assert [m[3][0]["type"] for m in messages] == ["text", "thinking", "tool_result", "text"]
    result = messages[2][3][0]
    assert result["id"] == "call_v2_1" and result["name"] == "get_weather"
    assert result["output"][0] == {"type": "text", "text": "Paris: sunny, 25°C."}


def test_the_first_call_alone_shows_the_question_and_the_tool_call_and_keeps_their_ids():
    spans = captured_spans()
    first = min((s for s in spans if s["operation"] == "chat"), key=lambda s: s["start_time_ns"])
    _, alone = chat_of([first])
    _, whole = chat_of(spans)
    assert [m["key"] for m in alone] == [m["key"] for m in whole[:2]]
    assert message_id("c", alone[0]["key"]) == message_id("c", whole[0]["key"]) != message_id("d", whole[0]["key"])


def llm_span(span_id, start, inputs, outputs, parent="agent"):
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps(inputs),
        "gen_ai.output.messages": json.dumps(outputs),
    }
    return {
        "span_id": span_id,
        "parent_span_id": parent,
        "start_time_ns": start,
        "operation": "chat",
        "agent_name": "",
        "attributes": attributes,
    }


def said(role, text):
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def test_a_thing_said_again_later_is_shown_again_but_a_repeated_history_is_not():
    first = llm_span("a", 1, [said("user", "yes")], [said("assistant", "ok")])
    second = llm_span(
        "b", 2, [said("user", "yes"), said("assistant", "ok"), said("user", "yes")], [said("assistant", "done")]
    )
    _, messages = chat([first, second])
    assert [(m[2], m[3][0]["text"]) for m in messages] == [
        ("user", "yes"),
        ("assistant", "ok"),
        ("user", "yes"),
        ("assistant", "done"),
    ]


def test_system_prompts_are_left_to_the_span_and_only_the_latest_calls_may_be_read():
    first = llm_span("a", 1, [said("system", "be brief"), said("user", "hi")], [said("assistant", "hello")])
    second = llm_span("b", 2, [said("user", "hi"), said("assistant", "hello"), said("user", "bye")], [])
    _, messages = chat([first])
    assert [m[3][0]["text"] for m in messages] == ["hi", "hello"]
    _, later = chat_of([first, second], history_stored=True)
    assert [m["content"][0]["text"] for m in later] == ["bye"]  # the first call is stored already


def test_media_parts_become_image_audio_and_video_blocks():
    assert block_of({"type": "blob", "modality": "image", "media_type": "image/png", "content": "iVBO"}, {}) == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
    }
    assert block_of({"type": "blob", "media_type": "audio/wav", "content": "UklG"}, {})["type"] == "audio"
    assert block_of({"type": "uri", "modality": "video", "uri": "https://example.com/v.mp4"}, {}) == {
        "type": "video",
        "source": {"type": "url", "url": "https://example.com/v.mp4"},
    }


def test_parts_studio_does_not_know_are_kept_as_json_under_a_name_of_their_own():
    assert block_of({"type": "file", "file_id": "f1"}, {}) == {
        "type": "genai.file",
        "part": {"type": "file", "file_id": "f1"},
    }
    assert block_of({"type": "tool_call", "id": "c", "name": "t", "arguments": "[1]"}, {})["input"] == {
        "arguments": [1]
    }
