"""Project tokens on the agents' surfaces, in process: /trpc/*, /v1/traces, OTLP/gRPC and the
/python connect. Team mode is on (STUDIO_AUTH) unless a test says otherwise."""

import asyncio
import base64
import json
import logging
import threading
from datetime import timedelta
from io import StringIO

import pytest
import socketio
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects import tokens
from projects.models import Project, ProjectToken
from runs import agent_link
from runs.models import InputRequest, Message, Run
from tests.factories import assert_error, input_body, make_project, msg, push_body, reply_body, run_body
from tests.support.backends import postgres_only, through_async_views
from tests.support.captures import capture_spans
from tests.traces.bodies import fresh_ids, json_body, protobuf_body, with_run_id
from traces import otlp_grpc
from traces.models import Span

pytestmark = pytest.mark.django_db
team_mode = override_settings(STUDIO_AUTH=True)


def basic(user, password=""):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def alpha():
    """Project Alpha and a token of it: (token, secret)."""
    return ProjectToken.objects.issue(make_project("Alpha"), "alpha agents")


@pytest.fixture
def beta():
    return ProjectToken.objects.issue(make_project("Beta"), "beta agents")


def trpc(client, procedure, body, authorization=None, **extra):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.generic(
        "POST", f"/trpc/{procedure}", json.dumps(body), content_type="application/json", **headers, **extra
    )


def bearer(secret):
    return f"Bearer {secret}"


