"""People in team mode, in real Chromium against a real server started with STUDIO_AUTH=1: log
in, see the project, answer as a member; a viewer's form disabled; a locked-out login; the
settings page making a token; logout; and no secret of all that in the server's log."""

import re

import pytest
import requests

from tests.support import browser
from tests.support.browser import screenshot
from tests.support.server import StudioServer
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "correct-Horse-7-battery"
WRONG = "wrong-Guess-9-staple"

SETUP = f"""
from django.contrib.auth.models import User
from projects.models import Membership
from runs.models import Run
from tests.factories import make_question, make_run

run = make_run("team-run", "Team", status=Run.Status.WAITING, name="Weekly report")
make_question(run, "q1", agent_name="alice")
for name, role in [("mia", "member"), ("vic", "viewer"), ("ada", "admin")]:
    Membership.objects.create(project=run.project, user=User.objects.create_user(name, password="{PASSWORD}"), role=role)
for name in ("locky", "leaver", "logger"):
    User.objects.create_user(name, password="{PASSWORD}")
"""


@pytest.fixture(scope="module")
def team_studio(tmp_path_factory):
    env = {"STUDIO_AUTH": "1", "STUDIO_DEFAULT_ROLE": "none", "STUDIO_LOGIN_FAILURES": "3"}
    server = StudioServer(tmp_path_factory.mktemp("team-studio"), env=env).start()
    server.manage("shell", "-c", SETUP)
    yield server
    server.stop()


def log_in(page, server, username, password=PASSWORD, path="/"):
    browser.log_in(page, server.url, username, password, path)


def test_a_member_logs_in_sees_the_project_and_answers_as_themselves(team_studio, page):
    page.goto(team_studio.url + "/")
    page.wait_for_selector("#id_username")
    assert "/login/?next=/" in page.url
    screenshot(page, "team-login")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "team-login-dark")
    page.emulate_media(color_scheme="light")
    log_in(page, team_studio, "mia")
    page.locator("#project-rows a", has_text="Team").click()
    page.locator(".run-row a", has_text="Weekly report").click()
    page.wait_for_selector("#live-status.on")
    assert page.locator(".whoami").inner_text().startswith("mia")
    assert page.locator("button[title='Delete run']").count() == 0  # a member's role
    page.fill("[data-request-id=q1] textarea", "Ship it")
    page.press("[data-request-id=q1] textarea", "Enter")
    page.locator("#toast", has_text="Answer sent.").wait_for()
    screenshot(page, "team-member-answered")
    answered = query(team_studio, "SELECT answered_by, status FROM runs_inputrequest WHERE request_id = 'q1'")
    assert answered == [{"answered_by": "mia", "status": "answered"}]


def test_a_viewer_sees_the_answer_form_disabled_and_no_delete_buttons(team_studio, page):
    team_studio.manage(
        "shell",
        "-c",
        "from runs.models import Run; from tests.factories import make_question; "
        "make_question(Run.objects.get(pk='team-run'), 'q-viewer', agent_name='bob')",
    )
    log_in(page, team_studio, "vic", path="/projects/Team/runs/team-run/")
    page.wait_for_selector("#live-status.on")
    assert page.locator("#cannot-answer").inner_text().startswith("Viewers cannot answer")
    assert page.locator("[data-request-id=q-viewer] textarea").is_disabled()
    assert page.locator("[data-request-id=q-viewer] button[type=submit]").is_disabled()
    assert page.locator("button[title='Delete run']").count() == 0
    assert page.locator("a", has_text="Settings").count() == 0
    screenshot(page, "team-viewer-disabled")
    assert page.goto(team_studio.url + "/projects/Team/settings/").status == 403


