"""The real agentscope client (1.0.21 and the legacy 1.0.8) against a real server.

tests/e2e/agents/react_weather.py runs a ReActAgent with a scripted model and a registered
tool, in the client's own virtual environment. What the server stored is read from its database.
"""

import json
import uuid

import pytest
import requests

from tests.support.agentscope_env import run_agent
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
PROJECT = "ClientProject"
FINAL = "It is sunny in Paris, 25°C."
FIRST_MESSAGE = [
    {"type": "thinking", "thinking": "I should call the weather tool."},
    {"type": "text", "text": "Let me check the weather."},
    {"type": "tool_use", "id": "call_0001", "name": "get_weather", "input": {"city": "Paris"}},
]
TOOL_RESULT = [
    {
        "type": "tool_result",
        "id": "call_0001",
        "name": "get_weather",
        "output": [{"type": "text", "text": "Paris: sunny, 25°C"}],
    }
]


def run_react_agent(studio, version, mode):
    run_id = f"client-{version}-{mode}-" + uuid.uuid4().hex[:8]
    process = run_agent(version, "react_weather.py", studio.url, run_id, mode, env={"STUDIO_PROJECT": PROJECT})
    assert process.returncode == 0, process.stdout + process.stderr
    lines = process.stdout.splitlines()
    assert "INIT_OK" in lines, process.stdout
    [pid] = [int(line.split()[1]) for line in lines if line.startswith("PID ")]
    [reply] = [json.loads(line[len("REPLY ") :]) for line in lines if line.startswith("REPLY ")]
    return run_id, pid, reply


def stored_messages(studio, run_id):
    return query(
        studio,
        """
        SELECT r.reply_id, r.name AS reply_name, r.role AS reply_role, m.msg_id, m.name, m.role, m.content,
               m.metadata, m.created_at, m.updated_at
        FROM runs_message m JOIN runs_reply r ON m.reply_id = r.id WHERE m.run_id = ? ORDER BY m.id""",
        run_id,
    )


@pytest.mark.parametrize("version, mode", [("1.0.21", "stream"), ("1.0.8", "stream"), ("1.0.21", "plain")])
def test_a_react_reply_with_a_tool_call_is_stored_as_one_reply_with_its_final_messages(studio, version, mode):
    run_id, pid, reply = run_react_agent(studio, version, mode)

    # agentscope.init() registered the run.
    [run] = query(
        studio,
        "SELECT r.*, p.name AS project FROM runs_run r JOIN projects_project p ON p.id = r.project_id WHERE r.id = ?",
        run_id,
    )
    assert (run["project"], run["name"], run["pid"]) == (PROJECT, "react-weather", pid)
    if version == "1.0.8":  # its timestamp is not a time at all ("184945_PHsB")
        assert run["client_timestamp"] and ":" not in run["client_timestamp"]

    messages = stored_messages(studio, run_id)
    # One reply, three messages in order, each once, each with its final content.
    assert {(m["reply_name"], m["reply_role"]) for m in messages} == {("Friday", "assistant")}
    assert len({m["reply_id"] for m in messages}) == 1
    assert [(m["name"], m["role"]) for m in messages] == [
        ("Friday", "assistant"),
        ("system", "system"),
        ("Friday", "assistant"),
    ]
    assert [json.loads(m["content"]) for m in messages] == [
        FIRST_MESSAGE,
        TOOL_RESULT,
        [{"type": "text", "text": FINAL}],
    ]
    assert messages[-1]["msg_id"] == reply["id"] and reply["content"] == [{"type": "text", "text": FINAL}]
    # The legacy client sends metadata null; 1.0.21 an empty object.
    assert {m["metadata"] for m in messages} == ({None} if version == "1.0.8" else {"{}"})
    streamed = [m["updated_at"] > m["created_at"] for m in messages]
    if mode == "stream":  # the streamed messages were re-sent (chunks), and replaced each time
        assert streamed[0] and streamed[2]
    else:
        assert streamed == [False, False, False]

    # The agent exited: its socket is gone, and after the grace period the run is finished.
    finished = wait_for(
        lambda: (r := query(studio, "SELECT * FROM runs_run WHERE id = ?", run_id)[0])["status"] == "finished" and r,
        timeout=20,
        message="the run to finish",
    )
    assert finished["agent_sockets"] == 0 and finished["finished_at"] == finished["agent_left_at"]


def test_the_run_page_shows_the_final_answer_of_the_real_client(studio):
    run_id, _, _ = run_react_agent(studio, "1.0.21", "stream")
    page = requests.get(f"{studio.url}/projects/{PROJECT}/runs/{run_id}/", timeout=10)
    assert page.status_code == 200
    assert FINAL in page.text and "get_weather" in page.text
    assert "It is sunny in Paris," in page.text and "It is sunny</" not in page.text
