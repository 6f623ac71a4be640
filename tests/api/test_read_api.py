"""The API under /api/v1/, in process: what it reads, its pages and filters, bad parameters,
who may read and answer (team mode, project tokens), and bundles and OTLP out and in."""

import gzip
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from projects.models import Membership, Project, ProjectToken
from runs import bundles
from runs.models import InputRequest, Message, Run
from tests.factories import make_message, make_question, make_reply, make_run, replay_capture
from tests.support.backends import through_async_views
from traces import otlp
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response


def all_pages(client, url, **headers):
    """Every item of a paginated list, following `next`; and how many pages it took."""
    items, pages = [], 0
    while url:
        body = get(client, url, **headers).json()
        items += body["results"]
        url, pages = body["next"], pages + 1
    return items, pages


@pytest.fixture
def chat():
    """A run of 7 replies with 3 messages each, and one pending and one answered request."""
    run = make_run("chatty", "Chats", status=Run.Status.FINISHED)
    for r in range(7):
        reply = make_reply(run, f"r{r}")
        for m in range(3):
            make_message(reply, f"r{r}-m{m}", [{"type": "text", "text": f"{r}.{m}"}])
    make_question(run, "open")
    answered = make_question(run, "done")
    answered.record_answer([{"type": "text", "text": "yes"}], None, "ada", timezone.now())
    return run


def test_a_runs_replies_and_messages_come_in_order_a_page_at_a_time(client, chat):
    messages, pages = all_pages(client, f"/api/v1/runs/{chat.pk}/messages?limit=4")
    assert pages == 6
    assert [m["id"] for m in messages] == [f"r{r}-m{m}" for r in range(7) for m in range(3)]
    assert messages[0]["content"] == [{"type": "text", "text": "0.0"}] and messages[0]["reply_id"] == "r0"
    replies, _ = all_pages(client, f"/api/v1/runs/{chat.pk}/replies?limit=3")
    assert [(r["id"], r["message_count"]) for r in replies] == [(f"r{r}", 3) for r in range(7)]
    only, _ = all_pages(client, f"/api/v1/runs/{chat.pk}/messages?reply=r5")
    assert [m["id"] for m in only] == ["r5-m0", "r5-m1", "r5-m2"]


def test_input_requests_are_listed_with_their_answers_and_filtered_by_status(client, chat):
    requests, _ = all_pages(client, f"/api/v1/runs/{chat.pk}/inputs")
    assert [(r["id"], r["status"]) for r in requests] == [("open", "pending"), ("done", "answered")]
    assert requests[1]["answer_blocks"] == [{"type": "text", "text": "yes"}] and requests[1]["answered_by"] == "ada"
    pending, _ = all_pages(client, f"/api/v1/runs/{chat.pk}/inputs?status=pending")
    assert [r["id"] for r in pending] == ["open"]


def test_runs_are_filtered_by_project_status_and_start_time_newest_first(client):
    now = timezone.now()
    a, b = Project.objects.create(name="A"), Project.objects.create(name="B")
    for i in range(5):
        make_run(f"a{i}", a, status="finished" if i % 2 else "running", started_at=now - timedelta(hours=i))
    make_run("b0", b, started_at=now)
    runs, pages = all_pages(client, f"/api/v1/runs?project={a.pk}&limit=2")
    assert [r["id"] for r in runs] == ["a0", "a1", "a2", "a3", "a4"] and pages == 3
    assert runs[0]["project_name"] == "A"
    finished, _ = all_pages(client, f"/api/v1/runs?project={a.pk}&status=finished")
    assert [r["id"] for r in finished] == ["a1", "a3"]
    after = (now - timedelta(hours=2, minutes=30)).isoformat()
    before = (now - timedelta(minutes=30)).isoformat()
    window, _ = all_pages(
        client, "/api/v1/runs?" + f"started_after={after}&started_before={before}".replace("+", "%2B")
    )
    assert [r["id"] for r in window] == ["a1", "a2"]


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/runs?status=sleeping", "status"),
        ("/api/v1/runs?project=x", "project"),
        ("/api/v1/runs?started_after=yesterday", "started_after"),
        ("/api/v1/runs?limit=0", "limit"),
        ("/api/v1/runs?limit=lots", "limit"),
        ("/api/v1/runs?cursor=not-a-cursor", "cursor"),
        ("/api/v1/runs/chatty/inputs?status=x", "status"),
        ("/api/v1/runs/chatty/messages?cursor=cD14", "cursor"),  # base64 of "p=x": no message id
        ("/api/v1/runs?cursor=cD14", "cursor"),  # "x": no time
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(client, chat, url, param):
    response = get(client, url)
    assert response.status_code == 400
    assert param in response.json()["errors"] and param in response.json()["error"]


