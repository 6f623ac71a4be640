"""Team mode, in process: each role on every page, fragment and action a person uses.

The data is made first with login not required (as agents make it); then STUDIO_AUTH is on and
STUDIO_DEFAULT_ROLE "none", so a logged-in person who is no member sees nothing (404).
"""

import json
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from projects.models import Membership, Project, Role
from runs.models import InputRequest, Message, Reply, Run
from tests.factories import make_message, make_question, make_run, replay_capture
from tests.support.backends import through_async_views
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db

PEOPLE = ("anonymous", "stranger", "viewer", "member", "admin")
PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


@pytest.fixture
def world(client, settings):
    run = replay_capture(client)
    project = run.project
    reply = Reply.objects.filter(run=run).first()
    media = make_message(reply, "with-media", [PNG])
    span = Span.objects.filter(run=run).first()
    trace = Trace.objects.filter(project=project).first()
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "none"
    people = {"anonymous": None, "stranger": User.objects.create_user("stranger")}
    for role in ("viewer", "member", "admin"):
        people[role] = User.objects.create_user(role)
        Membership.objects.create(project=project, user=people[role], role=role)
    return SimpleNamespace(
        run=run, project=project, reply=reply, media=media, span=span, trace=trace, people=people, client=client
    )


def as_person(world, who):
    world.client.logout()
    if world.people[who] is not None:
        world.client.force_login(world.people[who])
    return world.client


PAGES = {
    "project page": lambda w: reverse("project", args=[w.project.name]),
    "run page": lambda w: reverse("run", args=[w.project.name, w.run.pk]),
    "run list, more": lambda w: reverse("run-list-more", args=[w.project.pk]),
    "older messages": lambda w: reverse("run-older", args=[w.run.pk]),
    "earlier messages of a reply": lambda w: (
        reverse("reply-earlier", args=[w.run.pk, w.reply.pk]) + f"?before={w.media.pk}"
    ),
    "run details": lambda w: reverse("run-details", args=[w.run.pk]),
    "message inspector": lambda w: reverse("message-inspector", args=[w.run.pk, w.media.pk]),
    "message json": lambda w: reverse("message-json", args=[w.run.pk, w.media.pk]),
    "message media": lambda w: reverse("message-media", args=[w.run.pk, w.media.pk, "0"]),
    "run trace panel": lambda w: reverse("run-trace", args=[w.run.pk]),
    "reply spans": lambda w: reverse("reply-spans", args=[w.run.pk, w.reply.pk]),
    "span detail": lambda w: reverse("span-detail", args=[w.span.pk]),
    "span children": lambda w: reverse("span-children", args=[w.span.pk]),
    "project traces": lambda w: reverse("project-traces", args=[w.project.name]),
    "trace page": lambda w: reverse("trace", args=[w.project.name, w.trace.trace_id]),
}
SEES_PAGES = {"anonymous": 302, "stranger": 404, "viewer": 200, "member": 200, "admin": 200}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_and_fragment_needs_a_login_and_the_viewer_role(world, page):
    url = PAGES[page](world)
    got = {who: as_person(world, who).get(url).status_code for who in PEOPLE}
    assert got == SEES_PAGES, url


def test_an_anonymous_page_request_is_sent_to_the_login_and_back(world):
    url = reverse("run", args=[world.project.name, world.run.pk]) + "?group=message"
    response = as_person(world, "anonymous").get(url)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=" + _quoted(url)


