"""A GenAI conversation that no studio client registered (agentscope 2.x) becomes a run with a
chat, through the real OTLP endpoint."""

import pytest
from django.urls import reverse

from projects.events import PROJECTS_GROUP, project_group
from projects.models import Project
from runs.models import Message, Reply, Run
from tests.factories import push, register
from tests.support.captures import capture_spans
from traces.models import Span, Trace

from .bodies import fresh_ids, json_body, protobuf_body

pytestmark = pytest.mark.django_db
CAPTURE = "agentscope-2.0.11-otlp-only.jsonl"
CONVERSATION = "be29bb839f9649cc97b95821322ba97d"


def post(client, spans, as_json=False):
    body, kind = (json_body(spans), "application/json") if as_json else (protobuf_body(spans), "application/x-protobuf")
    response = client.post("/v1/traces", data=body, content_type=kind)
    assert response.status_code == 200, response.content
    return response


def chat(run):
    """(reply id, reply name, [(message name, role, block types)]) of each reply, in order."""
    return [
        (
            reply.reply_id,
            reply.name,
            [(m.name, m.role, [b["type"] for b in m.blocks]) for m in reply.messages.order_by("pk")],
        )
        for reply in Reply.objects.filter(run=run).order_by("pk")
    ]


EXPECTED = [
    (
        "116f254c59b2e631",
        "Friday2",
        [
            ("user", "user", ["text"]),
            ("Friday2", "assistant", ["thinking", "tool_use"]),
            ("get_weather", "tool", ["tool_result"]),
            ("Friday2", "assistant", ["text"]),
        ],
    )
]


def test_the_spans_of_an_unregistered_conversation_make_a_run_in_the_project_of_their_service(client):
    post(client, capture_spans(CAPTURE))
    run = Run.objects.get(pk=CONVERSATION)
    assert (run.origin, run.status, run.project.name) == ("otel", "running", "fake_run_v2")
    assert run.name == "Friday2 · be29bb83"
    assert Span.objects.filter(run=run).count() == 4
    assert Trace.objects.get(trace_id="e9d32bb358f461004bd719545b8b4755").run_id == run.pk
    assert chat(run) == EXPECTED
    final = Message.objects.filter(run=run).order_by("pk").last()
    assert final.content == [{"type": "text", "text": "Paris is sunny."}]


def test_spans_posted_again_or_in_later_batches_add_nothing_and_keep_the_order(client):
    spans = sorted(capture_spans(CAPTURE), key=lambda span: int(span["end"]))
    # As the exporter sends them: children first, the agent span (which ends last) in a later batch.
    post(client, spans[:2])
    post(client, spans[2:], as_json=True)
    run = Run.objects.get(pk=CONVERSATION)
    first = list(Message.objects.filter(run=run).order_by("pk").values_list("pk", "msg_id"))
    post(client, spans)
    assert chat(run) == EXPECTED
    assert list(Message.objects.filter(run=run).order_by("pk").values_list("pk", "msg_id")) == first
    assert Span.objects.count() == 4 and Run.objects.count() == 1


def test_spans_arriving_out_of_order_still_give_each_message_once_in_order(client):
    spans = sorted(capture_spans(CAPTURE), key=lambda span: int(span["start"]))
    post(client, [spans[3]])  # the second LLM call first
    post(client, spans[:3])
    assert chat(Run.objects.get(pk=CONVERSATION)) == EXPECTED


def test_a_second_conversation_of_the_program_makes_a_run_of_its_own(client):
    post(client, capture_spans(CAPTURE))
    other = [
        {**span, "attributes": {**span["attributes"], "gen_ai.conversation.id": "another-session"}}
        for span in fresh_ids(capture_spans(CAPTURE), "other")
    ]
    post(client, other)
    assert set(Run.objects.values_list("pk", flat=True)) == {CONVERSATION, "another-session"}
    assert chat(Run.objects.get(pk="another-session"))[0][2] == EXPECTED[0][2]


def test_a_registered_run_with_the_conversation_id_keeps_its_own_messages_and_gets_none_from_spans(client):
    run = register(client, CONVERSATION)
    push(client, run_id=CONVERSATION)
    post(client, capture_spans(CAPTURE))
    run = Run.objects.get(pk=CONVERSATION)
    assert run.origin == "studio"
    assert Span.objects.filter(run=run).count() == 4
    assert [m.msg_id.startswith("otel-") for m in Message.objects.filter(run=run)] == [False]
    assert Reply.objects.filter(run=run).count() == 1


def test_agentscope_1x_spans_waiting_for_their_run_make_no_run(client):
    spans = [
        {**span, "attributes": {**span["attributes"], "gen_ai.conversation.id": '"not-registered-yet"'}}
        for span in capture_spans(CAPTURE)
    ]
    post(client, spans)
    assert not Run.objects.exists()
    assert set(Span.objects.values_list("run_key", flat=True)) == {"not-registered-yet"}