def test_what_does_not_exist_is_a_404_in_the_apis_shape(client, chat):
    for url in (
        "/api/v1/runs/nope",
        "/api/v1/runs/nope/messages",
        "/api/v1/projects/999",
        "/api/v1/traces/" + "a" * 32,
    ):
        response = get(client, url)
        assert response.status_code == 404 and set(response.json()) == {"error", "errors"}


def test_spans_traces_and_statistics_are_read_by_run_and_by_trace_id(client):
    run = replay_capture(client)
    spans, _ = all_pages(client, f"/api/v1/runs/{run.pk}/spans?limit=3")
    stored = list(Span.objects.filter(run=run).order_by("start_time_ns").values_list("span_id", flat=True))
    assert [s["span_id"] for s in spans] == stored
    traces, _ = all_pages(client, f"/api/v1/runs/{run.pk}/traces")
    stored_traces = Trace.objects.filter(run=run).order_by("start_time_ns")
    assert [t["trace_id"] for t in traces] == [t.trace_id for t in stored_traces]
    assert sum(t["span_count"] for t in traces) == len(stored)
    trace = stored_traces[0]
    assert get(client, f"/api/v1/traces/{trace.trace_id}").json()["span_count"] == trace.span_count
    by_trace, _ = all_pages(client, f"/api/v1/traces/{trace.trace_id}/spans")
    assert {s["span_id"] for s in by_trace} == set(
        Span.objects.filter(trace_id=trace.trace_id).values_list("span_id", flat=True)
    )
    stats = get(client, f"/api/v1/runs/{run.pk}/stats").json()
    assert stats["spans"] == len(stored) and stats["llm_calls"] >= 1
    assert stats["total_tokens"] == stats["input_tokens"] + stats["output_tokens"]


def test_a_runs_spans_download_as_otlp_json_that_decodes_to_the_same_spans(client):
    run = replay_capture(client)
    response = client.get(f"/api/v1/runs/{run.pk}/spans/otlp")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    document = json.loads(response.content)
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16 and isinstance(span["startTimeUnixNano"], str)
    decoded, rejected = otlp.spans_of(otlp.parse(response.content, otlp.JSON))
    assert not rejected
    columns = [c for c in otlp_columns() if c not in ("resource", "scope")]
    stored = list(Span.objects.filter(run=run).order_by("start_time_ns", "pk").values(*columns))
    assert [{c: s[c] for c in columns} for s in decoded] == stored


def otlp_columns():
    from traces.api import OTLP_COLUMNS

    return OTLP_COLUMNS


def test_a_bundle_downloads_and_imports_through_the_api_and_again_adds_nothing(client, chat):
    response = client.get("/api/v1/runs/chatty/bundle")
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    data = b"".join(response.streaming_content)
    Run.objects.all().delete()
    imported = client.post("/api/v1/bundles", data, content_type="application/gzip")
    assert imported.status_code == 200, imported.content
    assert imported.json() == {
        "run": "chatty",
        "project": "Chats",
        "created": True,
        "added": {"reply": 7, "message": 21, "input_request": 2, "span": 0},
    }
    again = client.post("/api/v1/bundles", data, content_type="application/gzip").json()
    assert again["created"] is False and set(again["added"].values()) == {0}
    assert Message.objects.filter(run_id="chatty").count() == 21


def test_a_broken_bundle_is_a_400_saying_why_and_a_wrong_type_a_415(client):
    assert client.post("/api/v1/bundles", b"junk", content_type="application/gzip").json()["errors"] == {
        "file": "not gzip"
    }
    header = {"format": bundles.FORMAT, "version": 99}
    unknown = client.post(
        "/api/v1/bundles", gzip.compress(json.dumps(header).encode()), content_type="application/gzip"
    )
    assert unknown.status_code == 400 and "format version 99" in unknown.json()["error"]
    assert client.post("/api/v1/bundles", {"a": 1}, content_type="application/json").status_code == 415


