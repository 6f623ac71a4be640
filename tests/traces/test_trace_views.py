"""The trace panel of the run page, a span's detail, and a project's traces page."""

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import Project
from tests.factories import make_run, register, replay_capture
from tests.support.captures import capture_spans
from tests.support.html import TagCollector
from traces import ingest
from traces.models import ModelPrice, Span, Trace

from .bodies import fresh_ids, protobuf_body, with_run_id

pytestmark = pytest.mark.django_db


def plain_span(n, trace_id, run=None, project=None, parent="", **fields):
    return Span(
        trace_id=trace_id,
        span_id=f"{n:016x}",
        parent_span_id=parent,
        run=run,
        project=project or (run.project if run else None),
        name=f"span {n}",
        start_time_ns=1_800_000_000_000_000_000 + n * 1000,
        end_time_ns=1_800_000_000_000_000_000 + n * 1000 + 500,
        **fields,
    )


def test_the_trace_panel_shows_the_statistics_the_model_reported(client):
    run = replay_capture(client)
    html = client.get(reverse("run-trace", args=[run.pk])).content.decode()
    assert "LLM calls" in html
    stats_part = html.split('id="trace-stats"')[1].split("</dl>")[0]
    assert ">2<" in stats_part  # two LLM calls
    assert ">336<" in stats_part and "246 in · 90 out" in stats_part
    assert "fake-model-1" in html and "get_weather" in html
    # The roots: the agent reply and the two traced functions, the failing one marked.
    assert html.count('class="span-node"') == 3
    assert "invoke_agent Friday" in html and 'class="err-mark"' in html


def test_the_estimated_cost_uses_the_price_table_by_longest_prefix(client):
    ModelPrice.objects.create(model="fake", input_per_million=Decimal("1"), output_per_million=Decimal("1"))
    ModelPrice.objects.create(model="fake-model", input_per_million=Decimal("2"), output_per_million=Decimal("10"))
    run = replay_capture(client)
    html = client.get(reverse("run-trace", args=[run.pk])).content.decode()
    # 246 input tokens at 2 per million, 90 output tokens at 10 per million.
    expected = (Decimal(246) * 2 + Decimal(90) * 10) / 1_000_000
    assert f"{expected:.4f} USD" in html


def test_children_load_on_demand_and_a_span_detail_shows_inputs_outputs_and_the_exception(client):
    run = replay_capture(client)
    agent = Span.objects.get(run=run, operation="invoke_agent")
    children = client.get(reverse("span-children", args=[agent.pk])).content.decode()
    assert children.count('class="span-node"') == 5
    assert children.index("format openai") < children.index("execute_tool get_weather")

    chat = Span.objects.filter(run=run, operation="chat").first()
    detail = client.get(reverse("span-detail", args=[chat.pk])).content.decode()
    assert "agentscope.function.input" in detail and "gen_ai.output.messages" in detail
    assert "It is sunny in Paris" in detail or "Let me check the weather" in detail
    assert "123 in · 45 out · 168 total" in detail
    assert 'data-goto-reply="reply-' in detail  # it leads to its reply in the chat

    failing = Span.objects.get(run=run, name="invoke_generic_function failing_function")
    detail = client.get(reverse("span-detail", args=[failing.pk])).content.decode()
    assert "ValueError" in detail and "Traceback (most recent call last)" in detail


def test_a_reply_leads_to_the_agent_span_that_produced_it(client):
    run = replay_capture(client)
    reply = run.replies.get(reply_id="N4RZGwaXE6GgkCsKzuompG")
    html = client.get(reverse("reply-spans", args=[run.pk, reply.pk])).content.decode()
    agent = Span.objects.get(run=run, operation="invoke_agent")
    assert f'data-span-id="{agent.span_id}"' in html and "invoke_agent Friday" in html
    user_reply = run.replies.get(reply_id="Q9HhnkMxkd2HZnqX64TP9E")
    assert (
        "No spans for this reply" in client.get(reverse("reply-spans", args=[run.pk, user_reply.pk])).content.decode()
    )


