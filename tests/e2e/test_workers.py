"""Several workers behind Debian's nginx, each one right whichever request reaches it.

Two uvicorn workers on PostgreSQL and Redis, nginx in front with deploy/studio.nginx.conf; the
real agentscope client and Chromium talk to nginx only. A worker is killed (SIGKILL) under an
agent waiting for a person: the agent reconnects through nginx to the other, the dead worker's
socket is counted out, the person's answer reaches the agent, the run finishes after the agent
exits, and nothing the agent sent is lost. The background work runs on one worker at a time.
"""

import asyncio
import json
import os
import signal
import uuid
from types import SimpleNamespace

import pytest
import requests

from tests.factories import served_question, served_run
from tests.support.agent_socket import Agent
from tests.support.agentscope_env import start_agent
from tests.support.browser import log_in
from tests.support.nginx import Nginx
from tests.support.team import add_person, manage, sql
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
PROJECT = "TeamBookings"
PASSWORD = "correct-Horse-7-battery"
# A dead worker is noticed 3 s after its last heartbeat; a run without a socket finishes 2 s later.
ENV = {"STUDIO_WORKER_TIMEOUT": "3", "STUDIO_DISCONNECT_GRACE": "2"}


@pytest.fixture
def worker_settings():
    return ENV


@pytest.fixture
def team(workers, database, tmp_path):
    """The workers behind nginx: what a team's people and agents see is `team.url`."""
    nginx = Nginx(tmp_path / "nginx", [f"127.0.0.1:{server.port}" for server in workers]).start()
    yield SimpleNamespace(url=nginx.url, nginx=nginx, workers=workers, database=database)
    nginx.stop()


@pytest.fixture
def studio_url(team):
    """The studio_url an agent of the team is given: through nginx, with its project's token as
    user-info (with the colon: docs/TOKENS.md), made as an admin would with create_token."""
    secret = manage(team.database, "create_token", PROJECT, "team agents").strip()
    return team.url.replace("http://", f"http://studio:{secret}@", 1)


@pytest.fixture
def person(page, team):
    """A member's browser on the team's Studio, logged in (through nginx, a login is required)."""
    add_person(team.database, "mia", PASSWORD, PROJECT, "member")
    log_in(page, team.url, "mia", PASSWORD)
    page.wait_for_selector("#project-rows")
    return page


def pid_of(worker_id):
    # Worker ids are host-pid-random (runs/agent_link.py).
    return int(worker_id.rsplit("-", 2)[1])


def server_with_pid(workers, pid):
    [server] = [server for server in workers if server.pid == pid]
    return server


def socket_pids(database, run_id):
    """The pids of the workers holding the run's agent sockets, as the database records them."""
    return sorted(
        pid_of(worker) for (worker,) in sql(database, "SELECT worker FROM runs_agentsocket WHERE run_id = %s", run_id)
    )


def run_row(database, run_id):
    [row] = sql(
        database, "SELECT status, agent_sockets, agent_left_at, finished_at FROM runs_run WHERE id = %s", run_id
    )
    return dict(zip(("status", "agent_sockets", "agent_left_at", "finished_at"), row, strict=True))


def leaders(database):
    """The worker ids of the sessions holding the leader's advisory lock (studio/leadership.py)."""
    rows = sql(
        database,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()",
    )
    return [name.removeprefix("studio leader ") for (name,) in rows]


def kill(server):
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait()


def test_an_agent_whose_worker_is_killed_reconnects_through_nginx_and_its_run_goes_on(team, studio_url, person):
    database = team.database
    run_id = uuid.uuid4().hex[:16]
    agent = start_agent("1.0.21", "team_booking.py", studio_url, run_id, env={"STUDIO_PROJECT": PROJECT})
    try:
        wait_for(
            lambda: sql(database, "SELECT 1 FROM runs_inputrequest WHERE run_id = %s AND status = 'pending'", run_id),
            timeout=60,
            message="the agent to ask for the booking",
        )
        # What it said and its spans so far are stored, whichever worker nginx gave them to.
        assert sql(database, "SELECT name FROM runs_message WHERE run_id = %s", run_id) == [("Clerk",)]
        wait_for(
            lambda: sql(database, "SELECT count(*) FROM traces_span WHERE run_id = %s", run_id)[0][0] > 0,
            message="the agent's spans",
        )
        [holder_pid] = wait_for(lambda: socket_pids(database, run_id), message="the agent's socket")
        holder = server_with_pid(team.workers, holder_pid)
        [survivor] = [server for server in team.workers if server is not holder]

        kill(holder)
        # The agent reconnects through nginx to the live worker, and the leader counts out the
        # socket the dead one held: one socket, on the survivor. The run still waits.
        wait_for(
            lambda: socket_pids(database, run_id) == [survivor.pid] and run_row(database, run_id)["agent_sockets"] == 1,
            timeout=30,
            message="the agent's socket to be on the survivor only",
        )
        assert run_row(database, run_id)["status"] == "waiting"

        person.goto(f"{team.url}/projects/{PROJECT}/runs/{run_id}/")
        person.wait_for_selector("#live-status.on")
        person.locator(".message", has_text="Please fill in your booking").wait_for()
        person.locator("#trace-roots .span-row", has_text="Clerk").first.wait_for(timeout=20_000)
        form = person.locator("[data-answer-form].active")
        form.get_by_label("Guest").fill("Ada Lovelace")
        form.get_by_label("Nights").fill("3")
        form.get_by_label("Room").select_option(label="suite")
        form.get_by_label("City").fill("Lisbon")
        form.get_by_role("button", name="Send").click()
        output, _ = agent.communicate(timeout=60)
    finally:
        agent.kill()
    assert agent.returncode == 0, output
    [answer] = [json.loads(line[len("ANSWER ") :]) for line in output.splitlines() if line.startswith("ANSWER ")]
    assert answer["metadata"] == {
        "guest": "Ada Lovelace",
        "nights": 3,
        "room": "suite",
        "breakfast": False,
        "address": {"city": "Lisbon", "postcode": None},
        "tags": [],
    }

    # The agent has exited: its run finishes after the grace, and the page says so.
    person.locator("#run-status", has_text="Finished").wait_for(timeout=20_000)
    row = run_row(database, run_id)
    assert row["status"] == "finished" and row["agent_sockets"] == 0 and row["finished_at"] == row["agent_left_at"]
    # Nothing lost: what it said before the kill, the person's answer, and its confirmation.
    messages = sql(database, "SELECT name, content::text FROM runs_message WHERE run_id = %s ORDER BY id", run_id)
    assert [name for name, _ in messages] == ["Clerk", "booker", "Clerk"]
    assert "Booked: Ada Lovelace, 3 nights, suite." in messages[2][1]
    person.locator(".message", has_text="Booked: Ada Lovelace, 3 nights, suite.").wait_for()
    assert sql(database, "SELECT status FROM runs_inputrequest WHERE run_id = %s", run_id) == [("delivered",)]


