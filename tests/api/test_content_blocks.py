"""The content blocks of a pushed message: every kind agentscope sends, kept exactly as sent."""

import base64

import pytest

from runs.models import Message
from tests.factories import assert_error, call, msg, push_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run")]

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()
BASE64 = {"type": "base64", "media_type": "image/png", "data": PNG}
URL = {"type": "url", "url": "https://example.com/cat.png"}


def push_blocks(client, blocks):
    return call(client, "pushMessage", push_body(msg("m1", blocks)))


def stored_content():
    return Message.objects.get(run_id="run-1", msg_id="m1").content


VALID = {
    "text": [{"type": "text", "text": "Hello **world**"}],
    "thinking": [{"type": "thinking", "thinking": "Let me think."}],
    "image from base64": [{"type": "image", "source": BASE64}],
    "image from url": [{"type": "image", "source": URL}],
    "audio from base64": [
        {"type": "audio", "source": {"type": "base64", "media_type": "audio/wav", "data": "UklGRg=="}}
    ],
    "audio from url": [{"type": "audio", "source": {"type": "url", "url": "https://example.com/a.wav"}}],
    "video from base64": [{"type": "video", "source": {"type": "base64", "media_type": "video/mp4", "data": "AAAA"}}],
    "video from url": [{"type": "video", "source": {"type": "url", "url": "file:///tmp/v.mp4"}}],
    "tool_use with raw_input": [
        {
            "type": "tool_use",
            "id": "call_0001",
            "name": "get_weather",
            "input": {"city": "Paris"},
            "raw_input": '{"city": "Paris"}',
        }
    ],
    "tool_use with empty input": [{"type": "tool_use", "id": "c", "name": "now", "input": {}}],
    "tool_result with string output": [{"type": "tool_result", "id": "c", "name": "now", "output": "12:00"}],
    "tool_result with block output": [
        {
            "type": "tool_result",
            "id": "call_0001",
            "name": "get_weather",
            "output": [{"type": "text", "text": "Paris: sunny, 25°C"}, {"type": "image", "source": URL}],
        }
    ],
    "tool_result with empty output": [{"type": "tool_result", "id": "c", "name": "noop", "output": []}],
    "2.x tool_call and tool_result with their states": [
        {"type": "tool_call", "id": "c1", "name": "get_weather", "input": '{"city": "Par', "state": "pending"},
        {"type": "tool_result", "id": "c1", "name": "get_weather", "output": "sunny", "state": "success"},
    ],
    "an unknown block type": [{"type": "hologram", "frames": [1, 2, 3]}],
    "an unknown block in a tool result": [
        {"type": "tool_result", "id": "c", "name": "x", "output": [{"type": "hologram"}]}
    ],
    "extra keys on known blocks": [
        {"type": "text", "text": "hi", "citations": [{"url": "u"}]},
        {"type": "image", "source": {**URL, "detail": "high"}, "alt": "a cat"},
    ],
    "all kinds in one message": [
        {"type": "thinking", "thinking": "I should call the weather tool."},
        {"type": "text", "text": "Let me check the weather."},
        {"type": "tool_use", "id": "call_0001", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "image", "source": BASE64},
    ],
    "no blocks": [],
}


@pytest.mark.parametrize("blocks", VALID.values(), ids=VALID.keys())
def test_valid_blocks_are_stored_exactly_as_sent(client, blocks):
    response = push_blocks(client, blocks)
    assert response.status_code == 200, response.content
    assert response.json() == {"result": {}}
    assert stored_content() == blocks


def test_a_megabyte_of_inline_base64_media_is_accepted(client):
    data = base64.b64encode(b"\x00" * 3_000_000).decode()
    blocks = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}]
    response = push_blocks(client, blocks)
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert stored_content()[0]["source"]["data"] == data


INVALID = {
    "a block that is not an object": (["text"], "msg.content[0]", "must be an object"),
    "a block without type": ([{"text": "hi"}], "msg.content[0].type", "string 'type'"),
    "a block with a number as type": ([{"type": 1}], "msg.content[0].type", "string 'type'"),
    "text without text": ([{"type": "text"}], "msg.content[0]", "'text' is a required property"),
    "text that is not a string": ([{"type": "text", "text": 5}], "msg.content[0].text", "is not of type 'string'"),
    "thinking without thinking": ([{"type": "thinking", "text": "x"}], "msg.content[0]", "'thinking'"),
    "image without source": ([{"type": "image", "url": "x"}], "msg.content[0]", "'source'"),
    "image with an unknown source type": (
        [{"type": "image", "source": {"type": "ftp", "url": "x"}}],
        "msg.content[0].source",
        "base64",
    ),
    "base64 without data": (
        [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}],
        "msg.content[0].source",
        "base64",
    ),
    "url without url": ([{"type": "audio", "source": {"type": "url"}}], "msg.content[0].source", "url"),
    "a source that is a string": ([{"type": "video", "source": "https://x"}], "msg.content[0].source", None),
    "tool_use without id": ([{"type": "tool_use", "name": "f", "input": {}}], "msg.content[0]", "'id'"),
    "tool_use with string input": (
        [{"type": "tool_use", "id": "c", "name": "f", "input": "{}"}],
        "msg.content[0].input",
        "'object'",
    ),
    "tool_call without name": ([{"type": "tool_call", "id": "c", "input": "{}"}], "msg.content[0]", "'name'"),
    "tool_call with a number as input": (
        [{"type": "tool_call", "id": "c", "name": "f", "input": 3}],
        "msg.content[0].input",
        None,
    ),
    "tool_result without output": ([{"type": "tool_result", "id": "c", "name": "f"}], "msg.content[0]", "'output'"),
    "tool_result with a number as output": (
        [{"type": "tool_result", "id": "c", "name": "f", "output": 3}],
        "msg.content[0].output",
        None,
    ),
    "a bad block inside a tool result": (
        [{"type": "tool_result", "id": "c", "name": "f", "output": [{"type": "text", "text": "ok"}, {"type": "text"}]}],
        "msg.content[0].output[1]",
        "'text'",
    ),
    "the second block bad": ([{"type": "text", "text": "ok"}, {"type": "thinking"}], "msg.content[1]", "'thinking'"),
}


@pytest.mark.parametrize("blocks, field, says", INVALID.values(), ids=INVALID.keys())
def test_a_malformed_known_block_is_a_400_naming_its_path(client, blocks, field, says):
    response = push_blocks(client, blocks)
    assert_error(response, 400, "pushMessage", field, says=says)
    assert response.json()["error"]["message"].startswith(field + ":")
    assert not Message.objects.exists()
