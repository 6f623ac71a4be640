import pytest

from runs import recording


@pytest.fixture(autouse=True)
def forget_recent_pushes():
    """The push shortcuts remember runs and replies per process; each test's database is new."""
    recording.recent.runs.clear()
    recording.recent.replies.clear()
    yield
    recording.recent.runs.clear()
    recording.recent.replies.clear()
