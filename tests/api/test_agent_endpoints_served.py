"""The /trpc endpoints as runserver serves them to agents (no browser middleware in the way).

The Django test client goes through the browser middleware; agents do not. These requests go
to a real server, the way the agentscope client's `requests.post(json=...)` sends them.
"""

import uuid

import pytest
import requests

from tests.factories import assert_error
from tests.support.server import StudioServer
from tests.support.waiting import query

pytestmark = pytest.mark.e2e


def new_run(studio, path="/trpc/registerRun"):
    run_id = "http-" + uuid.uuid4().hex[:12]
    response = requests.post(
        studio.url + path, json={"id": run_id, "project": "HttpProject"}, allow_redirects=False, timeout=10
    )
    return run_id, response


def test_register_run_answers_200_with_the_trpc_success_envelope(studio):
    run_id, response = new_run(studio)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"result": {}}
    assert query(studio, "SELECT status FROM runs_run WHERE id = ?", run_id) == [{"status": "running"}]


@pytest.mark.parametrize("path", ["//trpc/registerRun", "///trpc/registerRun", "/trpc/registerRun/"])
def test_a_studio_url_with_a_trailing_slash_is_served_without_redirect(studio, path):
    run_id, response = new_run(studio, path)
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert query(studio, "SELECT id FROM runs_run WHERE id = ?", run_id)


def test_a_pushed_message_is_stored_through_a_double_slash_path(studio):
    run_id, _ = new_run(studio)
    body = {
        "runId": run_id,
        "replyId": None,
        "replyName": "Friday",
        "replyRole": "assistant",
        "msg": {
            "id": "m1",
            "name": "Friday",
            "role": "assistant",
            "content": "hi",
            "metadata": {},
            "timestamp": "2026-11-23 18:49:36.145",
        },
    }
    response = requests.post(studio.url + "//trpc/pushMessage", json=body, allow_redirects=False, timeout=10)
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert query(studio, "SELECT msg_id, content FROM runs_message WHERE run_id = ?", run_id) == [
        {"msg_id": "m1", "content": '"hi"'}
    ]


def test_a_host_that_is_not_allowed_is_a_400_naming_the_host_header(studio):
    response = requests.post(
        studio.url + "/trpc/registerRun",
        json={"id": "evil-run", "project": "P"},
        headers={"Host": "evil.example"},
        timeout=10,
    )
    error = assert_error(response, 400, "registerRun", says="ALLOWED_HOSTS")
    assert error["data"]["field"] == "Host"
    assert not query(studio, "SELECT id FROM runs_run WHERE id = 'evil-run'")


def test_invalid_json_is_a_400_parse_error(studio):
    response = requests.post(
        studio.url + "/trpc/pushMessage", data=b'{"runId":', timeout=10, headers={"Content-Type": "application/json"}
    )
    assert assert_error(response, 400, "pushMessage", says="Invalid JSON")["code"] == -32700


def test_json_nested_too_deeply_is_a_400_not_a_crash(studio):
    response = requests.post(
        studio.url + "/trpc/pushMessage",
        data="[" * 100_000 + "]" * 100_000,
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "pushMessage", says="nested too deeply")


def test_a_form_body_is_a_415(studio):
    response = requests.post(studio.url + "/trpc/registerRun", data={"id": "x", "project": "P"}, timeout=10)
    assert_error(response, 415, "registerRun", says="Content-Type must be application/json")


def test_an_unknown_procedure_is_a_404_in_json(studio):
    response = requests.post(studio.url + "/trpc/finishRun", json={}, timeout=10)
    assert_error(response, 404, "finishRun", says="No procedure 'finishRun'")


def test_a_get_is_a_405_in_json_and_never_a_redirect(studio):
    response = requests.get(studio.url + "/trpc/registerRun", allow_redirects=False, timeout=10)
    assert_error(response, 405, "registerRun", says="Use POST")


def test_an_unknown_run_is_a_404_naming_run_id(studio):
    response = requests.post(studio.url + "/trpc/pushMessage", json={"runId": "nope", "msg": {"id": "m"}}, timeout=10)
    assert assert_error(response, 404, "pushMessage", says="registerRun")["data"]["field"] == "runId"


def test_a_body_over_the_configured_limit_is_a_413(tmp_path):
    server = StudioServer(tmp_path / "small", env={"STUDIO_MAX_BODY_BYTES": "2000"}).start()
    try:
        run_id, _ = new_run(server)
        message = {"id": "m1", "name": "Friday", "role": "assistant", "metadata": {}}
        small = requests.post(
            server.url + "/trpc/pushMessage",
            timeout=10,
            json={"runId": run_id, "msg": {**message, "content": "x" * 1000}},
        )
        assert small.status_code == 200
        big = requests.post(
            server.url + "/trpc/pushMessage",
            timeout=10,
            json={"runId": run_id, "msg": {**message, "content": "x" * 3000}},
        )
        assert (
            assert_error(big, 413, "pushMessage", says="larger than 2000 bytes")["data"]["code"] == "PAYLOAD_TOO_LARGE"
        )
        assert query(server, "SELECT content FROM runs_message") == [{"content": '"' + "x" * 1000 + '"'}]
    finally:
        server.stop()


def test_a_chunked_body_without_content_length_is_read(studio):
    run_id = "chunked-" + uuid.uuid4().hex[:12]
    body = f'{{"id": "{run_id}", "project": "HttpProject"}}'.encode()
    response = requests.post(
        studio.url + "/trpc/registerRun",
        data=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 200, response.text
    assert query(studio, "SELECT id FROM runs_run WHERE id = ?", run_id) == [{"id": run_id}]
