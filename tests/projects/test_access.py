"""The rules of projects.access and studio.auth_mode, in process: who may do what, and when
a login is required at all."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory, override_settings

from projects import access
from projects.models import Membership, ProjectToken, Role
from studio import auth_mode
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def person(name, **fields):
    return User.objects.create_user(name, password="pw-" + name, **fields)


def request_as(user, remote="127.0.0.1", **headers):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **headers)
    request.user = user
    return request


@pytest.fixture
def project():
    return make_project("Alpha")


@override_settings(STUDIO_DEFAULT_ROLE="none")
def test_each_role_may_what_it_may_and_nothing_more(project):
    viewer, member, admin = person("vi"), person("me"), person("ad")
    for user, role in ((viewer, Role.VIEWER), (member, Role.MEMBER), (admin, Role.ADMIN)):
        Membership.objects.create(project=project, user=user, role=role)
    allowed = {
        user.username: [
            needed for needed in (access.VIEW, access.ANSWER, access.MANAGE) if access.may(user, project, needed)
        ]
        for user in (viewer, member, admin, person("stranger"))
    }
    assert allowed == {
        "vi": [access.VIEW],
        "me": [access.VIEW, access.ANSWER],
        "ad": [access.VIEW, access.ANSWER, access.MANAGE],
        "stranger": [],
    }


def test_superusers_are_admin_everywhere_and_anonymous_may_nothing(project):
    boss = User.objects.create_superuser("boss", password="pw")
    assert access.role_of(boss, project) == Role.ADMIN
    from django.contrib.auth.models import AnonymousUser

    assert not access.may(AnonymousUser(), project, access.VIEW)
    assert list(access.visible(AnonymousUser())) == []


def test_the_default_role_applies_to_people_who_are_not_members(project):
    someone = person("someone")
    with override_settings(STUDIO_DEFAULT_ROLE="viewer"):
        assert access.role_of(someone, project) == Role.VIEWER
        assert list(access.visible(someone)) == [project]
    with override_settings(STUDIO_DEFAULT_ROLE="none"):
        assert access.role_of(someone, project) is None
        assert list(access.visible(someone)) == []
        Membership.objects.create(project=project, user=someone, role=Role.MEMBER)
        assert list(access.visible(someone)) == [project]
        assert access.role_of(someone, project) == Role.MEMBER


def test_an_inactive_person_may_nothing_even_as_superuser(project):
    gone = User.objects.create_superuser("gone", password="pw", is_active=False)
    assert not access.may(gone, project, access.VIEW)


def test_require_hides_a_project_from_who_may_not_see_it_and_refuses_a_low_role(project):
    viewer = person("vi")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    with override_settings(STUDIO_AUTH=True, STUDIO_DEFAULT_ROLE="none"):
        access.require(request_as(viewer), project, access.VIEW)
        with pytest.raises(PermissionDenied):
            access.require(request_as(viewer), project, access.ANSWER)
        with pytest.raises(Http404):
            access.require(request_as(person("other")), project, access.VIEW)


def test_without_login_required_everyone_may_everything(project):
    from django.contrib.auth.models import AnonymousUser

    with override_settings(STUDIO_AUTH=False):
        access.require(request_as(AnonymousUser()), project, access.MANAGE)
        assert list(access.visible(AnonymousUser(), login_is_required=False)) == [project]


def test_creating_projects_needs_the_add_permission():
    maker, other = person("maker"), person("other")
    maker.user_permissions.add(Permission.objects.get(codename="add_project"))
    maker = User.objects.get(pk=maker.pk)  # permissions are cached per instance
    assert access.may_create_projects(maker)
    assert not access.may_create_projects(other)
    assert access.may_create_projects(None, login_is_required=False)


@pytest.mark.parametrize(
    ("remote", "headers", "required"),
    [
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("10.1.2.3", {}, True),
        ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, True),
        ("127.0.0.1", {"HTTP_FORWARDED": "for=203.0.113.9"}, True),
        ("127.0.0.1", {"HTTP_X_REAL_IP": "203.0.113.9"}, True),
    ],
)
def test_a_login_is_required_for_requests_from_beyond_loopback(remote, headers, required):
    with override_settings(STUDIO_AUTH=False):
        assert auth_mode.required_for_request(request_as(None, remote, **headers)) is required
    with override_settings(STUDIO_AUTH=True):
        assert auth_mode.required_for_request(request_as(None, remote, **headers)) is True


def test_a_login_is_required_for_sockets_from_beyond_loopback():
    with override_settings(STUDIO_AUTH=False):
        assert not auth_mode.required_for_scope({"client": ("127.0.0.1", 5000), "headers": []})
        assert auth_mode.required_for_scope({"client": ("192.168.1.5", 5000), "headers": []})
        assert auth_mode.required_for_scope({"client": None, "headers": []})
        assert auth_mode.required_for_scope({"client": ("127.0.0.1", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4")]})


@pytest.mark.parametrize(
    ("argv", "beyond"),
    [
        (["uvicorn", "studio.asgi:application"], False),
        (["uvicorn", "--host", "127.0.0.1", "studio.asgi:application"], False),
        (["uvicorn", "--host=::1", "app"], False),
        (["uvicorn", "--host", "0.0.0.0", "app"], True),
        (["uvicorn", "--host=192.168.1.2", "app"], True),
        (["uvicorn", "--uds", "/run/studio.sock", "app"], True),
        (["gunicorn", "-b", "127.0.0.1:8000", "app"], False),
        (["gunicorn", "--bind=0.0.0.0:8000", "app"], True),
        (["gunicorn", "--bind", "[::1]:8000", "app"], False),
        (["gunicorn", "-b", "unix:/run/s.sock", "app"], True),
    ],
)
def test_listening_beyond_loopback_is_read_from_the_servers_command_line(argv, beyond):
    assert auth_mode.listens_beyond_loopback(argv) is beyond


def test_a_token_is_shown_once_stored_hashed_and_refused_once_revoked(project):
    token, secret = ProjectToken.objects.issue(project, "ci agent")
    stored = ProjectToken.objects.get(pk=token.pk)
    assert secret not in (stored.digest, stored.hint, stored.name)
    assert secret.startswith(stored.hint)
    assert ProjectToken.objects.authenticate(secret) == token
    assert ProjectToken.objects.authenticate(secret + "x") is None
    assert ProjectToken.objects.authenticate("") is None
    assert ProjectToken.objects.authenticate(None) is None
    token.revoke()
    assert ProjectToken.objects.authenticate(secret) is None