def test_the_run_page_shows_the_chat_and_the_reply_leads_to_its_agent_span(client):
    post(client, capture_spans(CAPTURE))
    run = Run.objects.get(pk=CONVERSATION)
    html = client.get(reverse("run", args=[run.project.name, run.pk])).content.decode()
    for text in ("Weather in Paris?", "need the weather tool", "get_weather", "Paris: sunny, 25°C.", "Paris is sunny."):
        assert html.count(text) >= 1, text
    assert html.count("Paris is sunny.") == 1
    reply = Reply.objects.get(run=run)
    spans = client.get(reverse("reply-spans", args=[run.pk, reply.pk])).content.decode()
    assert 'data-span-id="116f254c59b2e631"' in spans and "invoke_agent Friday2" in spans


def test_the_projects_page_lists_the_project_with_its_running_run(client):
    post(client, capture_spans(CAPTURE))
    assert Project.objects.get(name="fake_run_v2").runs.filter(status="running").count() == 1
    assert "fake_run_v2" in client.get("/").content.decode()


def test_a_failing_rebuild_is_logged_and_the_spans_are_still_stored_and_answered(client, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr("runs.from_spans.rebuild", broken)
    post(client, capture_spans(CAPTURE))
    assert Span.objects.count() == 4
    assert "rebuilding the chat of conversation" in caplog.text


def test_open_pages_are_told_of_the_new_run_each_message_once_and_the_spans(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("studio.live.publish_now", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, capture_spans(CAPTURE))
    events = [event for _, event in sent]
    messages = [event["message"] for event in events if event["kind"] == "message"]
    assert sorted(messages) == sorted(Message.objects.filter(run_id=CONVERSATION).values_list("pk", flat=True))
    run_groups = [groups for groups, event in sent if event["kind"] == "run" and event["run"] == CONVERSATION]
    project = Project.objects.get(name="fake_run_v2")
    assert run_groups and {PROJECTS_GROUP, project_group(project.pk)} <= set(run_groups[0])
    assert any(event["kind"] == "spans" and event["run"] == CONVERSATION for event in events)

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post(client, capture_spans(CAPTURE))
    assert not [event for _, event in sent if event["kind"] == "message"]  # nothing changed


def test_a_message_pushed_to_a_run_made_from_spans_survives_its_rebuilds(client):
    post(client, capture_spans(CAPTURE))
    push(client, run_id=CONVERSATION, reply_id="pushed-reply")
    spans = sorted(capture_spans(CAPTURE), key=lambda span: int(span["start"]))
    post(client, fresh_ids(spans, "later"))  # a later turn: the chat is rebuilt
    assert Reply.objects.filter(run_id=CONVERSATION, reply_id="pushed-reply").count() == 1
    assert Message.objects.filter(run_id=CONVERSATION).exclude(msg_id__startswith="otel-").count() == 1


def test_messages_stored_again_in_order_are_taken_out_of_open_pages_first(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    from runs.consumers import RunConsumer

    # The exporter sends a later turn (about Lisbon) before the first one (about Paris).
    later = [
        {
            **span,
            "start": str(int(span["start"]) + 10**12),
            "end": str(int(span["end"]) + 10**12),
            "attributes": {
                k: v.replace("Paris", "Lisbon") if isinstance(v, str) else v for k, v in span["attributes"].items()
            },
        }
        for span in fresh_ids(capture_spans(CAPTURE), "turn2")
    ]
    post(client, later)
    before = set(Message.objects.filter(run_id=CONVERSATION).values_list("pk", flat=True))
    replies_before = set(Reply.objects.filter(run_id=CONVERSATION).values_list("pk", flat=True))
    sent = []
    monkeypatch.setattr("studio.live.publish_now", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, capture_spans(CAPTURE))  # the earlier turn: the later one is stored again after it
    after = set(Message.objects.filter(run_id=CONVERSATION).values_list("pk", flat=True))
    kinds = [event["kind"] for _, event in sent]
    [removed] = [event for _, event in sent if event["kind"] == "removed"]
    assert set(removed["messages"]) == before - after and removed["messages"]
    assert set(removed["replies"]) <= replies_before
    # Taken out before any message is sent again, so a page never shows one twice.
    assert kinds.index("removed") < kinds.index("message")

    page = RunConsumer()
    page.run_id, page.replies_sent = CONVERSATION, set(removed["replies"])
    html = page.render(removed)
    for pk in removed["messages"]:
        assert f'<div id="msg-{pk}" data-live="remove"></div>' in html
    for pk in removed["replies"]:
        assert f'<div id="reply-{pk}" data-live="remove"></div>' in html
    assert not page.replies_sent  # the bubble of a reply stored again is sent again
    texts = [m.content[-1].get("text") for m in Message.objects.filter(run_id=CONVERSATION).order_by("pk")]
    assert texts[3] == "Paris is sunny." and texts[-1] == "Lisbon is sunny."
