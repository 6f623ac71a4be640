"""POST /trpc/pushMessage: every agent.print(msg), every streaming chunk."""

import pytest
from django.db import connection

from runs import recording
from runs.models import Message, Reply, Run
from tests.factories import assert_error, call, legacy_push_body, msg, push, push_body, register

pytestmark = pytest.mark.django_db


def messages_of(run_id="run-1"):
    return list(Message.objects.filter(run_id=run_id).select_related("reply").order_by("id"))


def test_a_message_is_stored_as_sent_and_answers_the_trpc_success_envelope(client, run):
    message = msg("m1", [{"type": "text", "text": "Hi"}], metadata={"source": "scripted"})
    response = call(client, "pushMessage", push_body(message, reply_id="r1"))
    assert response.status_code == 200
    assert response.json() == {"result": {}}
    [stored] = messages_of()
    assert (stored.msg_id, stored.name, stored.role) == ("m1", "Friday", "assistant")
    assert stored.content == [{"type": "text", "text": "Hi"}]
    assert stored.metadata == {"source": "scripted"}
    assert stored.client_timestamp == "2026-11-23 18:49:36.145"
    assert (stored.reply.reply_id, stored.reply.name, stored.reply.role) == ("r1", "Friday", "assistant")


def test_a_streamed_message_resent_with_growing_content_is_one_row_with_the_final_content(client, run):
    chunks = ["It", "It is", "It is sunny", "It is sunny in Paris.", "It is sunny in Paris."]
    for text in chunks:  # agentscope sends the last state twice
        push(client, msg("m1", [{"type": "text", "text": text}]))
    [stored] = messages_of()
    assert stored.content == [{"type": "text", "text": "It is sunny in Paris."}]
    assert stored.updated_at >= stored.created_at
    assert Reply.objects.count() == 1


def test_a_resent_message_keeps_its_place_among_the_replys_messages(client, run):
    push(client, msg("m1", "thinking"))
    push(client, msg("m2", "tool call"))
    push(client, msg("m1", "thinking, done"))
    assert [(m.msg_id, m.content) for m in messages_of()] == [("m1", "thinking, done"), ("m2", "tool call")]


def test_messages_with_the_same_reply_id_are_one_reply_in_the_order_they_came(client, run):
    push(client, msg("m1", "call the tool"), reply_id="r1")
    push(client, msg("m2", "sunny", name="system", role="system"), reply_id="r1")
    push(client, msg("m3", "It is sunny"), reply_id="r1")
    [reply] = Reply.objects.filter(run=run)
    assert reply.reply_id == "r1" and reply.name == "Friday" and reply.role == "assistant"
    assert [m.msg_id for m in reply.messages.order_by("id")] == ["m1", "m2", "m3"]


def test_a_tool_result_named_system_stays_in_the_agents_reply(client, run):
    push(client, msg("m1", "call"), reply_id="r1")
    call(
        client,
        "pushMessage",
        {
            **push_body(msg("m2", "result", name="system", role="system"), reply_id="r1"),
            "replyName": "Friday",
            "replyRole": "assistant",
        },
    )
    reply = Reply.objects.get(reply_id="r1")
    assert (reply.name, reply.role) == ("Friday", "assistant")
    assert reply.messages.get(msg_id="m2").name == "system"


@pytest.mark.parametrize("reply_id", [None, ""])
def test_a_message_printed_outside_a_reply_is_a_reply_of_its_own(client, run, reply_id):
    push(client, msg("m1", "one"), reply_id=reply_id)
    push(client, msg("m2", "two"), reply_id=reply_id)
    assert sorted(Reply.objects.filter(run=run).values_list("reply_id", flat=True)) == ["m1", "m2"]
    assert [m.reply.reply_id for m in messages_of()] == ["m1", "m2"]


def test_a_missing_reply_id_key_is_taken_as_null(client, run):
    body = push_body(msg("m1"))
    del body["replyId"]
    response = call(client, "pushMessage", body)
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert messages_of()[0].reply.reply_id == "m1"