def test_a_run_with_10000_spans_opens_its_trace_panel_in_bounded_queries_and_size(client):
    run = make_run("huge", "Huge")
    spans = []
    for root in range(1000):
        trace_id = f"{root:032x}"
        spans.append(plain_span(root * 10, trace_id, run, operation="invoke_agent"))
        spans.extend(
            plain_span(
                root * 10 + k,
                trace_id,
                run,
                parent=f"{root * 10:016x}",
                operation="chat",
                model="m",
                input_tokens=10,
                output_tokens=5,
            )
            for k in range(1, 10)
        )
    Span.objects.bulk_create(spans)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("run-trace", args=[run.pk]))
    assert response.status_code == 200
    assert len(queries) <= 12
    html = response.content.decode()
    assert html.count('class="span-node"') == 50  # the latest roots only
    assert len(response.content) < 120_000
    assert "Show earlier spans" in html
    assert ">9000<" in html  # LLM calls counted over the whole run


def test_earlier_roots_page_back_in_time(client):
    run = make_run("paged", "Paged")
    Span.objects.bulk_create(plain_span(n, f"{n:032x}", run) for n in range(120))
    first = client.get(reverse("run-trace", args=[run.pk])).content.decode()
    assert "span 119" in first and "span 70" in first and "span 69<" not in first
    oldest_shown = Span.objects.get(run=run, name="span 70")
    earlier = client.get(
        reverse("run-trace", args=[run.pk]) + f"?before={oldest_shown.start_time_ns}:{oldest_shown.pk}"
    )
    html = earlier.content.decode()
    assert "span 69<" in html and "span 20<" in html and "span 70<" not in html


def test_hostile_span_content_is_inert(client):
    run = make_run("hostile", "Hostile")
    evil_messages = json.dumps(
        [
            {
                "role": "user",
                "parts": [
                    {
                        "type": "text",
                        "content": "[click](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>",
                    }
                ],
            }
        ]
    )
    span = plain_span(
        1,
        "f" * 32,
        run,
        operation="chat",
        attributes={"gen_ai.input.messages": evil_messages, "<b>key</b>": "<script>alert(4)</script>"},
    )
    span.name = "<script>alert(5)</script>"
    span.save()
    panel = client.get(reverse("run-trace", args=[run.pk])).content.decode()
    detail = client.get(reverse("span-detail", args=[span.pk])).content.decode()
    for html in (panel, detail):
        tags = TagCollector()
        tags.feed(html)
        assert not [tag for tag, _ in tags.tags if tag in ("script", "img", "iframe")]
        assert not [attrs for _, attrs in tags.tags if any(name.startswith("on") for name in attrs)]
        assert not [attrs for _, attrs in tags.tags if "javascript:" in (attrs.get("href") or "")]
    assert "click" in detail  # the text itself is still there to read
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in panel


def test_the_traces_page_lists_filters_and_paginates(client):
    replay_capture(client)
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "other")
    client.post("/v1/traces", data=protobuf_body(spans), content_type="application/x-protobuf")
    url = reverse("project-traces", args=["FakeProject"])
    html = client.get(url).content.decode()
    assert html.count("<tr>") == 1 + 3  # header and three traces
    assert "invoke_agent Friday" in html and "1 error" in html
    errors = client.get(url + "?status=error").content.decode()
    assert "failing_function" in errors and "invoke_agent Friday" not in errors
    by_model = client.get(url + "?model=fake-model-1").content.decode()
    assert "invoke_agent Friday" in by_model and "my_generic_function" not in by_model
    by_name = client.get(url + "?name=generic").content.decode()
    assert by_name.count("<tr>") == 1 + 2
    recent = client.get(url + "?range=15m").content.decode()
    assert "No trace matches these filters" in recent  # the capture is from another day

    project = Project.objects.get(name="FakeProject")
    Span.objects.bulk_create(plain_span(n, f"{n + 1000:032x}", project=project) for n in range(60))
    ingest.update_traces({f"{n + 1000:032x}" for n in range(60)})
    page_one = client.get(url).content.decode()
    assert "Page 1 of 2" in page_one and page_one.count("<tr>") == 1 + 50
    page_two = client.get(url + "?page=2").content.decode()
    assert page_two.count("<tr>") == 1 + 13