# ---- reading the header ----


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        ("Bearer sst_abc", "sst_abc"),
        ("bearer   sst_abc ", "sst_abc"),
        (basic("sst_abc"), "sst_abc"),  # studio_url http://sst_abc:@host
        (basic("studio", "sst_abc"), "sst_abc"),  # studio_url http://studio:sst_abc@host
        ("Basic !!!not-base64", None),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), None),
        ("Digest sst_abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_the_token_is_read_from_bearer_and_from_basic_s_password_or_user_name(header, secret):
    assert tokens.secret_in(header) == secret


# ---- /trpc/* ----


@team_mode
def test_an_agent_without_a_token_gets_a_401_saying_where_the_token_goes(client):
    response = trpc(client, "registerRun", run_body("run-1", "Alpha"))
    assert_error(response, 401, "registerRun", field="Authorization", says="studio_url as http://studio:<token>@")
    assert response.json()["error"]["data"]["code"] == "UNAUTHORIZED"
    assert response.json()["error"]["code"] == -32001
    assert "Bearer" in response["WWW-Authenticate"]
    assert not Run.objects.exists() and not Project.objects.filter(name="Alpha", runs__isnull=False).exists()


@team_mode
@pytest.mark.parametrize("procedure", ["registerRun", "pushMessage", "registerReply", "requestUserInput"])
def test_every_procedure_refuses_a_token_it_does_not_know(client, procedure):
    response = trpc(client, procedure, {}, bearer("sst_" + "x" * 43))
    assert_error(response, 401, procedure, field="Authorization", says="unknown or revoked")


@team_mode
@pytest.mark.parametrize("form", ["bearer", "basic token as user", "basic token as password"])
def test_a_token_is_taken_in_each_form_and_the_agent_writes_into_its_project(client, alpha, form):
    token, secret = alpha
    header = {"bearer": bearer(secret), "basic token as user": basic(secret)}.get(form) or basic("studio", secret)
    assert trpc(client, "registerRun", run_body("run-1", "Alpha"), header).status_code == 200
    assert trpc(client, "registerReply", reply_body(), header).status_code == 200
    assert trpc(client, "pushMessage", push_body(msg("m1")), header).status_code == 200
    assert trpc(client, "requestUserInput", input_body(), header).status_code == 200
    run = Run.objects.get(pk="run-1")
    assert run.project == token.project and run.status == Run.Status.WAITING
    assert Message.objects.filter(run=run, msg_id="m1").exists()


@team_mode
def test_a_revoked_token_is_refused_at_once(client, alpha):
    token, secret = alpha
    assert trpc(client, "registerRun", run_body("run-1", "Alpha"), bearer(secret)).status_code == 200
    assert trpc(client, "pushMessage", push_body(msg("m1")), bearer(secret)).status_code == 200
    token.revoke()
    response = trpc(client, "pushMessage", push_body(msg("m2")), bearer(secret))
    assert_error(response, 401, "pushMessage", field="Authorization", says="revoked")
    assert list(Message.objects.values_list("msg_id", flat=True)) == ["m1"]


@team_mode
def test_a_token_cannot_register_a_run_in_another_project(client, alpha):
    _, secret = alpha
    response = trpc(client, "registerRun", run_body("run-1", "Beta"), bearer(secret))
    assert_error(response, 403, "registerRun", field="project", says="pass project='Alpha'")
    assert response.json()["error"]["data"]["code"] == "FORBIDDEN"
    assert not Run.objects.exists()


@postgres_only
@through_async_views  # threads, each with a connection of its own: real transactions
@team_mode
def test_agents_of_two_projects_registering_one_run_id_at_once_never_move_it(alpha, beta):
    from django.test import Client

    for attempt in range(5):
        run_id, results = f"race-{attempt}", []
        start = threading.Barrier(8)

        def register(project, secret, run_id=run_id, results=results, start=start):
            start.wait()
            try:
                response = trpc(Client(), "registerRun", run_body(run_id, project), bearer(secret))
                results.append((project, response.status_code))
            finally:
                connection.close()

        agents = [("Alpha", alpha[1]), ("Beta", beta[1])] * 4
        threads = [threading.Thread(target=register, args=agent) for agent in agents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        owner = Run.objects.get(pk=run_id).project.name
        assert sorted(results) == sorted((project, 200 if project == owner else 409) for project, _ in agents)


@team_mode
def test_a_token_cannot_take_over_a_run_id_of_another_project(client, alpha, beta):
    assert trpc(client, "registerRun", run_body("run-b", "Beta"), bearer(beta[1])).status_code == 200
    response = trpc(client, "registerRun", run_body("run-b", "Alpha"), bearer(alpha[1]))
    assert_error(response, 409, "registerRun", field="id", says="taken by another project")
    assert Run.objects.get(pk="run-b").project.name == "Beta"


@team_mode
@pytest.mark.parametrize(
    ("procedure", "body"),
    [
        ("pushMessage", push_body(msg("intruder"), run_id="run-b")),
        ("registerReply", reply_body("intruder", run_id="run-b")),
        ("requestUserInput", input_body("intruder", run_id="run-b")),
    ],
)
def test_another_project_s_run_is_unknown_to_a_token(client, alpha, beta, procedure, body):
    assert trpc(client, "registerRun", run_body("run-b", "Beta"), bearer(beta[1])).status_code == 200
    # Beta's own push first: the run is now in this process's recent pushes, which must not
    # let Alpha's token past.
    assert trpc(client, "pushMessage", push_body(msg("own"), run_id="run-b"), bearer(beta[1])).status_code == 200
    response = trpc(client, procedure, body, bearer(alpha[1]))
    assert_error(response, 404, procedure, field="runId", says="Unknown run 'run-b'")
    assert not Message.objects.filter(msg_id="intruder").exists()
    assert not InputRequest.objects.exists()
    assert Run.objects.get(pk="run-b").replies.values_list("reply_id", flat=True).get() == "reply-1"


@override_settings(STUDIO_AUTH=False)
def test_on_the_local_default_no_token_is_needed_and_a_bad_one_is_ignored(client):
    assert trpc(client, "registerRun", run_body("run-1", "Anything")).status_code == 200
    assert trpc(client, "pushMessage", push_body(msg("m1")), bearer("sst_nonsense")).status_code == 200
    assert Message.objects.filter(msg_id="m1").exists()


@override_settings(STUDIO_AUTH=False)
def test_a_request_from_beyond_loopback_needs_a_token_even_without_studio_auth(client):
    response = trpc(client, "registerRun", run_body("run-1"), REMOTE_ADDR="10.1.2.3")
    assert_error(response, 401, "registerRun", field="Authorization")
    response = trpc(client, "registerRun", run_body("run-1"), HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert_error(response, 401, "registerRun", field="Authorization")


@override_settings(STUDIO_AUTH=False)
def test_a_local_push_asks_nothing_of_the_token_table(client):
    assert trpc(client, "registerRun", run_body("run-1")).status_code == 200
    assert trpc(client, "pushMessage", push_body(msg("m0"))).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert trpc(client, "pushMessage", push_body(msg("m1"))).status_code == 200
    assert not [q["sql"] for q in queries if "projecttoken" in q["sql"]]


@team_mode
def test_last_used_is_written_at_most_once_a_minute(client, alpha):
    token, secret = alpha
    assert trpc(client, "registerRun", run_body("run-1", "Alpha"), bearer(secret)).status_code == 200
    first = ProjectToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert trpc(client, "pushMessage", push_body(msg("m1")), bearer(secret)).status_code == 200
    assert not [q for q in queries if q["sql"].startswith('UPDATE "projects_projecttoken"')]
    assert ProjectToken.objects.get(pk=token.pk).last_used_at == first
    ProjectToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert trpc(client, "pushMessage", push_body(msg("m2")), bearer(secret)).status_code == 200
    assert ProjectToken.objects.get(pk=token.pk).last_used_at > first


# ---- /v1/traces ----


def spans_naming(run_id, salt):
    return with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), salt), run_id)