@through_async_views
def test_answering_through_the_api_records_the_answer(client, chat):
    response = client.post(
        "/api/v1/runs/chatty/inputs/open/answer", {"text": "from a script"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"ok": True, "requestId": "open"}
    request = InputRequest.objects.get(request_id="open")
    assert request.status == "answered" and request.answer_blocks == [{"type": "text", "text": "from a script"}]
    again = client.post("/api/v1/runs/chatty/inputs/open/answer", {"text": "x"}, content_type="application/json")
    assert again.status_code == 409 and "already been answered" in again.json()["error"]
    bad = client.post("/api/v1/runs/chatty/inputs/done/answer", "[", content_type="application/json")
    assert bad.status_code == 400 and "Invalid JSON" in bad.json()["error"]


@through_async_views
def test_the_old_answer_address_still_answers(client, chat):
    response = client.post("/api/runs/chatty/inputs/open/answer", {"text": "old way"}, content_type="application/json")
    assert response.status_code == 200
    assert InputRequest.objects.get(request_id="open").answered_by == "http"


# ---- team mode ----


@pytest.fixture
def team(chat, settings):
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "none"
    other = make_run("elsewhere", "Other")
    people = {}
    for role in ("viewer", "member", "admin"):
        people[role] = User.objects.create_user(role)
        Membership.objects.create(project=chat.project, user=people[role], role=role)
    people["stranger"] = User.objects.create_user("stranger")
    _, secret = ProjectToken.objects.issue(chat.project, "notebook")
    return {"run": chat, "other": other, "people": people, "token": secret}


READS = [
    "/api/v1/projects",
    "/api/v1/runs",
    "/api/v1/runs/chatty",
    "/api/v1/runs/chatty/replies",
    "/api/v1/runs/chatty/messages",
    "/api/v1/runs/chatty/inputs",
    "/api/v1/runs/chatty/spans",
    "/api/v1/runs/chatty/traces",
    "/api/v1/runs/chatty/stats",
    "/api/v1/runs/chatty/spans/otlp",
    "/api/v1/runs/chatty/bundle",
]


@pytest.mark.parametrize("url", READS)
def test_in_team_mode_anonymous_gets_401_and_a_stranger_404_and_a_viewer_reads(client, team, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["error"].startswith("Log in first")
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="Studio"'
    client.force_login(team["people"]["stranger"])
    stranger = client.get(url)
    if url in ("/api/v1/projects", "/api/v1/runs"):
        assert stranger.status_code == 200 and stranger.json()["results"] == []
    else:
        assert stranger.status_code == 404
    client.force_login(team["people"]["viewer"])
    assert client.get(url).status_code == 200


def test_a_project_token_reads_its_own_project_only(client, team):
    bearer = {"Authorization": f"Bearer {team['token']}"}
    for url in READS:
        assert client.get(url, headers=bearer).status_code == 200, url
    projects, _ = all_pages(client, "/api/v1/projects", **bearer)
    assert [p["name"] for p in projects] == ["Chats"]
    runs, _ = all_pages(client, "/api/v1/runs", **bearer)
    assert [r["id"] for r in runs] == ["chatty"]
    assert client.get("/api/v1/runs/elsewhere", headers=bearer).status_code == 404
    answer = client.post(
        "/api/v1/runs/chatty/inputs/open/answer", {"text": "hi"}, content_type="application/json", headers=bearer
    )
    assert answer.status_code == 403 and "only reads" in answer.json()["error"]
    unknown = client.get("/api/v1/runs", headers={"Authorization": "Bearer sst_nope"})
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.json()["error"]


@through_async_views
def test_answering_needs_the_member_role_and_is_recorded_as_the_person(client, team):
    url = "/api/v1/runs/chatty/inputs/open/answer"
    client.force_login(team["people"]["viewer"])
    refused = client.post(url, {"text": "hi"}, content_type="application/json")
    assert refused.status_code == 403 and "member role" in refused.json()["error"]
    client.force_login(team["people"]["member"])
    assert client.post(url, {"text": "hi", "by": "someone else"}, content_type="application/json").status_code == 200
    assert InputRequest.objects.get(request_id="open").answered_by == "member"


def test_a_logged_in_post_needs_the_csrf_token(team):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(team["people"]["member"])
    refused = client.post("/api/v1/runs/chatty/inputs/open/answer", {"text": "x"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]


def test_importing_needs_the_admin_role_there_or_the_right_to_make_projects(client, team):
    data = bundle_of("chatty")
    for who in ("viewer", "member"):
        client.force_login(team["people"][who])
        refused = client.post("/api/v1/bundles", data, content_type="application/gzip")
        assert refused.status_code == 403 and "admin role" in refused.json()["error"]
    client.force_login(team["people"]["admin"])
    assert client.post("/api/v1/bundles", data, content_type="application/gzip").status_code == 200

    Project.objects.filter(name="Chats").delete()
    client.force_login(team["people"]["stranger"])
    assert client.post("/api/v1/bundles", data, content_type="application/gzip").status_code == 403
    team["people"]["stranger"].user_permissions.add(Permission.objects.get(codename="add_project"))
    client.force_login(User.objects.get(username="stranger"))
    assert client.post("/api/v1/bundles", data, content_type="application/gzip").status_code == 200
    bearer = {"Authorization": f"Bearer {team['token']}"}
    client.logout()
    assert client.post("/api/v1/bundles", data, content_type="application/gzip", headers=bearer).status_code in (
        401,
        403,
    )


def bundle_of(run_id):
    out = io.BytesIO()
    bundles.write(Run.objects.select_related("project").get(pk=run_id), out)
    return out.getvalue()


def test_the_docs_page_loads_swagger_ui_from_studios_own_static_files(client, settings):
    settings.STUDIO_AUTH = True  # the schema and its docs hold no data: no login needed
    page = client.get("/api/docs/").text
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "//unpkg" not in page
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/api/schema/", headers={"Accept": "application/json"})
    assert schema.status_code == 200 and "/api/v1/runs" in schema.json()["paths"]