def test_the_legacy_fields_of_agentscope_1_0_8_name_the_reply(client, run):
    body = legacy_push_body(msg("m1", "Hi", name="user", role="user"), reply_id="r1")
    body["msg"]["timestamp"] = "184945_PHsB"
    response = call(client, "pushMessage", body)
    assert response.status_code == 200 and response.json() == {"result": {}}
    [stored] = messages_of()
    assert (stored.reply.name, stored.reply.role) == ("user", "user")
    assert stored.metadata is None
    assert stored.client_timestamp == "184945_PHsB"


def test_without_any_reply_name_or_role_the_messages_own_are_used(client, run):
    response = call(
        client, "pushMessage", {"runId": "run-1", "replyId": "r1", "msg": msg("m1", name="Ada", role="user")}
    )
    assert response.status_code == 200
    reply = Reply.objects.get(reply_id="r1")
    assert (reply.name, reply.role) == ("Ada", "user")


def test_a_message_with_only_an_id_is_stored_with_empty_content(client, run):
    response = call(client, "pushMessage", {"runId": "run-1", "replyId": None, "msg": {"id": "m1"}})
    assert response.status_code == 200 and response.json() == {"result": {}}
    [stored] = messages_of()
    assert (stored.content, stored.metadata, stored.name, stored.role) == ([], None, "", "")


def test_null_content_is_stored_as_no_blocks(client, run):
    push(client, msg("m1", None))
    assert messages_of()[0].content == []


def test_a_plain_string_content_is_kept_as_a_string(client, run):
    push(client, msg("m1", "plain string content"))
    assert messages_of()[0].content == "plain string content"


def test_the_same_message_id_in_another_run_is_another_message(client, run):
    register(client, "run-2")
    push(client, msg("m1", "in run 1"), run_id="run-1")
    push(client, msg("m1", "in run 2"), run_id="run-2")
    assert messages_of("run-1")[0].content == "in run 1"
    assert messages_of("run-2")[0].content == "in run 2"


def test_a_message_for_an_unknown_run_is_a_404_naming_run_id(client):
    response = call(client, "pushMessage", push_body(msg("m1"), run_id="nope"))
    assert_error(response, 404, "pushMessage", "runId", says="registerRun")
    assert response.json()["error"]["data"]["code"] == "NOT_FOUND"
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_message_for_a_run_deleted_since_the_last_push_is_a_404(client):
    register(client, "run-1")
    push(client, msg("m1"))
    Run.objects.filter(pk="run-1").delete()
    response = call(client, "pushMessage", push_body(msg("m2")))
    assert_error(response, 404, "pushMessage", "runId")
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_message_for_a_run_another_worker_deleted_since_the_last_push_is_a_404(client):
    register(client, "run-1")
    push(client, msg("m1"))
    # Another worker's delete: no signal here, this process still trusts what it remembered.
    with connection.cursor() as cursor:
        for model in (Message, Reply, Run):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    response = call(client, "pushMessage", push_body(msg("m2")))
    assert_error(response, 404, "pushMessage", "runId")
    assert not Message.objects.exists()


def test_a_run_deleted_in_this_process_is_forgotten_by_the_push_shortcuts(client, run):
    push(client, msg("m1"))
    assert recording.recent.runs.get("run-1") is not None
    Run.objects.filter(pk="run-1").delete()
    assert recording.recent.runs.get("run-1") is None
    assert not [key for key in recording.recent.replies if key[0] == "run-1"]


