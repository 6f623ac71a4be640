"""One answer-size limit (STUDIO_MAX_ANSWER_BYTES), the same on every server: the page checks it
before sending, the page socket and the HTTP endpoint refuse past it in words (413), and the
server's frame limit lets every answer under it through."""

import base64
import json

import pytest
import requests
from websockets.sync.client import connect

from tests.factories import served_question, served_run
from tests.support.browser import screenshot
from tests.support.server import StudioServer
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["runserver", "daphne", "uvicorn"])
def server(request, tmp_path_factory):
    """`manage.py runserver` (uvicorn; daphne with --server daphne) and the README's team command."""
    studio = StudioServer(tmp_path_factory.mktemp(f"size-{request.param}"), server=request.param).start()
    yield studio
    studio.stop()


def asking_run(studio, project="SizeProject"):
    run_id = served_run(studio, project, name="size", pid=1)
    return run_id, served_question(studio, run_id)


def image_answer(request_id, image_bytes):
    data = base64.b64encode(b"\x89PNG" + b"\0" * (image_bytes - 4)).decode()
    return {
        "type": "answer",
        "requestId": request_id,
        "blocks": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}],
    }


def page_socket(studio, run_id):
    return connect(
        f"{studio.url.replace('http', 'ws', 1)}/ws/runs/{run_id}/",
        additional_headers={"Origin": studio.url},
        open_timeout=10,
        max_size=None,
    )


def reply_to(socket, request_id):
    while True:
        frame = json.loads(socket.recv(timeout=30))
        if frame.get("requestId") == request_id:
            return frame


def status_of(studio, request_id):
    return query(studio, "SELECT status FROM runs_inputrequest WHERE request_id = ?", request_id)[0]["status"]


def test_an_answer_with_a_megabyte_image_is_taken_over_the_page_socket(server):
    # daphne closed frames over 1 MiB (1006): the answer was lost and the request stayed pending.
    run_id, request_id = asking_run(server)
    with page_socket(server, run_id) as socket:
        socket.send(json.dumps(image_answer(request_id, 1_500_000)))
        assert reply_to(socket, request_id) == {"type": "answer.accepted", "requestId": request_id}
    assert status_of(server, request_id) in ("answered", "delivered")


def test_an_answer_past_the_limit_is_refused_in_words_and_the_socket_stays_open(server):
    run_id, request_id = asking_run(server)
    with page_socket(server, run_id) as socket:
        socket.send(json.dumps(image_answer(request_id, 23 * MiB // 2)))  # 15.3 MB of base64: past 15, under 16
        rejected = reply_to(socket, request_id)
        assert rejected["type"] == "answer.rejected"
        assert "at most 15 MB can be sent to an agent" in rejected["message"]
        assert status_of(server, request_id) == "pending"
        socket.send(json.dumps({"type": "answer", "requestId": request_id, "blocks": [{"type": "text", "text": "ok"}]}))
        assert reply_to(socket, request_id)["type"] == "answer.accepted"


def test_the_http_endpoint_answers_a_json_413_past_the_limit_however_large(server):
    run_id, request_id = asking_run(server)
    url = f"{server.url}/api/runs/{run_id}/inputs/{request_id}/answer"
    for size in (17 * MiB, 70 * MiB):  # the latter is past Django's DATA_UPLOAD_MAX_MEMORY_SIZE too
        body = json.dumps({"blocks": [{"type": "text", "text": "x" * size}]})
        response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        assert response.status_code == 413 and response.headers["Content-Type"] == "application/json"
        assert "at most 15 MB can be sent to an agent" in response.json()["error"]
    assert status_of(server, request_id) == "pending"


@pytest.fixture
def small_limit_studio(tmp_path):
    studio = StudioServer(tmp_path / "data", env={"STUDIO_MAX_ANSWER_BYTES": str(2 * MiB)}).start()
    yield studio
    studio.stop()


def test_the_page_refuses_an_answer_past_the_limit_before_sending_it(small_limit_studio, page):
    studio = small_limit_studio
    run_id, request_id = asking_run(studio, "SmallLimit")
    page.goto(f"{studio.url}/projects/SmallLimit/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    form = page.locator("[data-answer-form].active")
    error = form.locator("[data-form-error]")

    form.locator("input[type=file]").set_input_files(
        {"name": "big.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"\0" * (1_600_000)}
    )
    assert error.inner_text() == "big.png (1.5 MB) would make the answer 2 MB: at most 2 MB can be sent to an agent."
    assert form.locator(".chip").count() == 0

    form.locator("textarea").fill("y" * (2 * MiB + 100_000))
    form.locator("textarea").press("Enter")
    assert error.inner_text() == "The answer is 2.1 MB; at most 2 MB can be sent to an agent."
    screenshot(page, "answer-past-the-limit")
    assert status_of(studio, request_id) == "pending"

    form.locator("textarea").fill("short")
    form.locator("textarea").press("Enter")
    wait_for(lambda: status_of(studio, request_id) in ("answered", "delivered"), message="the short answer")
