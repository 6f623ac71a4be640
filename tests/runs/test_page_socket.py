"""The run page's WebSocket as a script sees it (docs/WEBSOCKET.md), over a real connection."""

import json
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.factories import served_question, served_run
from tests.support.waiting import query

pytestmark = pytest.mark.e2e


def run_socket(studio, run_id, origin=True):
    headers = {"Origin": studio.url} if origin else {}
    return connect(
        f"{studio.url.replace('http', 'ws', 1)}/ws/runs/{run_id}/", additional_headers=headers, open_timeout=10
    )


def new_run(studio):
    return served_run(studio, "SocketProject", name="socket", pid=1)


def new_run_asking(studio):
    run_id = new_run(studio)
    return run_id, served_question(studio, run_id)


def next_reply(socket):
    """The next frame that is not a live HTML update."""
    while True:
        frame = json.loads(socket.recv(timeout=10))
        if frame["type"] != "html":
            return frame


def test_frames_that_are_not_answers_get_an_error_and_the_socket_stays_open(studio):
    run_id, request_id = new_run_asking(studio)
    with run_socket(studio, run_id) as socket:
        socket.send(b"\x00\x01binary")
        assert next_reply(socket) == {"type": "error", "message": "Send JSON text frames, not binary ones"}
        socket.send("{not json")
        assert next_reply(socket) == {"type": "error", "message": "The frame is not valid JSON"}
        socket.send("[" * 50_000 + "]" * 50_000)
        assert next_reply(socket)["type"] == "error"
        socket.send(json.dumps({"type": "hello"}))
        assert next_reply(socket) == {"type": "error", "message": "Unknown message type"}
        socket.send(json.dumps({"type": "answer", "requestId": "nope", "blocks": []}))
        rejected = next_reply(socket)
        assert rejected["type"] == "answer.rejected" and "no input request 'nope'" in rejected["message"]

        socket.send(json.dumps({"type": "answer", "requestId": request_id, "blocks": [{"type": "text", "text": "hi"}]}))
        assert next_reply(socket) == {"type": "answer.accepted", "requestId": request_id}
    [stored] = query(studio, "SELECT status, answer_blocks FROM runs_inputrequest WHERE request_id = ?", request_id)
    assert stored["status"] in ("answered", "delivered")
    assert json.loads(stored["answer_blocks"]) == [{"type": "text", "text": "hi"}]


def test_a_socket_without_the_studios_origin_is_refused(studio):
    run_id, _ = new_run_asking(studio)
    with pytest.raises(InvalidStatus) as refused:
        run_socket(studio, run_id, origin=False)
    assert refused.value.response.status_code == 403


def test_a_structured_answer_may_come_without_blocks(studio):
    run_id = new_run(studio)
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    request_id = served_question(studio, run_id, schema=schema)
    with run_socket(studio, run_id) as socket:
        socket.send(json.dumps({"type": "answer", "requestId": request_id, "structured": {"ok": True}}))
        assert next_reply(socket) == {"type": "answer.accepted", "requestId": request_id}


def html_frames(socket, seconds):
    """The live HTML updates the page gets in the next `seconds`."""
    frames, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        if frame["type"] == "html":
            frames.append(frame["html"])
    return frames


def test_a_change_of_its_run_reaches_the_page_once(studio):
    """The page is in its run's group and in its project's (for the run list): a run event comes
    through both, and is rendered once."""
    run_id = new_run(studio)
    with run_socket(studio, run_id) as socket:
        served_question(studio, run_id)
        frames = html_frames(socket, 2.0)  # the details panel follows within its 1 s delay
    headers = [html for html in frames if 'id="run-header"' in html]
    assert len(headers) == 1, frames
    assert "Waiting" in headers[0]
    assert any("alice" in html and "asks for your input" in html for html in frames)


def test_a_streamed_message_brings_its_reply_bubble_once_and_every_new_content(studio):
    run_id = new_run(studio)
    frames, text = [], ""
    with run_socket(studio, run_id) as socket:
        for word in ("It", "is", "sunny", "in", "Paris"):
            text = f"{text} {word}".strip()
            msg = {
                "id": "msg-1",
                "name": "Friday",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "metadata": {},
                "timestamp": "",
            }
            studio.post(
                "pushMessage",
                {"runId": run_id, "replyId": "reply-1", "replyName": "Friday", "replyRole": "assistant", "msg": msg},
            )
            # Each re-send reaches the page before the next is pushed.
            while not any(f"<p>{text}</p>" in html for html in frames):
                frames.append(json.loads(socket.recv(timeout=10))["html"])
        frames += html_frames(socket, 0.5)
    bubbles = [html for html in frames if 'class="reply-head"' in html]
    assert len(bubbles) == 1, frames
    assert "Friday" in bubbles[0] and "<p>It</p>" in bubbles[0]
    assert "<p>It is sunny in Paris</p>" in frames[-1]
