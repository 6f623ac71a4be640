"""Traces end to end: the real agentscope exporter, a plain OpenTelemetry program, and the trace
view in real Chromium."""

import json
import subprocess
import uuid

import pytest
import requests

from tests.factories import served_run
from tests.support.agentscope_env import AGENTS, agentscope_python, run_agent
from tests.support.browser import screenshot
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e


def run_traced_agent(studio, project, run_id, env=None):
    done = run_agent("1.0.21", "traced_react.py", studio.url, run_id, env={"STUDIO_PROJECT": project, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr


def spans_of(studio, run_id):
    return query(studio, "SELECT * FROM traces_span WHERE run_id = ? ORDER BY start_time_ns", run_id)


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_the_real_exporter_fills_the_runs_trace_view_and_statistics_match_the_model(studio, compression):
    project, run_id = f"Traced {uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:16]
    proxy = TcpProxy(studio.port)
    try:
        run_traced_agent(
            studio,
            project,
            run_id,
            env={
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": compression,
                "STUDIO_TRACING_URL": proxy.url + "/v1/traces",
            },
        )
        spans = wait_for(lambda: len(spans_of(studio, run_id)) >= 7 and spans_of(studio, run_id), message="the spans")
    finally:
        proxy.close()
    wire = bytes(proxy.sent).lower()
    assert b"post /v1/traces" in wire
    assert (b"content-encoding: gzip" in wire) == (compression == "gzip")

    operations = [span["operation"] for span in spans]
    assert operations.count("invoke_agent") == 1 and operations.count("chat") == 2
    assert operations.count("execute_tool") == 1 and operations.count("format") == 2
    chats = [span for span in spans if span["operation"] == "chat"]
    assert [(span["input_tokens"], span["output_tokens"]) for span in chats] == [(123, 45), (150, 60)]
    failing = next(span for span in spans if span["name"].endswith("failing_function"))
    assert failing["status_code"] == 2 and "boom" in failing["status_message"]

    panel = requests.get(f"{studio.url}/runs/{run_id}/trace/").text
    assert "273 in · 105 out" in panel and ">378<" in panel  # 123 + 150 in, 45 + 60 out
    assert "scripted-model-1" in panel and "get_weather" in panel


def test_a_plain_opentelemetry_program_appears_under_its_service(studio, page):
    service = f"shop-{uuid.uuid4().hex[:6]}"
    python = agentscope_python("1.0.21")  # its venv has the OpenTelemetry SDK and exporter
    done = subprocess.run(
        [str(python), str(AGENTS / "plain_otel.py"), service],
        capture_output=True,
        text=True,
        timeout=60,
        env={"STUDIO_URL": studio.url, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    traces = wait_for(
        lambda: query(
            studio,
            "SELECT t.* FROM traces_trace t JOIN projects_project p ON p.id = t.project_id WHERE p.name = ?",
            service,
        ),
        message="the trace",
    )
    (trace,) = traces
    assert trace["name"] == "GET /checkout" and trace["span_count"] == 3 and trace["error_count"] == 1
    root = query(
        studio, "SELECT attributes FROM traces_span WHERE trace_id = ? AND parent_span_id = ''", trace["trace_id"]
    )[0]
    attributes = json.loads(root["attributes"])
    assert attributes["retry.enabled"] is True and attributes["cart.items"] == [3, 5, 8]
    listing = requests.get(f"{studio.url}/projects/{service}/traces/")
    assert listing.status_code == 200 and "GET /checkout" in listing.text and "1 error" in listing.text

    # A person finds it from the projects page, and opens its tree.
    page.goto(studio.url + "/")
    page.locator("#project-rows tr", has_text=service).get_by_role("link", name="traces").click()
    page.get_by_role("link", name="GET /checkout").wait_for()
    screenshot(page, "traces-page")
    page.get_by_role("link", name="GET /checkout").click()
    page.locator(".span-row", has_text="/checkout").first.wait_for()
    # A small trace opens its first level: the failing child shows without a click.
    page.locator(".span-kids .span-row.error").wait_for()
    screenshot(page, "trace-page")


def test_a_person_opens_the_trace_view_expands_the_tree_and_reads_an_exception(studio, page):
    project, run_id = f"Traced UI {uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:16]
    page.goto(studio.url + "/")
    # The page is open before the agent runs: its spans must arrive live.
    run_traced_agent(studio, project, run_id)
    page.goto(f"{studio.url}/projects/{project}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    tree = page.locator("#trace-roots")
    tree.locator(".span-row", has_text="agent Friday").wait_for()

    # Expand the agent span: its LLM calls, formatter and tool call load beneath it.
    page.locator(".span-row", has_text="agent Friday").locator(".toggle").click()
    page.locator(".span-kids .span-row", has_text="tool get_weather").wait_for()
    assert page.locator(".span-kids .span-row").count() == 5
    bar = page.locator(".span-kids .span-row", has_text="get_weather").locator(".span-bar")
    assert bar.evaluate("el => parseFloat(el.style.width)") > 0

    # The failing function: marked in the tree, its exception readable in the detail.
    failing = page.locator(".span-row.error", has_text="failing_function")
    failing.locator(".span-name").click()
    detail = page.locator("#span-detail .exception")
    detail.wait_for()
    assert "ValueError" in detail.inner_text() and "boom: the intentional failure" in detail.inner_text()
    assert "Traceback (most recent call last)" in detail.inner_text()
    page.click("[data-trace-wide]")
    screenshot(page, "trace-view")

    # The agent's reply in the chat leads to its span, and back.
    page.locator(".reply", has_text="It is sunny in Paris").locator(".reply-spans").click()
    page.locator("#span-detail h3", has_text="invoke_agent Friday").wait_for()
    assert page.locator(".span-node.highlight > .span-row", has_text="agent Friday").count() == 1
    page.locator("#span-detail [data-goto-reply]").click()
    page.locator(".reply.flash").wait_for()


def test_spans_appear_live_on_an_open_run_page(studio, page):
    project = f"Live traces {uuid.uuid4().hex[:6]}"
    run_id = served_run(studio, project, name="live", timestamp="", pid=1)
    page.goto(f"{studio.url}/projects/{project}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    page.wait_for_selector("#trace-empty")
    # The exporter of the real client, pointed at the run the page shows.
    run_traced_agent(studio, project, run_id)
    page.locator("#trace-roots .span-row", has_text="agent Friday").wait_for(timeout=15000)
    page.locator("#trace-roots .span-row", has_text="failing_function").wait_for()
    assert page.locator("#trace-empty").count() == 0
    wait_for(lambda: "378" in page.locator("#trace-stats").inner_text(), message="live statistics")


def otlp_json_span(trace_id, span_id, parent, name, start, attributes):
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1_000_000),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }


def test_a_nested_agents_reply_opens_the_tree_down_to_its_span(studio, page):
    project = f"Nested {uuid.uuid4().hex[:6]}"
    run_id = served_run(studio, project, name="nested", pid=1)
    studio.post(
        "pushMessage",
        {
            "runId": run_id,
            "replyId": "inner-reply",
            "replyName": "Inner",
            "replyRole": "assistant",
            "msg": {
                "id": "m-inner",
                "name": "Inner",
                "role": "assistant",
                "metadata": {},
                "content": [{"type": "text", "text": "the inner agent's answer"}],
            },
        },
    )
    trace, start, run = uuid.uuid4().hex, 1_800_000_000_000_000_000, json.dumps(run_id)
    spans = [
        otlp_json_span(
            trace,
            "0000000000000001",
            "",
            "invoke_agent Outer",
            start,
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": run},
        ),
        otlp_json_span(
            trace,
            "0000000000000002",
            "0000000000000001",
            "execute_tool ask_inner",
            start + 10,
            {"gen_ai.operation.name": "execute_tool", "gen_ai.conversation.id": run},
        ),
        otlp_json_span(
            trace,
            "0000000000000003",
            "0000000000000002",
            "invoke_agent Inner",
            start + 20,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.conversation.id": run,
                "agentscope.function.output": "\"Msg(id='m-inner', name='Inner', content=[])\"",
            },
        ),
    ]
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "agentscope"}, "spans": spans}]}]}
    assert requests.post(f"{studio.url}/v1/traces", json=body, timeout=10).status_code == 200

    page.goto(f"{studio.url}/projects/{project}/runs/{run_id}/")
    page.locator("#trace-roots .span-row", has_text="Outer").wait_for()
    assert page.locator(".span-row", has_text="Inner").count() == 0  # two levels down, not loaded
    page.locator(".reply", has_text="the inner agent's answer").locator(".reply-spans").click()
    page.locator("#span-detail h3", has_text="invoke_agent Inner").wait_for()
    page.locator(".span-node.highlight > .span-row", has_text="Inner").wait_for()
