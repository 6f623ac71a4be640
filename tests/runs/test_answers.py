"""Recording a person's answer: checked against the request, taken once, never for another run."""

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.urls import reverse

from runs import answers, events
from runs.answers import record_answer, structured_errors
from runs.models import InputRequest, Run
from studio.rejected import Rejected
from tests.factories import make_question, make_run
from tests.support.backends import through_async_views
from tests.support.waiting import run_async

pytestmark = pytest.mark.django_db

BOOKING = {
    "title": "Booking",
    "type": "object",
    "required": ["guest", "address"],
    "$defs": {
        "Room": {"type": "string", "enum": ["single", "double"]},
        "Address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
    },
    "properties": {
        "guest": {"type": "string"},
        "nights": {"type": "integer", "minimum": 1},
        "room": {"$ref": "#/$defs/Room"},
        "address": {"$ref": "#/$defs/Address"},
    },
}


def make_request(request_id="q1", run_id="run-1", schema=None):
    """A question of a waiting run (made with the first of its questions)."""
    run = Run.objects.filter(pk=run_id).first() or make_run(run_id, "P", status=Run.Status.WAITING)
    return make_question(run, request_id, schema=schema)


TEXT = [{"type": "text", "text": "yes"}]


def test_an_answer_is_stored_with_who_and_when_and_the_run_runs_again():
    make_request()
    request = record_answer("run-1", "q1", TEXT, None, answered_by="ada")
    request.refresh_from_db()
    assert request.status == InputRequest.Status.ANSWERED
    assert request.answer_blocks == TEXT and request.answered_by == "ada" and request.answered_at
    assert Run.objects.get(pk="run-1").status == Run.Status.RUNNING


def test_the_run_keeps_waiting_while_another_agent_still_waits():
    make_request("q1")
    make_request("q2")
    record_answer("run-1", "q1", TEXT, None)
    assert Run.objects.get(pk="run-1").status == Run.Status.WAITING


def test_a_second_answer_is_refused_and_changes_nothing():
    make_request()
    record_answer("run-1", "q1", TEXT, None)
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", [{"type": "text", "text": "no"}], None)
    assert rejected.value.status == 409 and "already been answered" in rejected.value.message
    assert InputRequest.objects.get(request_id="q1").answer_blocks == TEXT


def test_an_answer_for_another_runs_request_is_refused():
    make_request(run_id="run-1")
    make_request(request_id="other", run_id="run-2")
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "other", TEXT, None)
    assert rejected.value.status == 404
    assert InputRequest.objects.get(request_id="other").status == InputRequest.Status.PENDING


def test_an_unknown_request_is_refused():
    make_request()
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "nope", TEXT, None)
    assert rejected.value.status == 404


def test_invalid_blocks_are_refused_with_the_field_named():
    make_request()
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", [{"type": "image", "source": {"type": "url"}}], None)
    assert "blocks[0].source" in rejected.value.errors


def test_a_structured_answer_is_validated_with_errors_by_field():
    make_request(schema=BOOKING)
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", [], {"nights": 0, "room": "suite", "address": {}})
    errors = rejected.value.errors
    assert set(errors) == {"guest", "nights", "room", "address.city"}
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING

    request = record_answer(
        "run-1", "q1", [], {"guest": "Ada", "nights": 2, "room": "double", "address": {"city": "Lisbon"}}
    )
    assert request.answer_structured["address"] == {"city": "Lisbon"}


def test_a_structured_request_needs_the_form():
    make_request(schema=BOOKING)
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", TEXT, None)
    assert "form" in rejected.value.message


def test_structured_errors_name_the_missing_field_not_its_parent():
    assert structured_errors(BOOKING, {"address": {}, "guest": "x"}) == {
        "address.city": "'city' is a required property"
    }


def test_the_http_answer_endpoint_checks_its_body(client):
    make_request()
    url = reverse("input-answer", args=["run-1", "q1"])
    assert client.post(url, "text", content_type="text/plain").status_code == 415
    bad = client.post(url, "{nope", content_type="application/json")
    assert bad.status_code == 400 and "Invalid JSON" in bad.json()["error"]
    assert client.post(url, "[]", content_type="application/json").status_code == 400
    deep = client.post(url, "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert deep.status_code == 400 and "nested too deeply" in deep.json()["error"]
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING


@pytest.mark.parametrize("ref", ["#/$defs/Gone", "http://[bad"])
def test_a_request_whose_schema_cannot_be_checked_refuses_answers_clearly_and_stays_pending(ref):
    make_request(schema={"type": "object", "properties": {"a": {"$ref": ref}}})
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", [], {"a": 1})
    assert rejected.value.status == 400 and "cannot be checked" in rejected.value.message
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING


def test_the_demo_command_fills_a_project_with_every_block_type_and_waiting_agents(client):
    call_command("seed_demo")
    run = Run.objects.get(name="plan-trip")
    assert run.status == Run.Status.WAITING and run.input_requests.count() == 2
    kinds = {block["type"] for message in run.messages.all() for block in message.blocks}
    assert {"text", "thinking", "image", "audio", "video", "tool_use", "tool_result"} <= kinds
    html = client.get(reverse("run", args=[run.project.name, run.pk])).content.decode()
    assert "booking-form is waiting" in html
    # Its trace: a reply with LLM calls, tools and a failed one, priced.
    panel = client.get(reverse("run-trace", args=[run.pk])).content.decode()
    assert "invoke_agent Friday" in panel and "1400 in · 406 out" in panel and "USD" in panel


def test_an_answer_larger_than_the_limit_is_refused_with_its_size_and_changes_nothing(settings):
    settings.STUDIO_MAX_ANSWER_BYTES = 1024 * 1024
    make_request()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 2_000_000}}
    with pytest.raises(Rejected) as rejected:
        record_answer("run-1", "q1", [image], None)
    assert rejected.value.status == 413 and "at most 1 MB" in rejected.value.message
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING


@through_async_views
def test_a_request_id_with_slashes_can_be_answered_over_http(client):
    make_request(request_id="team/a/q1")
    response = client.post(
        reverse("input-answer", args=["run-1", "team/a/q1"]), {"text": "yes"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert InputRequest.objects.get(request_id="team/a/q1").status == InputRequest.Status.ANSWERED


@pytest.mark.django_db(transaction=True)
def test_an_answer_whose_sender_goes_away_is_still_recorded_and_shown():
    # An HTTP client that disconnects cancels its request: the answer goes on all the same.
    make_request()

    async def cancel_then_listen():
        layer = get_channel_layer()
        page = await layer.new_channel()
        await layer.group_add(events.run_group("run-1"), page)
        sending = asyncio.ensure_future(answers.answer("run-1", "q1", TEXT, None))
        await asyncio.sleep(0)
        sending.cancel()
        return {(await asyncio.wait_for(layer.receive(page), 10))["event"]["kind"] for _ in range(2)}

    assert run_async(cancel_then_listen()) == {"input", "run"}
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.ANSWERED