def test_an_anonymous_htmx_request_gets_401_and_a_redirect_to_the_login_of_its_page(world):
    page = reverse("run", args=[world.project.name, world.run.pk])
    response = as_person(world, "anonymous").get(
        reverse("run-details", args=[world.run.pk]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/login/?next=" + _quoted(page)


def _quoted(path):
    from urllib.parse import quote

    return quote(path, safe="/")


@pytest.mark.parametrize(
    ("action", "allowed"),
    [("delete run", {"admin"}), ("delete project", {"admin"})],
)
def test_deleting_needs_the_admin_role(world, action, allowed):
    for who in PEOPLE:
        if who in allowed:
            continue
        url = _delete_url(world, action)
        status = as_person(world, who).post(url, headers={"HX-Request": "true"}).status_code
        expected = {"anonymous": 401, "stranger": 404}.get(who, 403)
        assert status == expected, who
    assert Run.objects.filter(pk=world.run.pk).exists()
    for who in allowed:
        assert as_person(world, who).post(_delete_url(world, action), headers={"HX-Request": "true"}).status_code == 200
    if action == "delete run":
        assert not Run.objects.filter(pk=world.run.pk).exists()
    else:
        assert not Project.objects.filter(pk=world.project.pk).exists()


def _delete_url(world, action):
    if action == "delete run":
        return reverse("run-delete", args=[world.run.pk])
    return reverse("project-delete", args=[world.project.pk])


ANSWERS = {"anonymous": 401, "stranger": 404, "viewer": 403, "member": 200, "admin": 200}


@through_async_views
@pytest.mark.parametrize("who", PEOPLE)
def test_answering_over_http_needs_the_member_role_and_records_who_answered(world, who):
    question = make_question(world.run, f"q-{who}")
    url = reverse("input-answer", args=[world.run.pk, question.request_id])
    body = {"blocks": [{"type": "text", "text": "yes"}], "by": "someone else"}
    response = as_person(world, who).post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == ANSWERS[who], response.content
    assert "error" in response.json() or response.json()["ok"]
    question.refresh_from_db()
    if ANSWERS[who] == 200:
        # The logged-in person, never what the body claims.
        assert question.answered_by == who and question.status == InputRequest.Status.ANSWERED
    else:
        assert question.status == InputRequest.Status.PENDING


def test_answering_a_run_that_does_not_exist_is_404_in_team_mode(world):
    url = reverse("input-answer", args=["no-such-run", "q"])
    response = as_person(world, "member").post(url, "{}", content_type="application/json")
    assert response.status_code == 404 and "no-such-run" in response.json()["error"]


def test_the_projects_page_lists_only_the_projects_the_person_may_see(world):
    Project.objects.create(name="Secret")
    for who, names in {"stranger": [], "viewer": [world.project.name], "admin": [world.project.name]}.items():
        page = as_person(world, who).get(reverse("projects"))
        assert page.status_code == 200
        shown = [p.name for p in page.context["projects"]]
        assert shown == names, who
        assert "Secret" not in page.content.decode()
    boss = User.objects.create_superuser("boss")
    world.client.force_login(boss)
    assert {p.name for p in world.client.get(reverse("projects")).context["projects"]} == {world.project.name, "Secret"}


def test_the_default_role_viewer_shows_every_project_to_every_person(world, settings):
    settings.STUDIO_DEFAULT_ROLE = "viewer"
    page = as_person(world, "stranger").get(reverse("run", args=[world.project.name, world.run.pk]))
    assert page.status_code == 200
    assert as_person(world, "stranger").post(reverse("run-delete", args=[world.run.pk])).status_code == 403


def test_a_viewer_sees_no_delete_buttons_and_the_answer_form_disabled_with_a_note(world):
    make_question(world.run, "q-shown")
    html = as_person(world, "viewer").get(reverse("run", args=[world.project.name, world.run.pk])).content.decode()
    assert "Viewers cannot answer" in html
    assert 'class="answer-fields" disabled' in html and "data-read-only" in html
    assert reverse("run-delete", args=[world.run.pk]) not in html
    assert reverse("project-settings", args=[world.project.name]) not in html
    listing = as_person(world, "viewer").get(reverse("projects")).content.decode()
    assert reverse("project-delete", args=[world.project.pk]) not in listing


def test_a_member_may_answer_but_not_delete_and_an_admin_may_both(world):
    make_question(world.run, "q-shown")
    url = reverse("run", args=[world.project.name, world.run.pk])
    member = as_person(world, "member").get(url).content.decode()
    assert "Viewers cannot answer" not in member and "data-read-only" not in member
    assert reverse("run-delete", args=[world.run.pk]) not in member
    admin = as_person(world, "admin").get(url).content.decode()
    assert reverse("run-delete", args=[world.run.pk]) in admin
    assert reverse("project-settings", args=[world.project.name]) in admin
    listing = as_person(world, "admin").get(reverse("projects")).content.decode()
    assert reverse("project-delete", args=[world.project.pk]) in listing


def test_a_span_of_no_project_yet_is_shown_to_superusers_only(world):
    orphan = Span.objects.filter(pk=world.span.pk).first()
    Span.objects.filter(pk=orphan.pk).update(project=None, run=None)
    assert as_person(world, "admin").get(reverse("span-detail", args=[orphan.pk])).status_code == 404
    world.client.force_login(User.objects.create_superuser("boss"))
    assert world.client.get(reverse("span-detail", args=[orphan.pk])).status_code == 200


@through_async_views
def test_without_login_required_nothing_asks_for_one(world, settings):
    settings.STUDIO_AUTH = False
    client = as_person(world, "anonymous")
    for url in [PAGES[name](world) for name in PAGES]:
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("projects")).context["projects"][0] == world.project
    question = make_question(world.run, "q-local")
    url = reverse("input-answer", args=[world.run.pk, question.request_id])
    body = {"blocks": [{"type": "text", "text": "ok"}], "by": "laptop"}
    assert client.post(url, json.dumps(body), content_type="application/json").status_code == 200
    question.refresh_from_db()
    assert question.answered_by == "laptop"  # as recorded before team mode
    assert Message.objects.filter(run=world.run).exists()


def test_a_request_from_beyond_loopback_needs_a_login_even_without_studio_auth(world, settings):
    settings.STUDIO_AUTH = False
    url = reverse("project", args=[world.project.name])
    assert world.client.get(url, REMOTE_ADDR="192.0.2.7").status_code == 302
    assert world.client.get(url, headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 302


def test_an_unknown_run_page_is_404_for_everyone(world):
    assert as_person(world, "admin").get(reverse("run-details", args=["nope"])).status_code == 404
    make_run("elsewhere", "Other")
    assert as_person(world, "admin").get(reverse("run-details", args=["elsewhere"])).status_code == 404
    Membership.objects.create(project=Project.objects.get(name="Other"), user=world.people["viewer"], role=Role.VIEWER)
    assert as_person(world, "viewer").get(reverse("run-details", args=["elsewhere"])).status_code == 200
