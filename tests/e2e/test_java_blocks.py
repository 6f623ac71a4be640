"""A run as the AgentScope Java client writes it, in real Chromium: hints, media, roles."""

import json
import uuid
from pathlib import Path

import pytest

from tests.support.browser import screenshot

pytestmark = pytest.mark.e2e

CAPTURE = Path(__file__).parents[1] / "captures" / "agentscope-java-2.0-shaped.jsonl"


def java_bodies(run_id, project):
    """The capture's bodies, under a run id and project of this test's own."""
    bodies = []
    for line in CAPTURE.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] != "http":
            continue
        body = record["body"]
        if record["path"].endswith("/registerRun"):
            body = {**body, "id": run_id, "project": project}
        else:
            body = {**body, "runId": run_id}
        bodies.append((record["path"].rsplit("/", 1)[1], body))
    return bodies


def test_a_java_run_shows_hints_media_and_downloads_and_takes_new_ones_live(studio, page):
    run_id, project = uuid.uuid4().hex[:16], f"Java {uuid.uuid4().hex[:6]}"
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    bodies = java_bodies(run_id, project)
    for procedure, body in bodies[:-1]:
        assert studio.post(procedure, body).status_code == 200

    page.goto(f"{studio.url}/projects/{project}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    hint = page.locator(".hint", has_text="Retrieved passage")
    assert hint.locator(".hint-source").inner_text() == "rag"
    assert hint.locator("strong", has_text="Q3 revenue").count() == 1
    # The user's chart (base64 PNG) is decoded and drawn; the user's reply is on the user's side.
    user_image = page.locator(".reply.from-user .media.data img")
    user_image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 32", arg=user_image.element_handle())
    assert page.locator(".tool-result .download", has_text="q3.pdf").get_attribute("download") == "q3.pdf"

    # The last message arrives while the page is open.
    procedure, body = bodies[-1]
    assert studio.post(procedure, body).status_code == 200
    page.locator("audio[src='https://example.com/media/reading.mp3']").wait_for(state="attached", timeout=10_000)
    assert page.locator("video[src='https://cdn.example.com/v/8f2e']").count() == 1
    download = page.locator(".media.data .download", has_text="revenue.csv")
    assert download.get_attribute("download") == "revenue.csv"
    images = page.locator(".media.data img")
    assert images.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media.data img')].every(i => i.complete && i.naturalWidth === 32)"
    )
    assert page.locator("pre.json", has_text='"type": "hint"').count() == 0
    assert page.locator(".hint", has_text="Reminder: answer in one short paragraph.").count() == 1
    page.locator(".hint", has_text="Retrieved passage").scroll_into_view_if_needed()
    screenshot(page, "java-run-blocks")
    page.locator("#chat").evaluate("chat => chat.scrollTop = chat.scrollHeight")
    screenshot(page, "java-run-media")
    assert errors == []
