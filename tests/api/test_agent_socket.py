"""The Socket.IO /python namespace on a real server: who may connect, and when a run ends.

The session `studio` server finishes a run 3 s (STUDIO_DISCONNECT_GRACE) after its last agent
socket left. The client is python-socketio's, as in agentscope: polling, then the websocket upgrade.
"""

import json
import time
import uuid

import pytest
import requests
import socketio

from tests.factories import served_question, served_run
from tests.support.agent_socket import Agent
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
GRACE = 3


def registered_run(server):
    return served_run(server, "SocketProject", name="socket test", pid=1)


def run_row(server, run_id):
    [row] = query(server, "SELECT status, agent_sockets, agent_left_at, finished_at FROM runs_run WHERE id = ?", run_id)
    return row


@pytest.fixture
def agents():
    made = []

    def connect(server, auth):
        agent = Agent(server, auth)
        made.append(agent)
        return agent

    yield connect
    for agent in made:
        agent.close()


def test_an_agent_of_a_registered_run_is_accepted_and_counted(studio, agents):
    run_id = registered_run(studio)
    agent = agents(studio, {"run_id": run_id}).connect()
    assert agent.sio.connected and "/python" in agent.sio.namespaces
    row = wait_for(lambda: (r := run_row(studio, run_id))["agent_sockets"] == 1 and r, message="the socket counted")
    assert row["status"] == "running" and row["agent_left_at"] is None


@pytest.mark.parametrize(
    "auth",
    [None, {}, {"run_id": ""}, {"run_id": 5}, {"other": "x"}, "just-a-string"],
    ids=["no auth", "empty", "blank run id", "number", "other key", "string"],
)
def test_a_connection_without_a_run_id_is_refused_saying_why(studio, agents, auth):
    agent = agents(studio, auth)
    with pytest.raises(socketio.exceptions.ConnectionError):
        agent.connect()
    assert not agent.sio.connected
    assert agent.refusals and "run_id" in agent.refusals[0]["message"]


def test_a_connection_for_an_unknown_run_is_refused_saying_why(studio, agents):
    agent = agents(studio, {"run_id": "never-registered-" + uuid.uuid4().hex})
    with pytest.raises(socketio.exceptions.ConnectionError):
        agent.connect()
    assert agent.refusals and "unknown run" in agent.refusals[0]["message"]
    assert not query(studio, "SELECT id FROM runs_run WHERE id LIKE 'never-registered-%'")


def test_the_run_finishes_only_after_its_last_socket_has_been_gone_for_the_grace_period(studio, agents):
    run_id = registered_run(studio)
    agent = agents(studio, {"run_id": run_id}).connect()
    wait_for(lambda: run_row(studio, run_id)["agent_sockets"] == 1, message="the socket counted")
    agent.disconnect()
    left = time.monotonic()
    row = wait_for(lambda: (r := run_row(studio, run_id))["agent_left_at"] and r, message="the disconnect")
    assert row["status"] == "running" and row["agent_sockets"] == 0 and row["finished_at"] is None
    row = wait_for(
        lambda: (r := run_row(studio, run_id))["status"] == "finished" and r,
        timeout=GRACE + 10,
        message="the run finished",
    )
    assert time.monotonic() - left >= GRACE - 0.5
    assert row["finished_at"] == row["agent_left_at"]


def test_a_reconnect_within_the_grace_period_keeps_the_run_running(studio, agents):
    run_id = registered_run(studio)
    first = agents(studio, {"run_id": run_id}).connect()
    wait_for(lambda: run_row(studio, run_id)["agent_sockets"] == 1, message="the socket counted")
    first.disconnect()
    wait_for(lambda: run_row(studio, run_id)["agent_left_at"], message="the disconnect")
    agents(studio, {"run_id": run_id}).connect()  # the network blip is over
    wait_for(lambda: run_row(studio, run_id)["agent_sockets"] == 1, message="the reconnect")
    time.sleep(GRACE + 1.5)  # past the first socket's grace, and a sweep
    row = run_row(studio, run_id)
    assert row["status"] == "running" and row["agent_left_at"] is None and row["finished_at"] is None