def post_spans(client, body, authorization=None, content_type="application/x-protobuf"):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.post("/v1/traces", data=body, content_type=content_type, **headers)


@team_mode
@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
def test_spans_without_a_token_get_a_401_with_an_otlp_status(client, as_json):
    spans = spans_naming("run-1", "no-token")
    body, kind = (json_body(spans), "application/json") if as_json else (protobuf_body(spans), "application/x-protobuf")
    response = post_spans(client, body, content_type=kind)
    assert response.status_code == 401 and response["Content-Type"] == kind
    assert "WWW-Authenticate" in response
    if as_json:
        assert response.json()["code"] == 16 and "requires a project token" in response.json()["message"]
    else:
        assert b"requires a project token" in response.content and response.content.startswith(b"\x08\x10")
    assert not Span.objects.exists()


@team_mode
def test_spans_with_a_revoked_or_unknown_token_are_refused(client, alpha):
    token, secret = alpha
    token.revoke()
    for header in (bearer(secret), basic("studio", "sst_unknown")):
        response = post_spans(client, protobuf_body(spans_naming("run-1", header)), header)
        assert response.status_code == 401 and b"unknown or revoked" in response.content
    assert not Span.objects.exists()


@team_mode
def test_spans_with_a_token_join_its_project_s_run(client, alpha):
    _, secret = alpha
    assert trpc(client, "registerRun", run_body("run-a", "Alpha"), bearer(secret)).status_code == 200
    assert post_spans(client, protobuf_body(spans_naming("run-a", "a")), basic("studio", secret)).status_code == 200
    assert Span.objects.filter(run_id="run-a", project__name="Alpha").count() == 8


@team_mode
def test_spans_naming_another_project_s_run_stay_in_the_token_s_project_linked_to_no_run(client, alpha, beta):
    assert trpc(client, "registerRun", run_body("run-b", "Beta"), bearer(beta[1])).status_code == 200
    assert post_spans(client, protobuf_body(spans_naming("run-b", "intruder")), bearer(alpha[1])).status_code == 200
    assert not Span.objects.filter(run_id="run-b").exists()
    assert Span.objects.filter(project__name="Alpha", run=None).count() == 8
    # Registered again, Beta's run still does not take the spans Alpha's token sent.
    assert trpc(client, "registerRun", run_body("run-b", "Beta"), bearer(beta[1])).status_code == 200
    assert not Span.objects.filter(run_id="run-b").exists()


