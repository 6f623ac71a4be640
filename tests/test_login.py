"""Logging in and out in team mode (studio/login.py), failed logins locked out (django-axes),
and who gets into the Django admin."""

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse

from studio.login import client_address
from tests.factories import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(settings):
    settings.STUDIO_AUTH = True
    settings.AXES_FAILURE_LIMIT = 3
    # Each attempt hashes a password: a fast hasher keeps the lockout tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user("ada", password="right-horse-battery")


def log_in(client, username, password, next_url="", **extra):
    return client.post(reverse("login"), {"username": username, "password": password, "next": next_url}, **extra)


def test_the_login_page_and_static_files_are_reachable_without_a_login(team, client):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Log in to Studio" in html and 'class="topbar"' in html and "studio.css" in html
    assert client.get("/static/studio/studio.css").status_code == 200


def test_logging_in_goes_back_to_the_page_asked_for_and_the_header_shows_who(team, client):
    make_project("Alpha")
    asked = reverse("project", args=["Alpha"])
    assert client.get(asked)["Location"] == f"/login/?next={asked}"
    response = log_in(client, "ada", "right-horse-battery", asked)
    assert response.status_code == 302 and response["Location"] == asked
    html = client.get(asked).content.decode()
    assert ">ada</span>" in html and 'id="logout"' in html and f'action="{reverse("logout")}"' in html


def test_a_wrong_password_is_told_in_words_and_nobody_is_logged_in(team, client):
    response = log_in(client, "ada", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert client.get(reverse("projects")).status_code == 302


def test_logging_out_is_a_post_and_ends_the_session(team, client):
    log_in(client, "ada", "right-horse-battery")
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("projects")).status_code == 302


def test_repeated_failures_lock_that_username_from_that_address_out_with_a_clear_message(team, client):
    for _ in range(2):
        assert log_in(client, "ada", "guess").status_code == 200
    locked = log_in(client, "ada", "guess")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed logins" in html and "After 3 failed logins" in html and "ada" in html
    # Even the right password, while locked.
    assert log_in(client, "ada", "right-horse-battery").status_code == 429
    assert client.get(reverse("projects")).status_code == 302
    # Another person from the same address, and the same person from elsewhere, still may.
    User.objects.create_user("bob", password="bobs-password")
    assert log_in(Client(), "bob", "bobs-password").status_code == 302
    elsewhere = Client(headers={"X-Forwarded-For": "198.51.100.4"})
    assert log_in(elsewhere, "ada", "right-horse-battery").status_code == 302


def test_a_successful_login_forgets_earlier_failures(team, client):
    for _ in range(2):
        log_in(client, "ada", "guess")
    assert log_in(client, "ada", "right-horse-battery").status_code == 302
    client.post(reverse("logout"))
    for _ in range(2):
        assert log_in(client, "ada", "guess").status_code == 200
    assert log_in(client, "ada", "right-horse-battery").status_code == 302


def test_an_anonymous_api_call_gets_a_401_in_json(team, client):
    response = client.post("/api/runs/r/inputs/q/answer", "{}", content_type="application/json")
    assert response.status_code == 401 and response.json() == {"error": "Log in first", "login": "/login/"}


def test_failures_are_counted_against_the_address_the_proxy_saw_and_only_a_local_proxy_is_believed():
    factory = RequestFactory()
    assert client_address(factory.get("/", REMOTE_ADDR="203.0.113.5")) == "203.0.113.5"
    spoofed = factory.get("/", REMOTE_ADDR="203.0.113.5", headers={"X-Forwarded-For": "10.0.0.1"})
    assert client_address(spoofed) == "203.0.113.5"
    proxied = factory.get("/", REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"})
    assert client_address(proxied) == "198.51.100.7"
    assert client_address(factory.get("/", REMOTE_ADDR="127.0.0.1", headers={"X-Real-IP": "198.51.100.8"})) == (
        "198.51.100.8"
    )
    assert client_address(factory.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"


def test_in_team_mode_only_superusers_get_into_the_admin(team, settings):
    staff = User.objects.create_user("staff", is_staff=True)
    boss = User.objects.create_superuser("boss")
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302
    client.force_login(boss)
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("admin:projects_projecttoken_changelist")).status_code == 200
    assert client.get(reverse("admin:projects_projecttoken_add")).status_code == 403
    settings.STUDIO_AUTH = False
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200  # a local Studio's staff, as before


def test_the_token_admin_lists_and_revokes_but_never_shows_a_secret(team):
    from projects.models import ProjectToken

    token, secret = ProjectToken.objects.issue(make_project("Alpha"), "ci")
    client = Client()
    client.force_login(User.objects.create_superuser("boss"))
    listing = client.get(reverse("admin:projects_projecttoken_changelist")).content.decode()
    detail = client.get(reverse("admin:projects_projecttoken_change", args=[token.pk])).content.decode()
    for html in (listing, detail):
        assert secret not in html and token.digest not in html and token.hint in html
    response = client.post(
        reverse("admin:projects_projecttoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    assert ProjectToken.objects.authenticate(secret) is None