def test_an_admin_adds_a_member_and_makes_a_token_on_the_settings_page(team_studio, page):
    log_in(page, team_studio, "ada", path="/projects/Team/")
    page.locator("a", has_text="Settings").click()
    page.wait_for_selector("#add-member")
    page.fill("#add-member input[name=username]", "nobody-here")
    page.click("#add-member button[type=submit]")
    page.locator("#members .form-error", has_text="No active person is named").wait_for()
    page.fill("#add-member input[name=username]", "leaver")
    page.select_option("#add-member select[name=role]", "viewer")
    page.click("#add-member button[type=submit]")
    page.locator("#member-rows td", has_text="leaver").wait_for()
    page.fill("#new-token input[name=name]", "nightly-eval")
    page.click("#new-token button[type=submit]")
    secret = page.locator("#token-secret").inner_text()
    assert secret.startswith("sst_")
    assert (
        page.locator("#token-url").inner_text().endswith(f'studio_url="http://{secret}@127.0.0.1:{team_studio.port}")')
    )
    screenshot(page, "team-settings")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "team-settings-dark")
    page.emulate_media(color_scheme="light")
    page.reload()
    assert secret not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#token-rows button", has_text="Revoke").click()
    page.locator("#token-rows", has_text="revoked").wait_for()
    assert (
        query(team_studio, "SELECT count(*) AS n FROM projects_projecttoken WHERE revoked_at IS NOT NULL")[0]["n"] == 1
    )


def test_repeated_failed_logins_are_locked_out_with_a_clear_message(team_studio, page):
    for _ in range(2):
        log_in(page, team_studio, "locky", WRONG)
        page.locator(".form-error", has_text="correct username and password").wait_for()
    log_in(page, team_studio, "locky", WRONG)
    page.locator("h1", has_text="Too many failed logins").wait_for()
    screenshot(page, "team-locked-out")
    log_in(page, team_studio, "locky", PASSWORD)  # the right password, but locked
    page.locator("h1", has_text="Too many failed logins").wait_for()


def test_logging_out_ends_the_session_and_pages_ask_for_a_login_again(team_studio, page):
    log_in(page, team_studio, "leaver")
    page.wait_for_selector("#logout")
    page.click("#logout")
    page.wait_for_selector("#id_username")
    page.goto(team_studio.url + "/projects/Team/")
    page.wait_for_selector("#id_username")
    assert "/login/?next=/projects/Team/" in page.url


def test_no_password_token_or_session_id_reaches_the_servers_log(team_studio):
    browser = requests.Session()
    url = team_studio.url
    browser.get(f"{url}/login/")
    csrf = browser.cookies["csrftoken"]
    form = {"username": "logger", "password": WRONG, "csrfmiddlewaretoken": csrf}
    assert "correct username" in browser.post(f"{url}/login/", data=form, headers={"Referer": url}).text
    ada = requests.Session()
    ada.get(f"{url}/login/")
    form = {"username": "ada", "password": PASSWORD, "csrfmiddlewaretoken": ada.cookies["csrftoken"]}
    assert ada.post(f"{url}/login/", data=form, headers={"Referer": url}).url == f"{url}/"
    settings_page = ada.get(f"{url}/projects/Team/settings/").text
    project_pk = re.search(r"/project-settings/(\d+)/tokens/", settings_page)[1]
    made = ada.post(
        f"{url}/project-settings/{project_pk}/tokens/",
        data={"name": "for-the-log-test"},
        headers={"X-CSRFToken": ada.cookies["csrftoken"], "HX-Request": "true", "Referer": url},
    )
    secret = re.search(r'<code id="token-secret">([^<]+)</code>', made.text)[1]
    # Secrets where a careless client puts them: in a path that is logged as not found, and in
    # a request Django refuses (a POST without the CSRF token is logged as Forbidden).
    assert ada.get(f"{url}/no-such-page/{secret}/").status_code == 404
    assert requests.post(f"{url}/login/?password={PASSWORD}", auth=(secret, "")).status_code == 403
    session_id = ada.cookies["sessionid"]
    wait_for(lambda: "Forbidden (CSRF cookie not set.)" in team_studio.log(), message="the refusal logged")
    log = team_studio.log()
    assert "Not Found: /no-such-page/[redacted]/" in log  # the line is there, its secret is not
    for secret_text in (secret, PASSWORD, WRONG, session_id, csrf, ada.cookies["csrftoken"]):
        assert secret_text not in log