def test_one_of_two_sockets_leaving_does_not_finish_the_run(studio, agents):
    run_id = registered_run(studio)
    first = agents(studio, {"run_id": run_id}).connect()
    second = agents(studio, {"run_id": run_id}).connect()
    wait_for(lambda: run_row(studio, run_id)["agent_sockets"] == 2, message="both sockets counted")
    first.disconnect()
    wait_for(lambda: run_row(studio, run_id)["agent_sockets"] == 1, message="one socket left")
    time.sleep(GRACE + 1.5)
    assert run_row(studio, run_id)["status"] == "running"
    second.disconnect()
    wait_for(lambda: run_row(studio, run_id)["status"] == "finished", timeout=GRACE + 10, message="the run finished")


def test_an_agent_reconnecting_to_a_finished_run_makes_it_live_again(studio, agents):
    run_id = registered_run(studio)
    agents(studio, {"run_id": run_id}).connect().disconnect()
    wait_for(lambda: run_row(studio, run_id)["status"] == "finished", timeout=GRACE + 10, message="the run finished")
    agents(studio, {"run_id": run_id}).connect()
    row = wait_for(lambda: (r := run_row(studio, run_id))["status"] == "running" and r, message="running again")
    assert row["finished_at"] is None and row["agent_sockets"] == 1


def test_an_agent_connecting_while_its_question_is_pending_leaves_the_run_waiting(studio, agents):
    run_id = registered_run(studio)
    served_question(studio, run_id, agent_name="user")
    agents(studio, {"run_id": run_id}).connect()
    row = wait_for(lambda: (r := run_row(studio, run_id))["agent_sockets"] == 1 and r, message="the socket counted")
    assert row["status"] == "waiting"


def test_an_answer_the_connected_agent_did_not_acknowledge_is_sent_again(studio, agents):
    run_id = registered_run(studio)
    request_id = served_question(studio, run_id, agent_name="user")
    received = []
    agent = agents(studio, {"run_id": run_id})

    async def forward_user_input(request_id, blocks, structured):
        received.append((request_id, blocks, structured))
        if len(received) == 1:
            raise RuntimeError("the first copy is lost: no acknowledgement")

    agent.sio.on("forwardUserInput", forward_user_input, namespace="/python")
    agent.connect()
    response = requests.post(
        f"{studio.url}/api/runs/{run_id}/inputs/{request_id}/answer", json={"text": "hi"}, timeout=5
    )
    assert response.status_code == 200
    wait_for(lambda: len(received) == 2, timeout=20, message="the answer sent again")
    assert received[0] == received[1] == (request_id, [{"type": "text", "text": "hi"}], None)
    wait_for(
        lambda: (
            query(studio, "SELECT status FROM runs_inputrequest WHERE request_id = ?", request_id)[0]["status"]
            == "delivered"
        ),
        message="the acknowledgement",
    )


def test_a_polling_packet_past_the_buffer_limit_is_refused_at_once_and_the_session_goes_on(studio):
    polling = f"{studio.url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(requests.get(polling, timeout=10).text[1:])["sid"]
    # python-engineio held such a POST until the session's ping timed out (~45 s).
    started = time.monotonic()
    too_large = requests.post(f"{polling}&sid={sid}", data=b"4" + b"x" * 1_000_001, timeout=30)
    assert too_large.status_code == 413 and "at most 1000000 bytes" in too_large.json()["error"]
    assert time.monotonic() - started < 10
    connect = requests.post(f"{polling}&sid={sid}", data=b'40/python,{"run_id": "nope"}', timeout=10)
    assert connect.status_code == 200
    assert requests.get(f"{polling}&sid={sid}", timeout=10).text.startswith("44/python")
