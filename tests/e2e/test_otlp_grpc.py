"""OTLP over gRPC: the official exporter's spans stored once, bad input answered with the right
status, on every server (runserver under uvicorn or daphne, the team command)."""

import json
import os
import subprocess
import sys
import uuid

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.agentscope_env import AGENTS, agentscope_python
from tests.support.server import ROOT, StudioServer, free_port
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
MAX_BODY = 200_000


@pytest.fixture(scope="module", params=["runserver", "daphne", "uvicorn"])
def grpc_studio(request, tmp_path_factory):
    port = free_port()
    env = {"STUDIO_OTLP_GRPC_PORT": str(port), "STUDIO_OTLP_MAX_BODY_BYTES": str(MAX_BODY)}
    server = StudioServer(tmp_path_factory.mktemp("grpc"), env=env, server=request.param)
    server.grpc_endpoint = f"127.0.0.1:{port}"
    server.start()
    wait_for(lambda: "OTLP/gRPC listening" in server.log(), message="the gRPC listener")
    yield server
    server.stop()


def export(endpoint, body, timeout=10):
    """One raw TraceService/Export call; the answer's bytes, or grpc.RpcError."""
    with grpc.insecure_channel(endpoint) as channel:
        return channel.unary_unary(EXPORT)(body, timeout=timeout)


def test_the_official_grpc_exporter_s_spans_are_stored_once(grpc_studio):
    service = f"travel-{uuid.uuid4().hex[:6]}"
    python = agentscope_python("1.0.21")  # its venv has the SDK's gRPC exporter, as users install it
    done = subprocess.run(
        [str(python), str(AGENTS / "grpc_otel.py"), f"http://{grpc_studio.grpc_endpoint}", service],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SUCCESS", "SUCCESS"]  # the batch, then its retry
    sql = (
        "SELECT s.name, s.status_code, s.attributes FROM traces_span s"
        " JOIN projects_project p ON p.id = s.project_id WHERE p.name = ? ORDER BY s.name"
    )
    spans = wait_for(lambda: query(grpc_studio, sql, service), message="the spans")
    assert [(s["name"], s["status_code"]) for s in spans] == [("book", 2), ("plan", 0), ("search", 0)]
    assert json.loads(spans[2]["attributes"])["results"] == ["a", "b"]
    page = requests.get(f"{grpc_studio.url}/projects/{service}/traces/", timeout=10)
    assert page.status_code == 200 and "plan" in page.text and "1 error" in page.text


def test_a_body_that_is_not_a_request_is_an_invalid_argument(grpc_studio):
    with pytest.raises(grpc.RpcError) as error:
        export(grpc_studio.grpc_endpoint, b"\xff\xff\xff not protobuf")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in error.value.details()


def test_a_body_over_the_limit_is_resource_exhausted(grpc_studio):
    with pytest.raises(grpc.RpcError) as error:
        export(grpc_studio.grpc_endpoint, b"\x0a" + b"\x00" * (MAX_BODY + 10))
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_bad_span_is_rejected_alone_in_partial_success(grpc_studio):
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    good = scope_spans.spans.add(name="good", trace_id=uuid.uuid4().bytes, span_id=b"\x01" * 8)
    good.start_time_unix_nano, good.end_time_unix_nano = 1, 2
    scope_spans.spans.add(name="bad", trace_id=b"short", span_id=b"\x02" * 8)
    answer = ExportTraceServiceResponse.FromString(export(grpc_studio.grpc_endpoint, request.SerializeToString()))
    assert answer.partial_success.rejected_spans == 1
    assert query(grpc_studio, "SELECT name FROM traces_span WHERE name = 'good'")
    assert requests.get(grpc_studio.url + "/", timeout=10).status_code == 200  # the worker lives on


def test_grpc_listens_before_any_http_call_and_a_taken_port_only_turns_it_off(tmp_path):
    # `manage.py runserver` as a user starts it, and no HTTP request at all: an exporter that
    # speaks only gRPC must not wait for a browser to wake the server up.
    port = free_port()
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path / "first"), "STUDIO_OTLP_GRPC_PORT": str(port)}
    # On its own SQLite file even in the team-mode suite: this is about a port, not a database.
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{free_port()}"]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The second server finds the port taken: it says so, and serves HTTP all the same.
    second = StudioServer(tmp_path / "second", env={"STUDIO_OTLP_GRPC_PORT": str(port)})
    try:
        empty = ExportTraceServiceRequest().SerializeToString()
        wait_for(lambda: _answers(f"127.0.0.1:{port}", empty), timeout=30, message="gRPC before any HTTP call")
        second.start()
        wait_for(lambda: "is taken" in second.log(), message="the second server's warning")
        assert requests.get(second.url + "/", timeout=10).status_code == 200
        assert _answers(f"127.0.0.1:{port}", empty)  # still the first server's
    finally:
        second.stop()
        first.terminate()
        first.wait(10)


def _answers(endpoint, body):
    try:
        export(endpoint, body, timeout=1)
        return True
    except grpc.RpcError:
        return False
