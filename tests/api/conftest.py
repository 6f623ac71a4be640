import pytest

from runs import recording


@pytest.fixture(autouse=True)
def forget_recent_pushes():
    """The push shortcuts remember runs and replies per process; each test's database is new."""
    recording.recent.clear()
    yield
    recording.recent.clear()