@pytest.mark.parametrize(
    "change, field, says",
    [
        ({"runId": None}, "runId", "null"),
        ({"runId": ""}, "runId", "blank"),
        ({"runId": ["run-1"]}, "runId", "valid string"),
        ({"msg": None}, "msg", "null"),
        ({"msg": "Hello"}, "msg", "dictionary"),
        ({"msg": [1]}, "msg", "dictionary"),
        ({"replyId": {"a": 1}}, "replyId", "valid string"),
        ({"replyName": ["x"]}, "replyName", "valid string"),
        ({"replyRole": ["assistant"]}, "replyRole", "valid string"),
        ({"name": {}}, "name", "valid string"),
    ],
)
def test_wrong_types_at_the_top_are_a_400_naming_the_field(client, run, change, field, says):
    response = call(client, "pushMessage", {**push_body(msg("m1")), **change})
    assert_error(response, 400, "pushMessage", field, says=says)
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "change, field, says",
    [
        ({"id": None}, "msg.id", "null"),
        ({"id": ""}, "msg.id", "blank"),
        ({"id": {"x": 1}}, "msg.id", "valid string"),
        ({"name": ["Friday"]}, "msg.name", "valid string"),
        ({"role": {"r": 1}}, "msg.role", "valid string"),
        ({"content": 42}, "msg.content", "string or a list"),
        ({"content": {"type": "text", "text": "a block, not a list"}}, "msg.content", "string or a list"),
        ({"metadata": [1, 2]}, "msg.metadata", "object or null"),
        ({"metadata": "x"}, "msg.metadata", "object or null"),
        ({"timestamp": ["now"]}, "msg.timestamp", "valid string"),
    ],
)
def test_wrong_types_in_msg_are_a_400_naming_the_field(client, run, change, field, says):
    response = call(client, "pushMessage", {**push_body(msg("m1")), "msg": {**msg("m1"), **change}})
    assert_error(response, 400, "pushMessage", field, says=says)
    assert not Message.objects.exists()


@pytest.mark.parametrize("field", ["runId", "msg"])
def test_a_missing_required_key_is_a_400_naming_it(client, run, field):
    body = push_body(msg("m1"))
    del body[field]
    assert_error(call(client, "pushMessage", body), 400, "pushMessage", field, says="required")


def test_a_msg_without_id_is_a_400_naming_msg_id(client, run):
    message = msg()
    del message["id"]
    assert_error(call(client, "pushMessage", push_body(message)), 400, "pushMessage", "msg.id", says="required")


def test_a_refused_chunk_leaves_the_stored_message_as_it_was(client, run):
    push(client, msg("m1", [{"type": "text", "text": "good"}]))
    response = call(client, "pushMessage", push_body(msg("m1", [{"type": "text"}])))
    assert_error(response, 400, "pushMessage", "msg.content[0]")
    assert messages_of()[0].content == [{"type": "text", "text": "good"}]


def test_numbers_where_strings_belong_are_taken_as_strings(client, run):
    # requests sends whatever the program put in the Msg; DRF's CharField reads numbers as text.
    response = call(client, "pushMessage", {**push_body({**msg(7), "timestamp": 5}), "replyId": 9})
    assert response.status_code == 200 and response.json() == {"result": {}}
    [stored] = messages_of()
    assert (stored.msg_id, stored.reply.reply_id, stored.client_timestamp) == ("7", "9", "5")


def test_a_push_marks_activity_on_the_run(client, run):
    Run.objects.filter(pk="run-1").update(last_activity_at=run.started_at.replace(year=2000))
    push(client, msg("m1"))
    assert Run.objects.get(pk="run-1").last_activity_at.year > 2000


def test_the_details_panel_counts_the_tool_calls_of_the_last_state_of_each_message(client, run):
    from django.urls import reverse

    call_a = {"type": "tool_use", "id": "a", "name": "search", "input": {}}
    call_b = {"type": "tool_use", "id": "b", "name": "fetch", "input": {}}
    push(client, msg("m-1", content=[call_a, call_b]))
    push(client, msg("m-1", content=[call_a]))  # streamed again: replaced, not added
    push(client, msg("m-2", content=[{"type": "text", "text": "no tools"}, call_b]))
    push(client, msg("m-3", content="plain text"))
    html = client.get(reverse("run-details", args=["run-1"])).content.decode()
    assert "<dt>Messages</dt><dd>3</dd>" in html
    assert "<dt>Tool calls</dt><dd>2</dd>" in html
