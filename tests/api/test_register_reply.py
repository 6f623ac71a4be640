"""POST /trpc/registerReply: a reply announced before its first message."""

import pytest

from runs.models import Reply
from tests.factories import assert_error, call, legacy_push_body, msg, push, reply_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run")]


def test_a_reply_is_created_with_its_name_and_role(client):
    response = call(client, "registerReply", reply_body("r1"))
    assert response.status_code == 200
    assert response.json() == {"result": {}}
    reply = Reply.objects.get(run_id="run-1", reply_id="r1")
    assert (reply.name, reply.role) == ("Friday", "assistant")


def test_the_legacy_name_and_role_fields_are_accepted(client):
    response = call(client, "registerReply", {"runId": "run-1", "replyId": "r1", "name": "user", "role": "user"})
    assert response.status_code == 200 and response.json() == {"result": {}}
    reply = Reply.objects.get(reply_id="r1")
    assert (reply.name, reply.role) == ("user", "user")


def test_registering_twice_is_one_reply_with_the_latest_name(client):
    call(client, "registerReply", reply_body("r1"))
    call(client, "registerReply", reply_body("r1", replyName="Saturday"))
    assert Reply.objects.get(reply_id="r1").name == "Saturday"
    assert Reply.objects.count() == 1


def test_the_messages_pushed_later_join_the_registered_reply(client):
    call(client, "registerReply", reply_body("r1"))
    push(client, msg("m1"), reply_id="r1")
    call(client, "pushMessage", legacy_push_body(msg("m2"), reply_id="r1"))
    [reply] = Reply.objects.all()
    assert [m.msg_id for m in reply.messages.order_by("id")] == ["m1", "m2"]


def test_a_reply_for_an_unknown_run_is_a_404_naming_run_id(client):
    assert_error(call(client, "registerReply", reply_body("r1", run_id="nope")), 404, "registerReply", "runId")
    assert not Reply.objects.exists()


@pytest.mark.parametrize("field", ["runId", "replyId"])
def test_a_missing_required_key_is_a_400_naming_it(client, field):
    body = reply_body()
    del body[field]
    assert_error(call(client, "registerReply", body), 400, "registerReply", field, says="required")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"replyId": None}, "replyId"),
        ({"replyId": ""}, "replyId"),
        ({"replyName": {}}, "replyName"),
        ({"replyRole": [1]}, "replyRole"),
        ({"runId": 3.5}, None),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(client, change, field):
    response = call(client, "registerReply", {**reply_body(), **change})
    if field is None:  # a number is read as its text: run "3.5" does not exist
        assert_error(response, 404, "registerReply", "runId")
    else:
        assert_error(response, 400, "registerReply", field)
    assert not Reply.objects.exists()