class SilentAgent(Agent):
    """An agent socket that receives answers and acknowledges none until told to."""

    def __init__(self, server, run_id):
        super().__init__(server, {"run_id": run_id})
        self.copies = []
        self.release = asyncio.Event()
        self.sio.on("forwardUserInput", self._receive, namespace="/python")

    async def _receive(self, request_id, blocks, structured):
        self.copies.append(request_id)
        await self.release.wait()  # the client acknowledges when the handler returns

    def acknowledge(self):
        self.loop.call_soon_threadsafe(self.release.set)


def resent(server, request_id):
    """How many times the worker's log says it sent the answer again (answers.py)."""
    return sum(1 for line in server.log().splitlines() if request_id in line and "sending it again" in line)


def worker_id(database, server):
    [(found,)] = sql(database, "SELECT id FROM runs_worker WHERE pid = %s", server.pid)
    return found


def test_an_unacknowledged_answer_is_sent_again_by_the_leader_only_and_by_the_next_when_it_dies(workers, database):
    [leader_id] = wait_for(lambda: leaders(database), message="a worker to lead")
    leader = server_with_pid(workers, pid_of(leader_id))
    [other] = [server for server in workers if server is not leader]
    run_id = served_run(other, PROJECT, name="silent", pid=1)
    request_id = served_question(other, run_id)
    # The agent's socket is on the worker that does not lead: the leader's copies cross Redis.
    agent = SilentAgent(other, run_id).connect()
    try:
        answered = requests.post(
            f"{other.url}/api/runs/{run_id}/inputs/{request_id}/answer",
            json={"blocks": [{"type": "text", "text": "are you there?"}]},
            timeout=10,
        )
        assert answered.status_code == 200, answered.text
        # Not acknowledged: after REDELIVER_AFTER (5 s), the leader sends it again each sweep.
        wait_for(lambda: len(agent.copies) >= 3, timeout=30, message="copies sent again")
        assert resent(leader, request_id) >= 2 and resent(other, request_id) == 0
        assert set(agent.copies) == {request_id}

        kill(leader)
        successor = worker_id(database, other)
        wait_for(lambda: leaders(database) == [successor], timeout=15, message="the other worker to take over")
        before = len(agent.copies)
        wait_for(lambda: len(agent.copies) >= before + 2, timeout=30, message="copies from the new leader")
        assert resent(other, request_id) >= 2

        agent.acknowledge()
        wait_for(
            lambda: (
                sql(database, "SELECT status FROM runs_inputrequest WHERE request_id = %s", request_id)
                == [("delivered",)]
            ),
            message="the acknowledgement",
        )
    finally:
        agent.close()


def test_a_worker_restarting_leaves_the_agent_sockets_of_the_others_alone(workers, database):
    keeper, restarted = workers
    run_id = served_run(keeper, PROJECT, name="steady", pid=1)
    agent = Agent(keeper, {"run_id": run_id}).connect()
    try:
        wait_for(lambda: socket_pids(database, run_id) == [keeper.pid], message="the agent's socket")
        previous = worker_id(database, restarted)
        restarted.restart()
        # Its previous process is noticed gone (its heartbeat stopped) and forgotten...
        wait_for(
            lambda: not sql(database, "SELECT 1 FROM runs_worker WHERE id = %s", previous),
            timeout=20,
            message="the restarted worker's previous process to be forgotten",
        )
        # ...while the socket on the other worker stays counted: its run has no grace running.
        row = run_row(database, run_id)
        assert row["agent_sockets"] == 1 and row["agent_left_at"] is None and row["status"] == "running"
        assert socket_pids(database, run_id) == [keeper.pid]
    finally:
        agent.close()
