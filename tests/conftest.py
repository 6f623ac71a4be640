import pytest

from tests.support.server import StudioServer


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """One real Studio server (daphne runserver) for the session; tests use their own run ids."""
    server = StudioServer(tmp_path_factory.mktemp("studio-data")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_studio(tmp_path):
    """A server of the test's own, for tests that restart it or need an empty database."""
    server = StudioServer(tmp_path / "studio-data")
    yield server
    server.stop()
