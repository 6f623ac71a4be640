"""Team mode: two uvicorn workers on PostgreSQL and Redis. The agent talks to one worker, the
person's browser to the other; messages and answers cross between them."""

import json
import uuid

import pytest
import requests

from tests.support.agentscope_env import run_agent, start_agent
from tests.support.team import sql
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_messages_and_answers_cross_between_workers(workers, database, page, tmp_path):
    agent_side, person_side = workers
    run_id = uuid.uuid4().hex[:16]
    go = tmp_path / "go"
    streamer = start_agent(
        "1.0.21", "dashboard_stream.py", agent_side.url, run_id, str(go), env={"STUDIO_PROJECT": "Team"}
    )
    try:
        wait_for(lambda: sql(database, "SELECT id FROM runs_run WHERE id = %s", run_id), message="the run")
        page.goto(f"{person_side.url}/projects/Team/runs/{run_id}/")
        page.wait_for_selector("#live-status.on")
        go.touch()
        # Pushed to worker 1, shown live by worker 2 through Redis.
        page.locator(".message", has_text="Done: sunny").wait_for(timeout=30_000)
        assert page.locator(".reply .message").count() == 4
        streamer.wait(timeout=30)
        page.locator("#run-status", has_text="Finished").wait_for(timeout=20_000)
    finally:
        streamer.kill()

    asker_run = uuid.uuid4().hex[:16]
    asker = start_agent("1.0.21", "input_user.py", agent_side.url, asker_run, "plain", env={"STUDIO_PROJECT": "Team"})
    try:
        wait_for(
            lambda: sql(database, "SELECT 1 FROM runs_inputrequest WHERE run_id = %s", asker_run), message="the request"
        )
        page.goto(f"{person_side.url}/projects/Team/runs/{asker_run}/")
        # As every other answering test does: an answer typed before the page's socket is up is
        # refused in words ("Not connected"), which is not what this test is about.
        page.wait_for_selector("#live-status.on")
        box = page.locator("[data-answer-form].active textarea")
        box.fill("answered on the other worker")
        box.press("Enter")
        output, _ = asker.communicate(timeout=30)
    finally:
        asker.kill()
    answers = [json.loads(line[7:]) for line in output.splitlines() if line.startswith("ANSWER ")]
    assert [a["text"] for a in answers] == ["answered on the other worker"], output
    wait_for(
        lambda: sql(database, "SELECT status FROM runs_inputrequest WHERE run_id = %s", asker_run) == [("delivered",)],
        message="the ack to come back across workers",
    )

    # The details panel's tool-call count runs on PostgreSQL's JSON functions too.
    details = page.request.get(f"{person_side.url}/runs/{run_id}/details/").text()
    assert "<dt>Tool calls</dt><dd>1</dd>" in details


def test_spans_sent_to_one_worker_are_stored_on_postgresql_and_shown_by_the_other(workers, database, page):
    agent_side, person_side = workers
    run_id = uuid.uuid4().hex[:16]
    done = run_agent("1.0.21", "traced_react.py", agent_side.url, run_id, env={"STUDIO_PROJECT": "TeamTraces"})
    assert done.returncode == 0, done.stderr
    page.goto(f"{person_side.url}/projects/TeamTraces/runs/{run_id}/")
    page.locator("#trace-roots .span-row", has_text="agent Friday").wait_for()
    # Linked, counted and totalled by PostgreSQL's side of the raw SQL.
    assert sql(database, "SELECT count(*) FROM traces_span WHERE run_id = %s", run_id) == [(7,)]
    assert sql(
        database,
        "SELECT span_count, input_tokens, output_tokens, has_root FROM traces_trace "
        "WHERE run_id = %s AND name = 'invoke_agent Friday'",
        run_id,
    ) == [(6, 273, 105, True)]
    assert "273 in · 105 out" in page.locator("#trace-stats").inner_text()

    # A batch of several INSERT statements, half of it already stored, on PostgreSQL's side.
    from tests.support.captures import capture_spans
    from tests.traces.bodies import fresh_ids, protobuf_body, with_run_id

    big = [
        span
        for copy in range(25)
        for span in with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), f"pg-{copy}"), run_id)
    ]
    for part in (big[:100], big[50:]):
        response = requests.post(
            f"{agent_side.url}/v1/traces",
            data=protobuf_body(part),
            timeout=30,
            headers={"Content-Type": "application/x-protobuf"},
        )
        assert response.status_code == 200, response.text
    assert sql(database, "SELECT count(*) FROM traces_span WHERE run_id = %s", run_id) == [(7 + 200,)]
