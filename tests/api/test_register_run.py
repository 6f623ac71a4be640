"""POST /trpc/registerRun: what agentscope.init() sends first, and must get a 200 for."""

import json

import pytest

from projects.models import Project
from runs.models import Run
from tests.factories import assert_error, call, register, run_body

pytestmark = pytest.mark.django_db


def test_it_creates_the_run_and_its_project_and_answers_the_trpc_success_envelope(client):
    response = call(client, "registerRun", run_body("run-1", "FakeProject"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"result": {}}
    run = Run.objects.get(pk="run-1")
    assert run.project.name == "FakeProject"
    assert (run.name, run.pid, run.status, run.client_timestamp) == (
        "fake_run",
        20663,
        "running",
        "2026-11-23 18:49:34.683",
    )
    assert run.started_at and run.finished_at is None


def test_the_same_id_twice_is_one_run_with_the_fields_of_the_second_call(client):
    register(client, "run-1", "First", name="before", pid=1)
    first = Run.objects.get(pk="run-1")
    response = call(client, "registerRun", run_body("run-1", "Second", name="after", pid=2, timestamp="later"))
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert Run.objects.count() == 1
    run = Run.objects.get(pk="run-1")
    assert (run.project.name, run.name, run.pid, run.client_timestamp) == ("Second", "after", 2, "later")
    assert run.started_at == first.started_at
    assert set(Project.objects.values_list("name", flat=True)) == {"First", "Second"}


def test_registering_a_finished_run_again_makes_it_running(client):
    register(client, "run-1")
    Run.objects.filter(pk="run-1").update(status=Run.Status.FINISHED)
    register(client, "run-1")
    run = Run.objects.get(pk="run-1")
    assert run.status == Run.Status.RUNNING and run.finished_at is None


def test_a_broken_timestamp_from_agentscope_1_0_8_is_kept_as_sent(client):
    register(client, "run-1", timestamp="184945_PHsB")
    assert Run.objects.get(pk="run-1").client_timestamp == "184945_PHsB"


def test_only_id_and_project_are_required(client):
    response = call(client, "registerRun", {"id": "run-1", "project": "P"})
    assert response.status_code == 200 and response.json() == {"result": {}}
    run = Run.objects.get(pk="run-1")
    assert (run.name, run.pid, run.status, run.client_timestamp) == ("", None, "running", "")


def test_nulls_in_the_optional_fields_are_accepted(client):
    response = call(client, "registerRun", run_body(name=None, timestamp=None, pid=None, run_dir=None))
    assert response.status_code == 200 and response.json() == {"result": {}}


def test_unknown_keys_from_newer_clients_are_ignored(client):
    response = call(client, "registerRun", run_body(future_field={"x": 1}))
    assert response.status_code == 200 and response.json() == {"result": {}}


def test_run_ids_with_slashes_and_any_character_are_stored_as_sent(client):
    register(client, "a/b c?d#é")
    assert Run.objects.filter(pk="a/b c?d#é").exists()


def test_a_trailing_slash_in_studio_url_gives_a_double_slash_path_that_is_accepted_without_redirect(client):
    # The test client would read "//trpc" as a host name: give the server the path itself.
    response = client.generic(
        "POST",
        "/trpc/registerRun",
        json.dumps(run_body("run-1")),
        content_type="application/json",
        PATH_INFO="//trpc/registerRun",
    )
    assert response.status_code == 200 and response.json() == {"result": {}}
    assert Run.objects.filter(pk="run-1").exists()


def test_a_trailing_slash_after_the_procedure_is_accepted_without_redirect(client):
    response = call(client, "registerRun", run_body("run-1"), path="/trpc/registerRun/")
    assert response.status_code == 200 and response.json() == {"result": {}}


@pytest.mark.parametrize("field", ["id", "project"])
def test_a_missing_required_key_is_a_400_naming_it(client, field):
    body = run_body()
    del body[field]
    assert_error(call(client, "registerRun", body), 400, "registerRun", field, says="required")
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("id", "", "blank"),
        ("id", None, "null"),
        ("id", "x" * 256, "255"),
        ("project", ["P"], "valid string"),
        ("project", "", "blank"),
        ("name", {"a": 1}, "valid string"),
        ("pid", "abc", "valid integer"),
        ("pid", 10**30, "less than or equal"),
        ("status", "bogus", "valid choice"),
        ("timestamp", "x" * 65, "64"),
    ],
)
def test_wrong_types_are_a_400_naming_the_field(client, field, value, says):
    response = call(client, "registerRun", {**run_body(), field: value})
    assert_error(response, 400, "registerRun", field, says=says)
    assert not Run.objects.exists()


def test_a_number_as_id_is_taken_as_its_string(client):
    response = call(client, "registerRun", {**run_body(), "id": 12})
    assert response.status_code == 200
    assert Run.objects.filter(pk="12").exists()
