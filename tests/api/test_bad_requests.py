"""What any /trpc/* endpoint answers to a broken request: a 4xx tRPC error in JSON, never a 500."""

import json

import pytest
from django.test import override_settings

from runs.models import InputRequest, Message, Reply
from tests.factories import assert_error, call, input_body, msg, push_body, reply_body, run_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run")]

PROCEDURES = ["registerRun", "pushMessage", "requestUserInput", "registerReply"]
VALID_BODIES = {
    "registerRun": run_body("run-1"),
    "pushMessage": push_body(msg("m1", [{"type": "text", "text": "hi"}])),
    "requestUserInput": input_body("q-1"),
    "registerReply": reply_body("r1"),
}


def nothing_stored():
    return not (Message.objects.exists() or Reply.objects.exists() or InputRequest.objects.exists())


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_invalid_json_is_a_400_parse_error(client, procedure):
    error = assert_error(call(client, procedure, '{"runId": "run-1",'), 400, procedure, says="Invalid JSON")
    assert error["code"] == -32700 and error["data"]["code"] == "BAD_REQUEST"
    assert nothing_stored()


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{}", b'{"id": NaN, "project": "P"}', b'{"a": 1} trailing'],
    ids=["not utf-8", "NaN", "trailing garbage"],
)
def test_bodies_that_are_not_strict_json_are_a_400_parse_error(client, body):
    assert_error(call(client, "registerRun", body), 400, "registerRun", says="Invalid JSON")


@pytest.mark.parametrize("procedure", PROCEDURES)
@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "42", "true"])
def test_json_that_is_not_an_object_is_a_400(client, procedure, body):
    assert_error(call(client, procedure, body), 400, procedure, says="must be a JSON object")


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_an_empty_body_is_a_400_naming_a_missing_field(client, procedure):
    error = assert_error(call(client, procedure, ""), 400, procedure, says="required")
    assert error["data"]["field"]


