"""Host and Origin checks in front of the agent link, OTLP and the page sockets (studio/origins.py).

A page that DNS rebinding points at 127.0.0.1 sends its own name as Host and as Origin; a page of
another local port sends its own port. Neither may reach an agent, store spans or answer one.
"""

import json

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from runs.procedures import PROCEDURES
from studio.origins import refusal
from tests.factories import served_question, served_run
from tests.support.waiting import query, wait_for


def scope(path, host="127.0.0.1:3000", origin=None, kind="http", scheme="http"):
    headers = [(b"host", host.encode())] if host is not None else []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": kind, "path": path, "headers": headers, "scheme": scheme, "client": ("127.0.0.1", 5000)}


@pytest.mark.parametrize("path", ["/socket.io/", "/v1/traces", "//v1/traces"])
@pytest.mark.parametrize("host", ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "localhost"])
def test_agents_on_loopback_without_an_origin_pass(path, host):
    assert refusal(scope(path, host)) is None
    assert refusal(scope(path, host, kind="websocket", scheme="ws")) is None


@pytest.mark.parametrize("path", ["/socket.io/", "/v1/traces", "/ws/runs/r1/"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "", None])
def test_a_foreign_host_is_refused_everywhere_checked(path, host):
    kind = "websocket" if path.startswith("/ws/") else "http"
    reason = refusal(scope(path, host, origin="http://127.0.0.1:3000", kind=kind))
    assert reason and reason.startswith("Host") and "ALLOWED_HOSTS" in reason


@pytest.mark.parametrize(
    "path, kind",
    [("/socket.io/", "http"), ("/socket.io/", "websocket"), ("/v1/traces", "http"), ("/ws/runs/r1/", "websocket")],
)
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example:3000",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
        "https://127.0.0.1:3000",
        "null",
        "http://127.0.0.1",
        "garbage",
    ],
)
def test_an_origin_other_than_the_servers_own_is_refused_port_and_scheme_included(path, kind, origin):
    reason = refusal(scope(path, "127.0.0.1:3000", origin=origin, kind=kind))
    assert reason and "is not this server's" in reason


def test_the_servers_own_origin_passes_and_a_page_socket_needs_one():
    assert refusal(scope("/ws/runs/r1/", origin="http://127.0.0.1:3000", kind="websocket", scheme="ws")) is None
    assert refusal(scope("/ws/runs/r1/", kind="websocket")) == "no Origin header"
    assert refusal(scope("/ws/other/", origin="http://evil.example", kind="websocket"))  # any WebSocket


def test_behind_a_tls_proxy_the_public_origin_passes_by_default_port_or_csrf_trusted_origins(settings):
    settings.ALLOWED_HOSTS = ["studio.example.com"]
    public = scope(
        "/ws/runs/r1/", "studio.example.com", origin="https://studio.example.com", kind="websocket", scheme="wss"
    )
    assert refusal(public) is None
    # nginx speaking plain HTTP to the worker, without a forwarded scheme: the page is still refused...
    plain = scope("/ws/runs/r1/", "studio.example.com", origin="https://studio.example.com", kind="websocket")
    assert refusal(plain)
    # ...until the origin is trusted, as Django's CSRF check needs anyway.
    settings.CSRF_TRUSTED_ORIGINS = ["https://studio.example.com"]
    assert refusal(plain) is None


def test_pages_and_trpc_are_left_to_django():
    assert refusal(scope("/projects/", "evil.example")) is None
    assert refusal(scope("/trpc/pushMessage", "evil.example")) is None  # runs/trpc.py answers in tRPC's shape


# ---- against a real server ----


def rebound(studio):
    """The headers of a page on evil.example that DNS rebinding sent to this server's address."""
    return {"Host": f"evil.example:{studio.port}", "Origin": f"http://evil.example:{studio.port}"}


def asking_run(studio):
    run_id = served_run(studio, "Origins", name="o", pid=1)
    return run_id, served_question(studio, run_id)


def polling_open(studio, headers=None):
    return requests.get(f"{studio.url}/socket.io/?EIO=4&transport=polling", headers=headers or {}, timeout=10)


@pytest.mark.e2e
def test_a_rebound_page_cannot_join_a_runs_agent_link_and_the_refusal_is_logged_once(studio):
    run_id, _ = asking_run(studio)
    assert polling_open(studio).text.startswith("0{")  # an agent: no Origin, Host 127.0.0.1
    before = studio.log().count("refused")
    refused = polling_open(studio, rebound(studio))
    assert refused.status_code == 400 and "ALLOWED_HOSTS" in refused.json()["error"]
    wait_for(lambda: studio.log().count("refused") == before + 1, message="the refusal logged")
    line = [line for line in studio.log().splitlines() if "refused" in line][-1]
    assert "/socket.io/" in line and "evil.example" in line and "EIO=4" not in line
    # The same page over the websocket transport, and with the right Host but its own Origin.
    with pytest.raises(InvalidStatus) as closed:
        connect(
            f"ws://127.0.0.1:{studio.port}/socket.io/?EIO=4&transport=websocket",
            additional_headers={"Origin": f"http://evil.example:{studio.port}"},
            open_timeout=10,
        )
    assert closed.value.response.status_code == 403
    foreign_origin = polling_open(studio, {"Origin": f"http://evil.example:{studio.port}"})
    assert foreign_origin.status_code == 403
    [stored] = query(studio, "SELECT agent_sockets FROM runs_run WHERE id = ?", run_id)
    assert stored["agent_sockets"] == 0


@pytest.mark.e2e
def test_otlp_with_a_foreign_host_is_refused_and_nothing_stored(studio):
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "rebound-secret-payload"}}]
                    },
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b174",
                                    "name": "s",
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": "2",
                                }
                            ]
                        }
                    ],
                }
            ]
        }
    )
    headers = {**rebound(studio), "Content-Type": "application/json"}
    refused = requests.post(f"{studio.url}/v1/traces", data=body, headers=headers, timeout=10)
    assert refused.status_code == 400
    assert not query(studio, "SELECT id FROM traces_span WHERE span_id = ?", "eee19b7ec3c1b174")
    assert "rebound-secret-payload" not in studio.log()


@pytest.mark.e2e
def test_a_page_of_another_local_port_cannot_open_a_runs_socket(studio):
    run_id, _ = asking_run(studio)
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://127.0.0.1:{studio.port}/ws/runs/{run_id}/",
            additional_headers={"Origin": f"http://127.0.0.1:{studio.port + 1}"},
            open_timeout=10,
        )
    assert refused.value.response.status_code == 403
    with connect(
        f"ws://127.0.0.1:{studio.port}/ws/runs/{run_id}/", additional_headers={"Origin": studio.url}, open_timeout=10
    ):
        pass  # its own origin still opens


@pytest.mark.django_db
def test_trpc_answers_a_foreign_host_in_its_own_shape_and_logs_it_once(rf, caplog):
    request = rf.post(
        "/trpc/registerRun",
        json.dumps({"id": "r", "project": "P"}),
        content_type="application/json",
        HTTP_HOST="evil.example",
    )
    with caplog.at_level("WARNING", logger="studio.origins"):
        response = PROCEDURES["registerRun"](request)
    response.render()
    assert response.status_code == 400 and json.loads(response.content)["error"]["data"]["field"] == "Host"
    [line] = [record.getMessage() for record in caplog.records if record.name == "studio.origins"]
    assert "/trpc/registerRun" in line and "'evil.example' is not in ALLOWED_HOSTS" in line and '"project"' not in line
