"""Team mode's fixtures: a PostgreSQL database of the test's own, and workers on it with Redis."""

import pytest

from tests.support.server import StudioServer
from tests.support.team import fresh_database, worker_env


@pytest.fixture
def database():
    with fresh_database() as url:
        yield url


@pytest.fixture
def worker_settings():
    """Settings every worker of the test gets; a module overrides this fixture to change them."""
    return {}


@pytest.fixture
def workers(database, worker_settings, tmp_path):
    """Two uvicorn workers (the team command) on the test's database and the shared Redis."""
    env = worker_env(database, **worker_settings)
    servers = [StudioServer(tmp_path / f"worker{i}", env=dict(env), server="uvicorn") for i in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()
