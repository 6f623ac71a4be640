"""`manage.py runserver` as `make run` starts it: uvicorn, with Django's autoreloader, serving
HTTP, the pages' WebSockets and the agents' Socket.IO from one process; `--server daphne` too."""

import contextlib
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from tests.factories import msg, push_body, served_run
from tests.support.agent_socket import Agent
from tests.support.server import StudioServer, free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A module every server process imports at startup (sitecustomize, from PYTHONPATH), so the
    autoreloader watches it: touching it is a code change that no other test sees."""
    directory = tmp_path_factory.mktemp("watched")
    (directory / "sitecustomize.py").write_text("# imported by Python at startup\n")
    return directory / "sitecustomize.py"


@pytest.fixture(scope="module")
def reloading(tmp_path_factory, watched):
    env = {"PYTHONPATH": str(watched.parent), "STUDIO_OTLP_GRPC_PORT": str(free_port())}
    server = StudioServer(tmp_path_factory.mktemp("runserver"), reload=True, env=env).start()
    yield server
    server.stop()


def serving_pids(server):
    return [int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.log())]


@contextlib.contextmanager
def the_log_on_failure(server):
    """A wait that times out says what the server printed: where a reload stopped."""
    try:
        yield
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n--- the server's log ---\n{server.log()[-6000:]}") from None


def environment_of(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def page_socket(server, run_id):
    return connect(
        f"{server.url.replace('http', 'ws', 1)}/ws/runs/{run_id}/",
        additional_headers={"Origin": server.url},
        open_timeout=10,
    )


def frame_with(socket, text):
    while True:
        frame = socket.recv(timeout=10)
        if text in frame:
            return frame


def test_it_serves_pages_under_uvicorn_with_the_autoreloader_on(reloading):
    response = requests.get(reloading.url + "/", timeout=10)
    assert response.status_code == 200 and response.headers["server"] == "uvicorn"
    log = reloading.log()
    assert "Watching for file changes with StatReloader" in log
    assert "Starting ASGI/uvicorn version" in log and "System check identified no issues" in log
    # The server runs in the autoreloader's child, not in the process that was started.
    [child] = serving_pids(reloading)
    assert child != reloading.pid and environment_of(child).get("RUN_MAIN") == "true"


def test_a_pushed_message_reaches_the_run_pages_socket(reloading):
    run_id = served_run(reloading, "Runserver")
    text = f"live {uuid.uuid4().hex}"
    with page_socket(reloading, run_id) as socket:
        response = reloading.post("pushMessage", push_body(msg(content=text), run_id=run_id))
        assert response.status_code == 200, response.text
        assert text in frame_with(socket, text)


def test_an_agent_connects_over_socket_io(reloading):
    run_id = served_run(reloading, "Runserver")
    agent = Agent(reloading, {"run_id": run_id}).connect()
    try:
        assert agent.sio.connected and not agent.refusals
    finally:
        agent.close()


def test_a_changed_python_file_restarts_the_server_and_it_serves_again(reloading, watched):
    [before] = serving_pids(reloading)
    # The autoreloader's first look at the files' times is its baseline: a change made before
    # that look (the server may answer first, on a busy machine) is not one. So the file is
    # changed again as long as the reloader has not said it saw a change.
    changed = []

    def reloader_saw_a_change():
        if "changed, reloading." in reloading.log():
            return True
        if not changed or time.monotonic() - changed[-1] > 5:
            watched.write_text(watched.read_text() + "# changed\n")
            changed.append(time.monotonic())
        return False

    with the_log_on_failure(reloading):
        wait_for(reloader_saw_a_change, timeout=60, message="the reloader seeing the change")
        after = wait_for(lambda: serving_pids(reloading)[1:], timeout=60, message="a restarted server")[0]
    assert after != before and f"{watched} changed, reloading." in reloading.log()
    assert wait_for(lambda: reloading._answers(), message="the restarted server answering")
    run_id = served_run(reloading, "Runserver")
    response = reloading.post("pushMessage", push_body(msg(content="after the reload"), run_id=run_id))
    assert response.status_code == 200, response.text
    # What starts with the server started once in each serving process, never in the watcher.
    log = reloading.log()
    assert log.count("OTLP/gRPC listening") == 2 and "is taken" not in log
    leads = re.compile(rf"worker \S+-{after}-\S+ leads the background work")
    wait_for(lambda: leads.search(reloading.log()), timeout=30, message="the new process's sweeper")


def test_stopping_it_stops_the_serving_child_too(tmp_path):
    server = StudioServer(tmp_path / "data", reload=True).start()
    [child] = serving_pids(server)
    server.stop()
    wait_for(lambda: not Path(f"/proc/{child}").exists(), message="the child process gone")


def test_it_stops_cleanly_on_sigterm_without_the_reloader(tmp_path):
    server = StudioServer(tmp_path / "data").start()
    process = server.process
    process.terminate()
    assert process.wait(15) == 0
    assert "Finished server process" in server.log()  # uvicorn's graceful shutdown ran
    server.stop()


def test_server_daphne_still_serves_all_of_it(tmp_path):
    server = StudioServer(tmp_path / "data", server="daphne").start()
    try:
        response = requests.get(server.url + "/", timeout=10)
        assert response.status_code == 200 and response.headers["server"] == "daphne"
        assert "Starting ASGI/Daphne version" in server.log()
        run_id = served_run(server, "Daphne")
        with page_socket(server, run_id) as socket:
            assert server.post("pushMessage", push_body(msg(content="on daphne"), run_id=run_id)).status_code == 200
            assert "on daphne" in frame_with(socket, "on daphne")
        agent = Agent(server, {"run_id": run_id}).connect()
        assert agent.sio.connected
        agent.close()
    finally:
        server.stop()


def test_static_files_are_served(reloading):
    response = requests.get(reloading.url + "/static/studio/live.js", timeout=10)
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
