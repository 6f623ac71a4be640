import pytest

from tests.support.browser import screenshot  # noqa: F401  (re-exported for tests)
from tests.support.server import StudioServer


@pytest.fixture(autouse=True)
def forget_recent_pushes():
    """The push shortcuts remember runs and replies per process; each test's database is new."""
    from runs import recording  # not at import: Django is not set up yet when conftest loads

    recording.recent.clear()
    yield
    recording.recent.clear()


@pytest.fixture(scope="session", autouse=True)
def test_database_can_be_dropped(django_db_setup, django_db_blocker):
    """PostgreSQL (make test-team): at the end, close what still uses the test database (the
    connections of this process's other threads, a server a test left behind), so that pytest-django
    can drop it; else each run leaves a database behind on the machine."""
    yield
    from django.db import connection
    from django.db.backends.base.creation import TEST_DATABASE_PREFIX

    # pytest-django makes a test database only if some test asked for one: a run of e2e tests
    # alone has none to drop, and the configured database itself need not exist.
    if connection.vendor != "postgresql" or not connection.settings_dict["NAME"].startswith(TEST_DATABASE_PREFIX):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """One real Studio server (`manage.py runserver`) for the session; tests use their own run ids."""
    # A short grace keeps "finished after the agent exits" quick to observe.
    server = StudioServer(tmp_path_factory.mktemp("studio-data"), env={"STUDIO_DISCONNECT_GRACE": "3"}).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_studio(tmp_path):
    """A server of the test's own, for tests that restart it or need an empty database."""
    server = StudioServer(tmp_path / "studio-data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    yield page
    context.close()
