"""agentscope 2.x, which has no studio client, end to end: the real 2.0.11 package traced by the
OpenTelemetry SDK, its conversation a live run in real Chromium."""

import uuid
from urllib.parse import quote

import pytest

from tests.support.agentscope_env import run_agent
from tests.support.browser import screenshot
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e


def test_a_2x_conversation_appears_live_as_a_run_with_its_chat_once(studio, page):
    service = f"v2-{uuid.uuid4().hex[:6]}"
    page.goto(studio.url + "/")
    page.wait_for_selector("#live-status.on")

    done = run_agent("2.0.11", "otel_only_v2.py", studio.url, service)
    assert done.returncode == 0 and "sunny and 25°C" in done.stdout, done.stdout + done.stderr

    # The projects page was open before the program ran: the project and its run come live.
    page.locator("#project-rows", has_text=service).wait_for(timeout=30_000)
    [run] = wait_for(
        lambda: query(
            studio,
            "SELECT r.* FROM runs_run r JOIN projects_project p ON p.id = r.project_id WHERE p.name = ?",
            service,
        ),
        message="the run",
    )
    assert run["origin"] == "otel" and run["name"].startswith("Weatherman · ")
    wait_for(
        lambda: len(query(studio, "SELECT id FROM runs_message WHERE run_id = ?", run["id"])) >= 4, message="the chat"
    )

    page.goto(f"{studio.url}/projects/{quote(service)}/runs/{quote(run['id'])}/")
    reply = page.locator(".reply")
    reply.first.wait_for()
    assert reply.count() == 1
    text = reply.inner_text()
    for said in ("What is the weather in Paris?", "Paris: sunny, 25°C", "In Paris it is sunny and 25°C."):
        assert text.count(said) == 1, said
    assert reply.locator(".thinking").count() == 1
    assert reply.locator(".tool-use").count() == 1 and "get_weather" in reply.locator(".tool-use").inner_text()
    assert reply.locator(".tool-result").count() == 1
    assert "returned" in reply.locator(".tool-use .tool-state").inner_text(), "the call is paired with its result"
    assert page.locator(".run-row.current .badge").inner_text() == "Running"
    screenshot(page, "otel-conversation-run")


def test_a_program_with_only_the_otel_sdk_and_genai_attributes_is_a_run_with_its_chat_once(studio, page):
    service = f"by-hand-{uuid.uuid4().hex[:6]}"
    page.goto(studio.url + "/")
    page.wait_for_selector("#live-status.on")

    done = run_agent("1.0.21", "genai_by_hand.py", studio.url, service)  # its venv has the OTel SDK
    assert done.returncode == 0, done.stdout + done.stderr
    conversation = done.stdout.split()[-1]

    page.locator("#project-rows", has_text=service).wait_for(timeout=30_000)
    wait_for(
        lambda: len(query(studio, "SELECT id FROM runs_message WHERE run_id = ?", conversation)) >= 4,
        message="the chat",
    )
    page.goto(f"{studio.url}/projects/{quote(service)}/runs/{quote(conversation)}/")
    reply = page.locator(".reply")
    reply.first.wait_for()
    assert reply.count() == 1
    text = reply.inner_text()
    for said in ("Is it warm in Lisbon?", "Lisbon: 24°C, clear", "Yes: 24°C"):
        assert text.count(said) == 1, said
    # The reasoning, folded as a thinking block is.
    assert reply.locator(".thinking").count() == 1
    assert "I should look the weather up." in reply.locator(".thinking").text_content()
    assert "You are a travel helper." not in text  # a system prompt is an instruction, seen on the span
    assert reply.locator(".tool-use").count() == 1 and "weather" in reply.locator(".tool-use").inner_text()
    assert "returned" in reply.locator(".tool-use .tool-state").inner_text(), "the call is paired with its result"
    screenshot(page, "otel-by-hand-run")