def test_a_trace_of_a_program_without_runs_has_its_own_page(client):
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "page")
    client.post("/v1/traces", data=protobuf_body(spans), content_type="application/x-protobuf")
    trace = Trace.objects.filter(project__name="fake_run_v2").first()
    html = client.get(reverse("trace", args=["fake_run_v2", trace.trace_id])).content.decode()
    assert trace.name in html and 'class="span-node"' in html
    assert client.get(reverse("trace", args=["FakeProject", trace.trace_id])).status_code == 404


def test_linked_spans_are_deleted_with_their_run(client):
    run = replay_capture(client)
    client.post(reverse("run-delete", args=[run.pk]))
    assert not Span.objects.filter(run_id=run.pk).exists()
    assert not Trace.objects.filter(run_id=run.pk).exists()


def test_spans_sent_for_two_runs_in_one_batch_go_to_each(client):
    for run_id in ("run-a", "run-b"):
        register(client, run_id, "Two", name=run_id, timestamp="", pid=1)
    spans = with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), "a"), "run-a") + with_run_id(
        fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), "b"), "run-b"
    )
    client.post("/v1/traces", data=protobuf_body(spans), content_type="application/x-protobuf")
    assert Span.objects.filter(run_id="run-a").count() >= 6
    assert Span.objects.filter(run_id="run-b").count() >= 6


def test_costs_in_different_currencies_are_totalled_apart():
    run = make_run("priced", "Priced")
    ModelPrice.objects.create(
        model="gpt", input_per_million=Decimal("1"), output_per_million=Decimal("2"), currency="USD"
    )
    ModelPrice.objects.create(
        model="qwen", input_per_million=Decimal("4"), output_per_million=Decimal("8"), currency="CNY"
    )
    Span.objects.bulk_create(
        [
            plain_span(
                1, "b" * 32, run, operation="chat", model="gpt-4o", input_tokens=1_000_000, output_tokens=1_000_000
            ),
            plain_span(2, "b" * 32, run, operation="chat", model="qwen-max", input_tokens=1_000_000, output_tokens=0),
        ]
    )
    from traces.stats import run_stats

    assert run_stats(run.pk).costs == [
        {"currency": "CNY", "amount": Decimal(4)},
        {"currency": "USD", "amount": Decimal(3)},
    ]
    html = Client().get(reverse("run-trace", args=[run.pk])).content.decode()
    assert "4.0000 CNY + 3.0000 USD" in html


def new_live_run():
    from traces.live_render import last_span_pk

    run = make_run("live", "Live")
    return run, last_span_pk(run.pk)


def stored_like_exporter(spans):
    """One span at a time, in the given order (pks in arrival order)."""
    for span in spans:
        span.save()


def test_a_live_batch_with_its_root_last_shows_the_root_alone_with_its_children_counted():
    from traces.live_render import render_spans_update

    run, seen = new_live_run()
    # An exporter's batch: the agent's 400 children first, the agent span itself last.
    stored_like_exporter(
        [*(plain_span(n, "a" * 32, run, parent=f"{1:016x}") for n in range(2, 402)), plain_span(1, "a" * 32, run)]
    )
    html, seen_now = render_spans_update(run.pk, seen)
    assert seen_now == Span.objects.filter(run=run).latest("pk").pk
    assert html.count('class="span-node"') == 1 and "span 1<" in html and "span 2<" not in html
    assert ">400<" in html  # its children, opened on demand
    assert 'id="trace-roots" data-live="replace"' not in html  # the open tree stays as it is


def test_more_new_roots_than_can_be_placed_one_by_one_refresh_the_latest_roots_whole():
    from traces.live_render import MAX_ROWS, render_spans_update

    run, seen = new_live_run()
    Span.objects.bulk_create(plain_span(n, f"{n:032x}", run) for n in range(MAX_ROWS + 1))
    html, _ = render_spans_update(run.pk, seen)
    assert '<ul class="span-tree" id="trace-roots" data-live="replace">' in html
    assert html.count('class="span-node"') == 50  # the latest roots, as on first load
