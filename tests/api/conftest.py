import pytest

from tests.factories import register


@pytest.fixture
def run(client):
    """run-1 of Project, registered through registerRun as an agent registers it."""
    return register(client, "run-1")