@team_mode
def test_spans_waiting_for_a_run_are_linked_only_to_a_run_of_the_token_s_project(client, alpha, beta):
    assert post_spans(client, protobuf_body(spans_naming("later-a", "a")), bearer(alpha[1])).status_code == 200
    assert post_spans(client, protobuf_body(spans_naming("later-b", "b")), bearer(alpha[1])).status_code == 200
    assert trpc(client, "registerRun", run_body("later-a", "Alpha"), bearer(alpha[1])).status_code == 200
    assert trpc(client, "registerRun", run_body("later-b", "Beta"), bearer(beta[1])).status_code == 200
    assert Span.objects.filter(run_id="later-a").count() == 8
    assert not Span.objects.filter(run_id="later-b").exists()


@team_mode
def test_a_token_s_spans_go_to_its_project_whatever_their_service_name(client, alpha):
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "svc")
    assert post_spans(client, protobuf_body(spans), bearer(alpha[1])).status_code == 200
    assert set(Span.objects.values_list("project__name", flat=True)) == {"Alpha"}
    conversation = Run.objects.get(origin=Run.Origin.OTEL)
    assert conversation.project.name == "Alpha"
    assert not Project.objects.filter(name="fake_run_v2").exists()


@team_mode
def test_a_conversation_named_like_another_project_s_run_does_not_touch_it(client, alpha, beta):
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "conv")
    conversation = spans[0]["attributes"]["gen_ai.conversation.id"]
    assert post_spans(client, protobuf_body(spans), bearer(beta[1])).status_code == 200
    beta_run = Run.objects.get(pk=conversation)
    assert beta_run.project.name == "Beta"
    again = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "conv-again")
    assert post_spans(client, protobuf_body(again), bearer(alpha[1])).status_code == 200
    assert Run.objects.get(pk=conversation).project.name == "Beta"
    assert Span.objects.filter(run=beta_run).count() == 4
    assert Span.objects.filter(project__name="Alpha", run=None).count() == 4


@override_settings(STUDIO_AUTH=False)
def test_local_spans_need_no_token(client):
    spans = fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), "local")
    assert post_spans(client, protobuf_body(spans), bearer("sst_whatever")).status_code == 200
    assert set(Span.objects.values_list("project__name", flat=True)) == {"fake_run_v2"}


# ---- OTLP/gRPC ----


class Aborted(Exception):
    pass


class GrpcContext:
    """What otlp_grpc._export asks of grpc's ServicerContext."""

    def __init__(self, metadata=(), peer="ipv4:127.0.0.1:50000"):
        self.metadata, self._peer = tuple(metadata), peer

    def peer(self):
        return self._peer

    def invocation_metadata(self):
        return self.metadata

    def abort(self, code, details):
        raise Aborted(code, details)


def grpc_spans(salt):
    return protobuf_body(fresh_ids(capture_spans("agentscope-2.0.11-otlp-only.jsonl"), salt))


@through_async_views  # _export closes old connections, as a long-lived thread must
@team_mode
def test_grpc_spans_without_a_live_token_are_unauthenticated(alpha):
    import grpc

    token, secret = alpha
    token.revoke()
    for metadata in ((), (("authorization", bearer(secret)),)):
        with pytest.raises(Aborted) as aborted:
            otlp_grpc._export(grpc_spans("g"), GrpcContext(metadata))
        code, details = aborted.value.args
        assert code == grpc.StatusCode.UNAUTHENTICATED and ("project token" in details)
    assert not Span.objects.exists()


@team_mode
@through_async_views
def test_grpc_spans_with_a_token_go_to_its_project(alpha):
    _, secret = alpha
    otlp_grpc._export(grpc_spans("g2"), GrpcContext((("authorization", bearer(secret)),)))
    assert set(Span.objects.values_list("project__name", flat=True)) == {"Alpha"}


@through_async_views
@override_settings(STUDIO_AUTH=False)
def test_grpc_from_beyond_loopback_needs_a_token_and_from_loopback_none():
    with pytest.raises(Aborted):
        otlp_grpc._export(grpc_spans("g3"), GrpcContext(peer="ipv4:10.0.0.7:4000"))
    with pytest.raises(Aborted):
        otlp_grpc._export(grpc_spans("g3"), GrpcContext(peer="ipv6:[2001:db8::1]:4000"))
    otlp_grpc._export(grpc_spans("g3"), GrpcContext(peer="ipv6:[::1]:4000"))
    assert Span.objects.count() == 4


