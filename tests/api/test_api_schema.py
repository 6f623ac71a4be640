"""schemathesis against /api/schema/: every operation of the API, with inputs made from the
schema (and the ids of a real client's run, so that not every answer is a 404), through the
app in process. No answer may be a 5xx, and every answer must be one the schema describes:
its status, its content type, its headers and its body.
"""

import gzip

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from runs.models import Run
from tests.factories import make_question, replay_capture
from traces.models import Trace

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(transactional_db, client):  # answers go through async code: support/backends.py
    run = replay_capture(client)
    make_question(run, "q-open")
    known = {
        "run_id": run.pk,
        "trace_id": Trace.objects.filter(run=run).values_list("trace_id", flat=True).first(),
        "id": run.project_id,
        "request_id": "q-open",
    }
    schema = schemathesis.openapi.from_wsgi("/api/schema/", on_loopback(get_wsgi_application()))

    @schema.hook
    def map_path_parameters(context, params):
        # About half the cases name the run, trace, request and project that exist.
        if params and len(repr(params)) % 2:
            return {**params, **{name: known[name] for name in params}}
        return params

    assert Run.objects.filter(pk=run.pk).exists()
    return schema


@schemathesis.serializer("application/gzip")
def as_gzip(context, value):
    """A bundle upload's body: what was generated, sometimes gzip-compressed (a file of junk)."""
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    return gzip.compress(data) if len(data) % 2 else data


def on_loopback(app):
    """The app as a local Studio's: the client on 127.0.0.1 (no login required). Uncompressed:
    schemathesis's WSGI client does not undo Content-Encoding as an HTTP client does."""

    def local(environ, start_response):
        environ["REMOTE_ADDR"] = "127.0.0.1"
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        return app(environ, start_response)

    return local


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_of_the_api_is_one_its_schema_describes(case):
    case.call_and_validate(checks=CHECKS)
