"""The leader's prune (STUDIO_RETENTION_DAYS) on a real server while agents push into other runs
of the same project: every message that got a 200 is stored. (bench/prune_soak.py: 20 agents
for 30 s, and how long a push waits behind the prune.)"""

import threading
import uuid

import pytest
import requests

from tests.factories import msg, push_body, run_body
from tests.support.server import StudioServer
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e

# About 1.7 s: runs idle that long go at the sweeper's next tick (every 0.5 s or so).
RETENTION_DAYS = "0.00002"


@pytest.fixture
def pruning_studio(tmp_path):
    server = StudioServer(
        tmp_path / "data",
        env={
            "STUDIO_RETENTION_DAYS": RETENTION_DAYS,
            "STUDIO_RETENTION_INTERVAL": "0.5",
            "STUDIO_DISCONNECT_GRACE": "1",
        },
    ).start()
    yield server
    server.stop()


def test_pushes_into_live_runs_while_old_runs_are_pruned_are_all_stored(pruning_studio):
    studio = pruning_studio
    project = f"Prune {uuid.uuid4().hex[:6]}"
    session = requests.Session()

    def post(procedure, body):
        return session.post(f"{studio.url}/trpc/{procedure}", json=body, timeout=30)

    # Finished runs with enough messages that their prune takes several batches.
    old = [f"old-{i}-{uuid.uuid4().hex[:6]}" for i in range(4)]
    for run_id in old:
        assert post("registerRun", run_body(run_id, project, status="finished")).status_code == 200
        for i in range(150):
            body = push_body(msg(content=[{"type": "text", "text": f"old words {i}"}]), run_id, f"r{i % 15}")
            assert post("pushMessage", body).status_code == 200

    live = [f"live-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
    for run_id in live:
        assert post("registerRun", run_body(run_id, project)).status_code == 200
    acknowledged, failures, stop = {}, [], threading.Event()

    def agent(run_id):
        with requests.Session() as own:
            n = 0
            while not stop.is_set():
                message = msg(f"{run_id}-{n}", content=[{"type": "text", "text": f"live {n}"}])
                response = own.post(f"{studio.url}/trpc/pushMessage", json=push_body(message, run_id), timeout=30)
                if response.status_code == 200:
                    acknowledged[message["id"]] = f"live {n}"
                else:
                    failures.append(response.status_code)
                n += 1

    agents = [threading.Thread(target=agent, args=(run_id,)) for run_id in live]
    for thread in agents:
        thread.start()
    try:
        placeholders = ", ".join("?" * len(old))
        wait_for(
            lambda: not query(studio, f"SELECT id FROM runs_run WHERE id IN ({placeholders})", *old),
            timeout=60,
            message="the old runs pruned",
        )
    finally:
        stop.set()
        for thread in agents:
            thread.join()

    assert not failures
    assert len(acknowledged) > 100
    stored = {
        row["msg_id"]: row["content"]
        for row in query(
            studio,
            "SELECT msg_id, content FROM runs_message WHERE run_id IN (" + ", ".join("?" * len(live)) + ")",
            *live,
        )
    }
    missing = [msg_id for msg_id, text in acknowledged.items() if msg_id not in stored or text not in stored[msg_id]]
    assert not missing, f"{len(missing)} acknowledged messages not stored"
    assert not query(studio, "SELECT id FROM runs_message WHERE run_id IN (" + ", ".join("?" * len(old)) + ")", *old)
    # The live runs were never candidates.
    assert len(query(studio, "SELECT id FROM runs_run WHERE id IN (" + ", ".join("?" * len(live)) + ")", *live)) == 5