@pytest.mark.parametrize("procedure", PROCEDURES)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/xml",
    ],
)
def test_a_body_that_is_not_declared_json_is_a_415_saying_so(client, procedure, content_type):
    body = json.dumps(VALID_BODIES[procedure])
    response = client.generic("POST", f"/trpc/{procedure}", body, content_type=content_type)
    error = assert_error(response, 415, procedure, says="Content-Type must be application/json")
    assert error["data"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert nothing_stored()


def test_json_with_a_charset_is_json(client):
    body = json.dumps(VALID_BODIES["pushMessage"])
    response = client.generic("POST", "/trpc/pushMessage", body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200 and response.json() == {"result": {}}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("procedure", PROCEDURES)
def test_a_body_over_the_size_limit_is_a_413(client, procedure):
    body = {**VALID_BODIES[procedure], "padding": "x" * 2000}
    error = assert_error(call(client, procedure, body), 413, procedure, says="larger than 1000 bytes")
    assert error["data"]["code"] == "PAYLOAD_TOO_LARGE"
    assert nothing_stored()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_just_under_the_size_limit_is_taken(client):
    body = push_body(msg("m1", "x" * 600))
    assert len(json.dumps(body)) < 1000
    assert call(client, "pushMessage", body).status_code == 200


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_json_nested_too_deeply_for_python_is_a_400_not_a_crash(client, procedure):
    body = "[" * 100_000 + "]" * 100_000
    assert_error(call(client, procedure, body), 400, procedure, says="nested too deeply")


def test_content_nested_too_deeply_to_store_is_a_400_not_a_crash(client):
    nested = "[" * 990 + "]" * 990
    body = f'{{"runId": "run-1", "msg": {{"id": "m1", "content": [{{"type": "x", "v": {nested}}}]}}}}'
    assert_error(call(client, "pushMessage", body), 400, "pushMessage", says="nested too deeply")
    assert nothing_stored()


@pytest.mark.parametrize("procedure", PROCEDURES)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_methods_are_a_405_saying_use_post(client, procedure, method):
    response = getattr(client, method)(f"/trpc/{procedure}")
    error = assert_error(response, 405, procedure, says="Use POST")
    assert error["data"]["code"] == "METHOD_NOT_SUPPORTED"


@pytest.mark.parametrize(
    "path, procedure",
    [
        ("/trpc/nope", "nope"),
        ("/trpc/", ""),
        ("/trpc/pushmessage", "pushmessage"),
        ("/trpc/pushMessage.batch", "pushMessage.batch"),
    ],
)
def test_an_unknown_procedure_is_a_404_naming_it(client, path, procedure):
    response = call(client, None, VALID_BODIES["pushMessage"], path=path)
    error = assert_error(response, 404, procedure, says=f"No procedure '{procedure}'")
    assert error["data"]["code"] == "NOT_FOUND"
    assert nothing_stored()


def test_an_unknown_procedure_behind_a_double_slash_is_a_404_too(client):
    response = client.generic("POST", "/trpc/nope", "{}", content_type="application/json", PATH_INFO="//trpc/nope")
    assert_error(response, 404, "nope")


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_every_procedure_answers_a_double_slash_path_without_redirect(client, procedure):
    body = json.dumps(VALID_BODIES[procedure])
    response = client.generic(
        "POST", f"/trpc/{procedure}", body, content_type="application/json", PATH_INFO=f"//trpc/{procedure}"
    )
    assert response.status_code == 200 and response.json() == {"result": {}}


# Values a buggy or hostile client could put anywhere.
GARBAGE = [
    None,
    0,
    -1,
    2**64,
    1.5,
    True,
    "",
    "x",
    "\x00",
    "\ud800",
    [],
    [None],
    {},
    {"type": None},
    {"type": "text"},
    "x" * 70_000,
]


def bodies_with_garbage():
    """Every valid body with one value (at the top, in msg, in a block) replaced by garbage."""
    for procedure, body in VALID_BODIES.items():
        for key in [*body, "extra"]:
            for value in GARBAGE:
                yield procedure, {**body, key: value}
    message = VALID_BODIES["pushMessage"]["msg"]
    for key in [*message, "extra"]:
        for value in GARBAGE:
            yield "pushMessage", {**VALID_BODIES["pushMessage"], "msg": {**message, key: value}}
    for key in ["type", "text", "source", "output", "input", "id"]:
        for value in GARBAGE:
            for block_type in ["text", "image", "tool_use", "tool_result"]:
                block = {
                    "type": block_type,
                    "text": "t",
                    "source": {"type": "url", "url": "u"},
                    "id": "c",
                    "name": "f",
                    "input": {},
                    "output": "o",
                    key: value,
                }
                yield "pushMessage", {**VALID_BODIES["pushMessage"], "msg": {**message, "content": [block]}}


def test_no_combination_of_garbage_values_gives_a_500(client):
    answered = set()
    for procedure, body in bodies_with_garbage():
        response = call(client, procedure, body)
        assert response.status_code in (200, 400, 404, 409), (procedure, body, response.content)
        assert response["Content-Type"].startswith("application/json")
        reply = response.json()
        assert reply == {"result": {}} if response.status_code == 200 else reply["error"]["data"]["path"] == procedure
        answered.add(response.status_code)
    assert {200, 400} <= answered


def test_a_lone_surrogate_in_a_text_field_is_stored_as_the_replacement_character(client):
    # JSON may escape half of a UTF-16 pair alone; no database can store it (studio/storable.py).
    body = json.dumps(push_body(msg("m1", "hi"), replyName="Fri\ud800day"))
    assert call(client, "pushMessage", body).status_code == 200
    assert Reply.objects.get().name == "Fri\ufffdday"


def test_characters_outside_the_basic_plane_are_text_like_any_other(client):
    # "\ud83d\ude00" in JSON is one character, U+1F600, not two surrogates.
    body = json.dumps(push_body(msg("m1", "hi", name="Fri\U0001f600day"), replyName="Fri\U0001f600day"))
    assert call(client, "pushMessage", body).status_code == 200
    assert Reply.objects.get().name == "Fri\U0001f600day"
    assert Message.objects.get().name == "Fri\U0001f600day"