# ---- the /python connect ----


def connect(run_id, authorization=None, client=("10.0.0.7", 5000)):
    environ = {"asgi.scope": {"type": "http", "client": client, "headers": []}}
    if authorization is not None:
        environ["HTTP_AUTHORIZATION"] = authorization
    return asyncio.run(agent_link.connect("sid-1", environ, {"run_id": run_id}))


@team_mode
@pytest.mark.django_db(transaction=True)
def test_a_socket_without_a_live_token_or_for_another_project_s_run_is_refused_saying_why():
    agent_link.start_worker(one_process=True)  # as the server does before its first socket
    alpha_token, alpha_secret = ProjectToken.objects.issue(make_project("Alpha"), "a")
    _, beta_secret = ProjectToken.objects.issue(make_project("Beta"), "b")
    Run.objects.create(id="run-b", project=Project.objects.get(name="Beta"))
    refusals = {}
    for case, header in {
        "none": None,
        "unknown": bearer("sst_unknown"),
        "other project": basic("studio", alpha_secret),
    }.items():
        with pytest.raises(socketio.exceptions.ConnectionRefusedError) as refused:
            connect("run-b", header)
        refusals[case] = refused.value.error_args["message"]
    assert "requires a project token" in refusals["none"]
    assert "unknown or revoked" in refusals["unknown"]
    assert "unknown run 'run-b'" in refusals["other project"]
    assert Run.objects.get(pk="run-b").agent_sockets == 0
    alpha_token.revoke()
    with pytest.raises(socketio.exceptions.ConnectionRefusedError):
        connect("run-b", basic("studio", alpha_secret))
    assert beta_secret  # Beta's own agent connects: tests/e2e/test_agent_tokens.py, on a real socket


# ---- secrets never in a log ----


@team_mode
def test_no_log_line_holds_a_secret_whether_accepted_or_refused(client, alpha, caplog):
    token, secret = alpha
    caplog.set_level(logging.DEBUG)
    trpc(client, "registerRun", run_body("run-1", "Beta"), bearer(secret))  # 403
    trpc(client, "registerRun", run_body("run-1", "Alpha"), basic("studio", secret))
    trpc(client, "pushMessage", push_body(msg("m1"), run_id="nope"), bearer(secret))  # 404
    post_spans(client, protobuf_body(spans_naming("run-1", "log")), bearer(secret))
    token.revoke()
    trpc(client, "pushMessage", push_body(msg("m2")), bearer(secret))
    post_spans(client, protobuf_body(spans_naming("run-1", "log2")), basic(secret))
    trpc(client, "pushMessage", push_body(msg("m2")))
    assert "refused POST /trpc/pushMessage from 127.0.0.1: an unknown or revoked project token" in caplog.text
    assert "refused POST /trpc/pushMessage from 127.0.0.1: no project token" in caplog.text
    encoded = [base64.b64encode(f"{user}:{secret}".encode()).decode() for user in ("studio", "")]
    for text in (secret, secret[len(token.hint) :], *encoded):
        assert text not in caplog.text


# ---- manage.py create_token / revoke_token ----


def test_create_token_prints_the_secret_once_and_makes_the_project_if_need_be():
    out, err = StringIO(), StringIO()
    call_command("create_token", "Gamma", "nightly", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    token = ProjectToken.objects.authenticate(secret)
    assert token is not None and (token.project.name, token.name) == ("Gamma", "nightly")
    assert "Made the project 'Gamma'" in err.getvalue() and secret not in err.getvalue()
    call_command("revoke_token", "Gamma", "nightly", stdout=StringIO())
    assert ProjectToken.objects.authenticate(secret) is None
    assert timezone.now() - ProjectToken.objects.get(pk=token.pk).revoked_at < timedelta(minutes=1)
