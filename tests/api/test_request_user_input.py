"""POST /trpc/requestUserInput: a UserAgent asks a person, and blocks until answered."""

import pytest

from runs.models import InputRequest, Run
from tests.factories import assert_error, call, input_body, register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run")]

FORM = {  # what pydantic's model_json_schema() gives agentscope
    "properties": {
        "confirm": {"description": "Confirm?", "title": "Confirm", "type": "boolean"},
        "count": {"default": 3, "description": "How many", "title": "Count", "type": "integer"},
    },
    "required": ["confirm"],
    "title": "Form",
    "type": "object",
}


def test_a_plain_question_is_stored_pending_and_the_run_waits(client):
    response = call(client, "requestUserInput", input_body("q-1"))
    assert response.status_code == 200
    assert response.json() == {"result": {}}
    request = InputRequest.objects.get(request_id="q-1")
    assert (request.run_id, request.agent_id, request.agent_name) == ("run-1", "agent-1", "user")
    assert request.status == InputRequest.Status.PENDING and request.structured_input is None
    assert Run.objects.get(pk="run-1").status == Run.Status.WAITING


def test_a_structured_question_keeps_its_json_schema(client):
    response = call(client, "requestUserInput", input_body("q-1", schema=FORM))
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert InputRequest.objects.get(request_id="q-1").structured_input == FORM


def test_the_same_request_id_again_is_one_request(client):
    call(client, "requestUserInput", input_body("q-1"))
    response = call(client, "requestUserInput", input_body("q-1"))
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert InputRequest.objects.count() == 1


def test_a_request_id_of_another_run_is_a_409(client):
    register(client, "run-2")
    call(client, "requestUserInput", input_body("q-1", run_id="run-1"))
    response = call(client, "requestUserInput", input_body("q-1", run_id="run-2"))
    assert_error(response, 409, "requestUserInput", "requestId", says="another run")
    assert response.json()["error"]["data"]["code"] == "CONFLICT"
    assert InputRequest.objects.get(request_id="q-1").run_id == "run-1"
    assert Run.objects.get(pk="run-2").status == Run.Status.RUNNING


def test_a_question_for_an_unknown_run_is_a_404_naming_run_id(client):
    assert_error(call(client, "requestUserInput", input_body("q-1", run_id="nope")), 404, "requestUserInput", "runId")
    assert not InputRequest.objects.exists()


def test_only_request_id_and_run_id_are_required(client):
    response = call(client, "requestUserInput", {"requestId": "q-1", "runId": "run-1"})
    assert response.status_code == 200 and response.json() == {"result": {}}
    request = InputRequest.objects.get(request_id="q-1")
    assert (request.agent_id, request.agent_name, request.structured_input) == ("", "", None)


@pytest.mark.parametrize("field", ["requestId", "runId"])
def test_a_missing_required_key_is_a_400_naming_it(client, field):
    body = input_body()
    del body[field]
    assert_error(call(client, "requestUserInput", body), 400, "requestUserInput", field, says="required")


@pytest.mark.parametrize(
    "change, field, says",
    [
        ({"requestId": None}, "requestId", "null"),
        ({"requestId": ["q"]}, "requestId", "valid string"),
        ({"agentId": {"a": 1}}, "agentId", "valid string"),
        ({"agentName": []}, "agentName", "valid string"),
        ({"structuredInput": "a schema"}, "structuredInput", "JSON Schema object or null"),
        ({"structuredInput": [FORM]}, "structuredInput", "JSON Schema object or null"),
        ({"structuredInput": {"type": 5}}, "structuredInput", "not a valid JSON Schema"),
        ({"structuredInput": {"type": "object", "required": "confirm"}}, "structuredInput", "not a valid JSON Schema"),
        ({"structuredInput": {"properties": {"a": {"$ref": "#/$defs/Gone"}}}}, "structuredInput", "#/$defs/Gone"),
        ({"structuredInput": {"$ref": "https://example.com/schema.json"}}, "structuredInput", "resolves to nothing"),
        ({"structuredInput": {"$ref": "http://[bad"}}, "structuredInput", "resolves to nothing"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(client, change, field, says):
    response = call(client, "requestUserInput", {**input_body(), **change})
    assert_error(response, 400, "requestUserInput", field, says=says)
    assert not InputRequest.objects.exists()
    assert Run.objects.get(pk="run-1").status == Run.Status.RUNNING


def test_a_ref_key_inside_default_or_example_data_is_no_reference(client):
    schema = {
        "type": "object",
        "properties": {"doc": {"type": "object", "default": {"$ref": "#/nowhere"}, "examples": [{"$ref": "x"}]}},
    }
    response = call(client, "requestUserInput", input_body("q-data", schema=schema))
    assert response.status_code == 200, response.content
