"""A real agentscope 1.0.21 run, out of one Studio and into a fresh one: as a run bundle (the
same run page, in Chromium) and as OTLP/JSON (the same spans, through /v1/traces)."""

import gzip
import json
import uuid

import pytest
import requests

from tests.support.agentscope_env import start_agent
from tests.support.browser import screenshot
from tests.support.server import StudioServer
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e

PROJECT = "Bundled"
BOOKING = {
    "guest": "Ada Lovelace",
    "nights": 3,
    "room": "suite",
    "breakfast": True,
    "address": {"city": "Lisbon", "postcode": None},
    "tags": ["late arrival"],
}
SPAN_COLUMNS = "trace_id, span_id, parent_span_id, name, kind, start_time_ns, end_time_ns, status_code, attributes"


@pytest.fixture(scope="module")
def original(studio):
    """A run of the real client on the session's Studio: a ReAct agent's chat and spans, and a
    structured question answered through the API."""
    run_id = uuid.uuid4().hex[:16]
    agent = start_agent("1.0.21", "bundled_run.py", studio.url, run_id, env={"STUDIO_PROJECT": PROJECT})
    try:
        [request] = wait_for(
            lambda: query(studio, "SELECT request_id FROM runs_inputrequest WHERE run_id = ?", run_id),
            timeout=60,
            message="the structured question",
        )
        answered = requests.post(
            f"{studio.url}/api/v1/runs/{run_id}/inputs/{request['request_id']}/answer",
            json={"structured": BOOKING},
            timeout=10,
        )
        assert answered.status_code == 200, answered.text
        output, _ = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0 and "ANSWER" in output, output
    assert json.loads(output.split("ANSWER ", 1)[1].splitlines()[0])["metadata"] == BOOKING
    # The spans are flushed before exit; the answer's message is pushed before the agent returns.
    wait_for(lambda: len(spans(studio, run_id)) >= 6, message="the spans")
    wait_for(lambda: query(studio, "SELECT 1 FROM runs_message WHERE run_id = ? AND role = 'user'", run_id))
    # The agent has exited: its run finishes after the grace. (An imported run is never live, so
    # the two pages match only once the original's has finished too.)
    wait_for(
        lambda: query(studio, "SELECT 1 FROM runs_run WHERE id = ? AND status = 'finished'", run_id),
        message="the original run finished",
    )
    return run_id


def spans(server, run_id=None):
    where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    return query(server, f"SELECT {SPAN_COLUMNS} FROM traces_span {where} ORDER BY trace_id, span_id", *params)


def counts(server):
    tables = ("runs_run", "runs_reply", "runs_message", "runs_inputrequest", "traces_span", "traces_trace")
    return {table: query(server, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] for table in tables}


def what_a_person_sees(page, server, run_id):
    page.goto(f"{server.url}/projects/{PROJECT}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    page.locator("#trace-roots .span-row").first.wait_for()
    page.locator(".span-row", has_text="agent Friday").locator(".toggle").click()
    page.locator(".span-kids .span-row", has_text="get_weather").wait_for()
    return {
        "status": page.locator("#run-status").inner_text(),
        "bubbles": page.locator("#chat-items .reply").all_inner_texts(),
        "answer": page.locator(".reply.from-user .structured").inner_text(),
        "spans": page.locator("#trace-roots .span-name").all_inner_texts(),
        "stats": page.locator("#trace-stats").inner_text(),
    }


def import_bundle(server, data):
    return requests.post(
        f"{server.url}/api/v1/bundles", data=data, headers={"Content-Type": "application/gzip"}, timeout=30
    )


def test_a_bundle_imported_into_a_fresh_studio_shows_the_same_run_page(studio, original, fresh_studio, page):
    download = requests.get(f"{studio.url}/api/v1/runs/{original}/bundle", timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/gzip"
    assert ".studio-run.jsonl.gz" in download.headers["Content-Disposition"]
    data = download.content
    fresh = fresh_studio.start()

    imported = import_bundle(fresh, data)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] is True and imported.json()["added"]["span"] == len(spans(studio, original))
    assert spans(fresh, original) == spans(studio, original)
    before = what_a_person_sees(page, studio, original)
    after = what_a_person_sees(page, fresh, original)
    screenshot(page, "bundle-imported-run")
    assert after == before
    assert '"guest": "Ada Lovelace"' in after["answer"] and any("sunny in Paris" in b for b in after["bubbles"])

    # Twice: nothing more. Broken or of an unknown version: refused, saying why, nothing changed.
    stored = counts(fresh)
    again = import_bundle(fresh, data)
    assert again.status_code == 200 and set(again.json()["added"].values()) == {0}
    cut_short = import_bundle(fresh, data[: len(data) // 2])
    assert cut_short.status_code == 400 and "cannot be read" in cut_short.json()["error"]
    lines = gzip.decompress(data).splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "version": 2}).encode()
    lines[1] = json.dumps({**json.loads(lines[1]), "id": "another-run"}).encode()
    unknown = import_bundle(fresh, gzip.compress(b"\n".join(lines)))
    assert unknown.status_code == 400 and "format version 2" in unknown.json()["error"]
    assert counts(fresh) == stored


def test_a_runs_otlp_json_posted_to_a_fresh_studio_stores_the_same_spans(studio, original, tmp_path):
    download = requests.get(f"{studio.url}/api/v1/runs/{original}/spans/otlp", timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/json"
    assert download.json()["resourceSpans"][0]["scopeSpans"][0]["spans"]
    with StudioServer(tmp_path / "otlp") as fresh:
        posted = requests.post(
            f"{fresh.url}/v1/traces", data=download.content, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert posted.status_code == 200 and "rejectedSpans" not in posted.text, posted.text
        assert spans(fresh) == spans(studio, original)
