"""The pages' WebSockets in team mode: a login to connect, the viewer role to see, the member
role at the time of each answer; the projects socket shows only what its person may see."""

import json

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client

from projects import events as project_events
from projects.models import Membership, Role
from runs.models import InputRequest, Run
from studio import live
from studio.routing import websocket_urlpatterns
from tests.factories import make_question, make_run
from tests.support.waiting import run_async

# The consumers read the database on their own threads: the test's writes must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
TEXT = [{"type": "text", "text": "go on"}]


@pytest.fixture
def team(settings):
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "none"
    run = make_run("run-t", "Alpha", status=Run.Status.WAITING)
    make_question(run, "q1")
    return run


def person(name, project=None, role=None):
    user = User.objects.create_user(name)
    if role:
        Membership.objects.create(project=project, user=user, role=role)
    client = Client()
    client.force_login(user)
    return user, client.cookies[django_settings.SESSION_COOKIE_NAME].value


def socket(path, session=None):
    headers = [(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())] if session else []
    return WebsocketCommunicator(APP, path, headers=headers)


def paths(run):
    return ["/ws/projects/", f"/ws/projects/{run.project_id}/runs/", f"/ws/runs/{run.pk}/"]


def test_an_anonymous_socket_is_closed_with_4401_so_the_page_goes_to_the_login(team):
    async def scenario():
        codes = []
        for path in paths(team):
            page = socket(path)
            assert (await page.connect())[0]
            closed = await page.receive_output(timeout=5)
            codes.append((closed["type"], closed.get("code")))
        return codes

    assert run_async(scenario()) == [("websocket.close", 4401)] * 3


def test_a_person_who_may_not_see_the_project_is_refused_as_if_it_did_not_exist(team):
    _, session = person("stranger")

    async def scenario():
        refused = []
        for path in paths(team)[1:] + ["/ws/runs/no-such-run/"]:
            refused.append(await socket(path, session).connect())
        return refused

    assert run_async(scenario()) == [(False, 4404)] * 3


def test_a_viewer_connects_but_an_answer_is_refused_and_the_request_stays_pending(team):
    _, session = person("vi", team.project, Role.VIEWER)

    async def scenario():
        page = socket(f"/ws/runs/{team.pk}/", session)
        assert (await page.connect())[0]
        await page.send_to(json.dumps({"type": "answer", "requestId": "q1", "blocks": TEXT}))
        frame = await page.receive_json_from(timeout=10)
        await page.disconnect()
        return frame

    frame = run_async(scenario())
    assert frame["type"] == "answer.rejected" and "does not allow answering" in frame["message"]
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING


def test_each_answer_is_checked_when_it_is_given_not_when_the_page_opened(team):
    member, session = person("mo", team.project, Role.MEMBER)
    make_question(team, "q2")
    membership = Membership.objects.get(user=member)

    async def answer(page, request_id):
        await page.send_to(json.dumps({"type": "answer", "requestId": request_id, "blocks": TEXT}))
        while True:  # live updates may come between
            frame = await page.receive_json_from(timeout=10)
            if frame["type"].startswith("answer."):
                return frame

    async def scenario():
        from channels.db import database_sync_to_async

        page = socket(f"/ws/runs/{team.pk}/", session)
        assert (await page.connect())[0]
        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(role=Role.VIEWER)
        lowered = await answer(page, "q1")
        await database_sync_to_async(Membership.objects.filter(pk=membership.pk).update)(role=Role.MEMBER)
        raised = await answer(page, "q2")
        await page.disconnect()
        return lowered, raised

    lowered, raised = run_async(scenario())
    assert lowered["type"] == "answer.rejected" and lowered["requestId"] == "q1"
    assert raised == {"type": "answer.accepted", "requestId": "q2"}
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING
    assert InputRequest.objects.get(request_id="q2").answered_by == "mo"


def test_an_answer_after_logging_out_elsewhere_is_refused(team):
    _, session = person("mo", team.project, Role.MEMBER)

    async def scenario():
        from channels.db import database_sync_to_async
        from django.contrib.sessions.models import Session

        page = socket(f"/ws/runs/{team.pk}/", session)
        assert (await page.connect())[0]
        await database_sync_to_async(Session.objects.filter(session_key=session).delete)()
        await page.send_to(json.dumps({"type": "answer", "requestId": "q1", "blocks": TEXT}))
        frame = await page.receive_json_from(timeout=10)
        await page.disconnect()
        return frame

    frame = run_async(scenario())
    assert frame["type"] == "answer.rejected" and "logged out" in frame["message"]
    assert InputRequest.objects.get(request_id="q1").status == InputRequest.Status.PENDING


def test_the_projects_socket_renders_only_the_projects_its_person_may_see(team):
    secret = make_run("run-s", "Secret").project
    _, session = person("vi", team.project, Role.VIEWER)

    async def scenario():
        page = socket("/ws/projects/", session)
        assert (await page.connect())[0]
        await live.publish(project_events.project_active(secret.pk))
        await live.publish(project_events.project_active(team.project_id))
        frame = await page.receive_json_from(timeout=10)
        nothing_more = await page.receive_nothing(timeout=0.3)
        await page.disconnect()
        return frame, nothing_more

    frame, nothing_more = run_async(scenario())
    assert f'id="project-{team.project_id}"' in frame["html"] and "Alpha" in frame["html"]
    assert "Secret" not in frame["html"] and nothing_more
    # A viewer's row has no Delete button.
    assert "project-delete" not in frame["html"]


def test_without_login_required_an_anonymous_page_connects_and_answers_as_before(team, settings):
    settings.STUDIO_AUTH = False

    async def scenario():
        page = WebsocketCommunicator(APP, f"/ws/runs/{team.pk}/")
        page.scope["client"] = ("127.0.0.1", 5000)
        assert (await page.connect())[0]
        await page.send_to(json.dumps({"type": "answer", "requestId": "q1", "blocks": TEXT}))
        while True:
            frame = await page.receive_json_from(timeout=10)
            if frame["type"].startswith("answer."):
                break
        await page.disconnect()
        return frame

    assert run_async(scenario()) == {"type": "answer.accepted", "requestId": "q1"}
    assert InputRequest.objects.get(request_id="q1").answered_by == "anonymous (127.0.0.1)"
