"""Team mode's project tokens with the real clients: agentscope 1.0.21 given only a studio_url
with the token in it, and the OpenTelemetry SDK's exporters given OTEL_EXPORTER_OTLP_HEADERS.

The server is a real one started with STUDIO_AUTH=1 (and OTLP/gRPC on); tokens are made with
`manage.py create_token`, as a person without the settings page makes them. A person answers
an agent's question logged in as a superuser through /admin/login/.
"""

import base64
import json
import re
import subprocess
import uuid

import pytest
import requests
import socketio

from tests.support.agent_socket import Agent
from tests.support.agentscope_env import AGENTS, agentscope_python, run_agent, start_agent
from tests.support.server import StudioServer, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
PROJECT = "TokenProject"
BOSS, BOSS_PASSWORD = "boss", "pw-boss-e2e"


@pytest.fixture(scope="module")
def team_studio(tmp_path_factory):
    grpc_port = free_port()
    env = {"STUDIO_AUTH": "1", "STUDIO_DISCONNECT_GRACE": "2", "STUDIO_OTLP_GRPC_PORT": str(grpc_port)}
    server = StudioServer(tmp_path_factory.mktemp("team-tokens"), env=env)
    server.grpc_endpoint = f"http://127.0.0.1:{grpc_port}"
    server.start()
    manage(server, "createsuperuser", "--noinput", "--username", BOSS, "--email", "boss@example.com")
    wait_for(lambda: "OTLP/gRPC listening" in server.log(), message="the gRPC listener")
    yield server
    server.stop()


def manage(server, *args):
    """manage.py against the server's own database; its stdout."""
    return server.manage(*args, env={"DJANGO_SUPERUSER_PASSWORD": BOSS_PASSWORD})


def new_token(server, project=PROJECT):
    return manage(server, "create_token", project, f"agents {uuid.uuid4().hex[:6]}").strip()


def with_token(server, secret, form="studio:{}@"):
    return server.url.replace("http://", "http://" + form.format(secret))


def run_row(server, run_id):
    rows = query(
        server,
        "SELECT r.*, p.name AS project FROM runs_run r JOIN projects_project p ON p.id = r.project_id WHERE r.id = ?",
        run_id,
    )
    return rows[0] if rows else None


