"""A project's settings page (team mode): its admins manage members, roles and API tokens; the
projects page's New project form."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from projects.models import Membership, Project, ProjectToken, Role
from tests.factories import make_project

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def team(settings, client):
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "viewer"
    project = make_project("Alpha")
    admin = User.objects.create_user("ada")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    return project, admin


def settings_url(project):
    return reverse("project-settings", args=[project.name])


def test_only_the_projects_admins_and_superusers_open_its_settings(team, settings):
    project, _ = team
    member = User.objects.create_user("mo")
    Membership.objects.create(project=project, user=member, role=Role.MEMBER)
    other = Client()
    other.force_login(member)
    assert other.get(settings_url(project)).status_code == 403
    assert other.post(reverse("token-create", args=[project.pk]), {"name": "x"}).status_code == 403
    assert other.post(reverse("member-save", args=[project.pk]), {"username": "mo", "role": "admin"}).status_code == 403
    assert Membership.objects.get(user=member).role == Role.MEMBER
    settings.STUDIO_DEFAULT_ROLE = "none"
    stranger = Client()
    stranger.force_login(User.objects.create_user("stranger"))
    assert stranger.get(settings_url(project)).status_code == 404
    boss = Client()
    boss.force_login(User.objects.create_superuser("boss"))
    assert boss.get(settings_url(project)).status_code == 200
    assert Client().get(settings_url(project)).status_code == 302


def test_an_admin_adds_a_person_changes_their_role_and_removes_them(team, client):
    project, _ = team
    User.objects.create_user("bob")
    url = reverse("member-save", args=[project.pk])
    added = client.post(url, {"username": "bob", "role": "member"}, headers=HTMX)
    assert added.status_code == 200 and "bob" in added.content.decode()
    assert Membership.objects.get(project=project, user__username="bob").role == Role.MEMBER
    assert client.post(url, {"username": "bob", "role": "viewer"}, headers=HTMX).status_code == 200
    membership = Membership.objects.get(project=project, user__username="bob")
    assert membership.role == Role.VIEWER
    remove = reverse("member-remove", args=[project.pk, membership.pk])
    assert client.post(remove, headers=HTMX).status_code == 200
    assert not Membership.objects.filter(project=project, user__username="bob").exists()


def test_the_last_admin_can_be_neither_demoted_nor_removed_until_there_is_another(team, client):
    project, ada = team
    save = reverse("member-save", args=[project.pk])
    own = Membership.objects.get(project=project, user=ada)
    demoted = client.post(save, {"username": "ada", "role": "member"}, headers=HTMX)
    assert demoted.status_code == 400 and "ada is the project&#x27;s last admin" in demoted.content.decode()
    removed = client.post(reverse("member-remove", args=[project.pk, own.pk]), headers=HTMX)
    assert removed.status_code == 400 and "last admin" in removed.content.decode()
    assert Membership.objects.get(pk=own.pk).role == Role.ADMIN
    User.objects.create_user("bea")
    assert client.post(save, {"username": "bea", "role": "admin"}, headers=HTMX).status_code == 200
    assert client.post(save, {"username": "ada", "role": "viewer"}, headers=HTMX).status_code == 200
    assert Membership.objects.get(pk=own.pk).role == Role.VIEWER


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"username": "nobody", "role": "member"}, "No active person is named “nobody”"),
        ({"username": "", "role": "member"}, "Give the person&#x27;s username"),
        ({"username": "ada", "role": "owner"}, "Choose a role"),
        ({"username": "<script>alert(1)</script>", "role": "viewer"}, "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_a_bad_member_form_is_a_400_that_says_what_is_wrong(team, client, form, says):
    project, _ = team
    response = client.post(reverse("member-save", args=[project.pk]), form, headers=HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert says in html and "<script>alert" not in html


def test_a_token_is_shown_once_with_its_studio_url_then_listed_by_hint_and_revoked(team, client):
    project, ada = team
    response = client.post(reverse("token-create", args=[project.pk]), {"name": "nightly"}, headers=HTMX)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = ProjectToken.objects.get(project=project)
    secret = re.search(r'<code id="token-secret">([^<]+)</code>', response.content.decode())[1]
    assert ProjectToken.objects.authenticate(secret) == token and token.created_by == ada
    html = response.content.decode()
    assert f'studio_url="http://{secret}@testserver"' in html
    page = client.get(settings_url(project)).content.decode()
    assert secret not in page and f"{token.hint}…" in page and "nightly" in page
    revoke = reverse("token-revoke", args=[project.pk, token.pk])
    assert client.post(revoke, headers=HTMX).status_code == 200
    assert ProjectToken.objects.authenticate(secret) is None
    assert "revoked" in client.get(settings_url(project)).content.decode()


def test_a_token_needs_a_name_and_another_projects_token_cannot_be_revoked_here(team, client):
    project, _ = team
    response = client.post(reverse("token-create", args=[project.pk]), {"name": "  "}, headers=HTMX)
    assert response.status_code == 400 and "Name the token" in response.content.decode()
    other, secret = ProjectToken.objects.issue(make_project("Beta"), "theirs")
    assert client.post(reverse("token-revoke", args=[project.pk, other.pk])).status_code == 404
    assert ProjectToken.objects.authenticate(secret) == other


def test_the_settings_actions_need_the_csrf_token(team):
    project, ada = team
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada)
    assert strict.post(reverse("token-create", args=[project.pk]), {"name": "x"}).status_code == 403
    assert not ProjectToken.objects.exists()


def test_people_who_may_create_projects_get_the_new_project_form_and_become_its_admin(team, client):
    _, ada = team
    assert "new-project" not in client.get(reverse("projects")).content.decode()
    assert client.post(reverse("project-new"), {"name": "Mine"}).status_code == 403
    ada.user_permissions.add(Permission.objects.get(codename="add_project"))
    assert 'id="new-project"' in client.get(reverse("projects")).content.decode()
    response = client.post(reverse("project-new"), {"name": "Mine"}, headers=HTMX)
    assert response.status_code == 201 and response["HX-Redirect"] == reverse("project-settings", args=["Mine"])
    assert Membership.objects.get(project__name="Mine").user == ada
    assert Membership.objects.get(project__name="Mine").role == Role.ADMIN
    again = client.post(reverse("project-new"), {"name": "Mine"}, headers=HTMX)
    assert again.status_code == 400 and "already a project named" in again.content.decode()
    assert client.post(reverse("project-new"), {"name": ""}, headers=HTMX).status_code == 400
    assert Project.objects.filter(name="Mine").count() == 1


def test_without_login_required_the_projects_page_has_no_new_project_form(settings, client):
    settings.STUDIO_AUTH = False
    make_project("Local")
    html = client.get(reverse("projects")).content.decode()
    assert 'id="new-project"' not in html and reverse("project-delete", args=[Project.objects.get().pk]) in html