def logged_in(server):
    """A requests session logged in as the superuser through the admin's login form."""
    session = requests.Session()
    session.get(f"{server.url}/admin/login/", timeout=10).raise_for_status()
    form = {
        "username": BOSS,
        "password": BOSS_PASSWORD,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
        "next": "/admin/",
    }
    response = session.post(f"{server.url}/admin/login/?next=/admin/", data=form, timeout=10, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    return session


def test_the_real_client_with_a_token_in_its_studio_url_registers_pushes_and_traces(team_studio):
    # http://TOKEN:@host works as well (Basic with the token as user name): tests/projects.
    secret = new_token(team_studio)
    run_id = uuid.uuid4().hex[:16]
    done = run_agent(
        "1.0.21", "traced_react.py", with_token(team_studio, secret), run_id, env={"STUDIO_PROJECT": PROJECT}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_row(team_studio, run_id)["project"] == PROJECT
    messages = query(team_studio, "SELECT name FROM runs_message WHERE run_id = ? ORDER BY id", run_id)
    assert [m["name"] for m in messages] == ["Friday", "system", "Friday"]
    wait_for(
        lambda: len(query(team_studio, "SELECT 1 FROM traces_span WHERE run_id = ?", run_id)) >= 7, message="spans"
    )
    # Its socket connected (a counted agent that left): the run ends when it has gone.
    finished = wait_for(lambda: (r := run_row(team_studio, run_id))["status"] == "finished" and r, message="finish")
    assert finished["agent_left_at"] is not None
    [token] = query(team_studio, "SELECT last_used_at FROM projects_projecttoken WHERE hint = ?", secret[:8])
    assert token["last_used_at"] is not None


@pytest.mark.parametrize("version", ["1.0.21", "1.0.8"])
def test_every_request_of_the_client_carries_the_token_as_basic_auth(team_studio, version):
    """What the wire shows: the user-info reaches every POST and the engine.io handshake as
    Basic auth; the websocket upgrade carries none (it joins the handshake's session)."""
    secret = new_token(team_studio)
    proxy = TcpProxy(team_studio.port)
    try:
        url = proxy.url.replace("http://", f"http://studio:{secret}@")
        done = run_agent(version, "traced_react.py", url, uuid.uuid4().hex[:16], env={"STUDIO_PROJECT": PROJECT})
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proxy.close()
    basic = "Basic " + base64.b64encode(f"studio:{secret}".encode()).decode()
    heads = re.findall(rb"(?:GET|POST) \S+ HTTP/1\.1\r\n(?:[^\r\n]+\r\n)*\r\n", bytes(proxy.sent))
    carried = {}
    for head in heads:
        text = head.decode("latin-1")
        where = text.split()[1].split("?")[0] + (" (websocket)" if "upgrade: websocket" in text.lower() else "")
        carried.setdefault(where, set()).add(f"Authorization: {basic}" in text)
    assert carried == {
        "/trpc/registerRun": {True},
        "/trpc/pushMessage": {True},
        "/v1/traces": {True},
        "/socket.io/": {True},
        "/socket.io/ (websocket)": {False},
    }


def test_a_user_agent_of_a_token_holding_client_is_answered_by_a_logged_in_person(team_studio):
    secret = new_token(team_studio)
    run_id = uuid.uuid4().hex[:16]
    agent = start_agent(
        "1.0.21", "input_user.py", with_token(team_studio, secret), run_id, "plain", env={"STUDIO_PROJECT": PROJECT}
    )
    try:
        [request] = wait_for(
            lambda: query(team_studio, "SELECT request_id FROM runs_inputrequest WHERE run_id = ?", run_id),
            message="the input request",
        )
        assert run_row(team_studio, run_id)["agent_sockets"] == 1
        session = logged_in(team_studio)
        response = session.post(
            f"{team_studio.url}/api/runs/{run_id}/inputs/{request['request_id']}/answer",
            json={"text": "Hello from the team"},
            headers={"X-CSRFToken": session.cookies["csrftoken"]},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        out, _ = agent.communicate(timeout=60)
    finally:
        agent.kill()
    assert agent.returncode == 0, out
    [answer] = [json.loads(line[len("ANSWER ") :]) for line in out.splitlines() if line.startswith("ANSWER ")]
    assert answer["text"] == "Hello from the team"
    wait_for(lambda: run_row(team_studio, run_id)["status"] == "finished", message="the run to finish")


@pytest.mark.parametrize("case", ["no token", "revoked token", "token without the colon"])
def test_the_client_without_a_live_token_is_refused_at_init_with_a_401(team_studio, case):
    if case == "no token":
        url = team_studio.url
    else:
        secret = new_token(team_studio)
        url = with_token(team_studio, secret, "{}@" if case == "token without the colon" else "studio:{}@")
        # Without the colon requests sends no Authorization at all (docs/TOKENS.md).
        if case == "revoked token":
            manage(team_studio, "revoke_token", PROJECT, query_token_name(team_studio, secret))
    run_id = uuid.uuid4().hex[:16]
    done = run_agent("1.0.21", "traced_react.py", url, run_id, env={"STUDIO_PROJECT": PROJECT})
    # agentscope.init() raises on registerRun's answer: what its user sees.
    assert done.returncode != 0
    assert "requests.exceptions.HTTPError: 401 Client Error: Unauthorized" in done.stderr, done.stderr
    assert run_row(team_studio, run_id) is None


def query_token_name(server, secret):
    return query(server, "SELECT name FROM projects_projecttoken WHERE hint = ?", secret[:8])[0]["name"]


def test_the_client_with_another_project_s_token_is_refused_naming_the_project(team_studio):
    secret = new_token(team_studio, "SomeOtherProject")
    url, run_id = with_token(team_studio, secret), "other-" + uuid.uuid4().hex[:8]
    done = run_agent("1.0.21", "traced_react.py", url, run_id, env={"STUDIO_PROJECT": PROJECT})
    assert done.returncode != 0 and "403 Client Error: Forbidden" in done.stderr, done.stderr
    refusal = requests.post(
        f"{team_studio.url}/trpc/registerRun",
        json={"id": "x-" + uuid.uuid4().hex[:8], "project": PROJECT},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert refusal.status_code == 403 and refusal.json()["error"]["data"]["field"] == "project"
    assert "This token is for project 'SomeOtherProject'" in refusal.json()["error"]["message"]


def test_a_socket_connects_with_its_project_s_token_and_without_one_is_told_why(team_studio):
    secret, other = new_token(team_studio), new_token(team_studio, "SomeOtherProject")
    run_id = uuid.uuid4().hex[:16]
    registered = requests.post(
        f"{team_studio.url}/trpc/registerRun",
        json={"id": run_id, "project": PROJECT},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    assert registered.status_code == 200, registered.text
    refusals = {}
    for case, headers in {
        "none": {},
        "other project": {"Authorization": f"Bearer {other}"},
        "unknown": {"Authorization": "Bearer sst_" + "z" * 43},
    }.items():
        agent = Agent(team_studio, {"run_id": run_id}, headers)
        try:
            with pytest.raises(socketio.exceptions.ConnectionError):
                agent.connect()
            refusals[case] = agent.refusals[0]["message"]
        finally:
            agent.close()
    assert "requires a project token" in refusals["none"]
    assert f"unknown run '{run_id}'" in refusals["other project"]
    assert "unknown or revoked" in refusals["unknown"]
    agent = Agent(team_studio, {"run_id": run_id}, {"Authorization": f"Bearer {secret}"}).connect()
    try:
        assert agent.sio.connected
        wait_for(lambda: run_row(team_studio, run_id)["agent_sockets"] == 1, message="the socket counted")
    finally:
        agent.close()


@pytest.mark.parametrize("where", ["settings page", "admin", "manage.py revoke_token"])
def test_revoking_a_token_closes_its_agents_open_socket_and_refuses_the_reconnect(team_studio, where):
    secret = new_token(team_studio)
    bearer = {"Authorization": f"Bearer {secret}"}
    run_id = uuid.uuid4().hex[:16]
    registered = requests.post(
        f"{team_studio.url}/trpc/registerRun", json={"id": run_id, "project": PROJECT}, headers=bearer, timeout=10
    )
    assert registered.status_code == 200, registered.text
    agent = Agent(team_studio, {"run_id": run_id}, bearer).connect()
    try:
        wait_for(lambda: run_row(team_studio, run_id)["agent_sockets"] == 1, message="the socket counted")
        (token,) = query(
            team_studio, "SELECT id, project_id, name FROM projects_projecttoken WHERE hint = ?", secret[:8]
        )
        if where == "settings page":
            session = logged_in(team_studio)
            revoked = session.post(
                f"{team_studio.url}/project-settings/{token['project_id']}/tokens/{token['id']}/revoke/",
                headers={"X-CSRFToken": session.cookies["csrftoken"], "HX-Request": "true"},
                timeout=10,
            )
            assert revoked.status_code == 200, revoked.text[:500]
        elif where == "admin":
            session = logged_in(team_studio)
            changelist = f"{team_studio.url}/admin/projects/projecttoken/"
            revoked = session.post(
                changelist,
                data={
                    "action": "revoke",
                    "_selected_action": token["id"],
                    "csrfmiddlewaretoken": session.cookies["csrftoken"],
                },
                headers={"Referer": changelist},
                timeout=10,
            )
            assert "1 token(s) revoked." in revoked.text, revoked.text[:500]
        else:
            manage(team_studio, "revoke_token", PROJECT, token["name"])
        wait_for(lambda: not agent.sio.connected, message="the revoked token's socket closed")
        wait_for(lambda: run_row(team_studio, run_id)["status"] == "finished", message="its run finished")
    finally:
        agent.close()
    again = Agent(team_studio, {"run_id": run_id}, bearer)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            again.connect()
        assert "unknown or revoked" in again.refusals[0]["message"]
    finally:
        again.close()


@pytest.mark.parametrize("exporter", ["http", "grpc"])
def test_the_otel_sdk_s_exporter_sends_the_token_from_otel_exporter_otlp_headers(team_studio, exporter):
    secret = new_token(team_studio)
    service = f"shop-{uuid.uuid4().hex[:6]}"
    python = agentscope_python("1.0.21")  # its venv has the SDK and both exporters
    if exporter == "http":
        command, env = [str(python), str(AGENTS / "plain_otel.py"), service], {"STUDIO_URL": team_studio.url}
    else:
        command, env = [str(python), str(AGENTS / "grpc_otel.py"), team_studio.grpc_endpoint, service], {}
    base = {**env, "PATH": "/usr/bin:/bin"}
    # Refused without the header: nothing stored.
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, env=base)
    if exporter == "grpc":
        assert refused.stdout.split() == ["FAILURE", "FAILURE"], refused.stdout + refused.stderr
    # The SDK's format: W3C-baggage style, the value URL-encoded (the space as %20).
    headers = {"OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{secret}"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**base, **headers})
    assert done.returncode == 0, done.stderr
    if exporter == "grpc":
        assert done.stdout.split() == ["SUCCESS", "SUCCESS"], done.stdout + done.stderr
    spans = wait_for(
        lambda: query(
            team_studio,
            "SELECT s.name, p.name AS project FROM traces_span s JOIN projects_project p ON p.id = s.project_id"
            " WHERE s.service_name = ?",
            service,
        ),
        message="the spans",
    )
    # In the token's project, not in one named after service.name.
    assert {span["project"] for span in spans} == {PROJECT} and len(spans) == 3
    assert not query(team_studio, "SELECT 1 FROM projects_project WHERE name = ?", service)


def test_the_server_log_never_holds_a_secret(team_studio):
    secret = new_token(team_studio)
    body = {"id": uuid.uuid4().hex[:16], "project": PROJECT}
    for authorization in (f"Bearer {secret}", None, "Bearer sst_" + "y" * 43):
        headers = {"Authorization": authorization} if authorization else {}
        requests.post(f"{team_studio.url}/trpc/registerRun", json=body, headers=headers, timeout=10)
    manage(team_studio, "revoke_token", PROJECT, query_token_name(team_studio, secret))
    requests.post(f"{team_studio.url}/trpc/registerRun", json=body, auth=("studio", secret), timeout=10)
    log = wait_for(lambda: (text := team_studio.log()).count("an unknown or revoked project token") >= 2 and text)
    assert "refused POST /trpc/registerRun from 127.0.0.1: no project token" in log
    # Nothing of a secret but its hint (the first 8 characters), nor its base64.
    assert not re.search(r"sst_[A-Za-z0-9_-]{5,}", log)
    assert "c3R1ZGlvOnNzdF" not in log  # base64 of "studio:sst_"
