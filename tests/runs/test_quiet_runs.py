"""The lifecycle of a run made from GenAI spans, in process: running while its spans arrive,
finished once they stop for the quiet period, running again when they resume; registered runs
never end by silence."""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import Project
from runs.models import Run

pytestmark = pytest.mark.django_db

QUIET = 60


@pytest.fixture(autouse=True)
def quiet(settings):
    settings.STUDIO_OTEL_QUIET_SECONDS = QUIET


def conversation(run_id="conv-1", seconds_ago=0, name="Friday · conv-1"):
    project, _ = Project.objects.get_or_create(name="P")
    run, _ = Run.objects.conversation_active(run_id, project.pk, name, timezone.now() - timedelta(seconds=seconds_ago))
    return run


def reload(run):
    return Run.objects.get(pk=run.pk)


def test_a_conversation_makes_a_running_run_marked_as_made_from_spans():
    run = reload(conversation())
    assert (run.status, run.origin, run.name) == ("running", "otel", "Friday · conv-1")


def test_it_finishes_when_its_spans_stopped_longer_than_the_quiet_period_ago():
    run = conversation(seconds_ago=QUIET + 1)
    [finished] = Run.objects.finish_quiet()
    assert finished.pk == run.pk
    run = reload(run)
    assert run.status == "finished" and run.finished_at == run.last_activity_at


def test_it_stays_running_within_the_quiet_period():
    run = conversation(seconds_ago=QUIET - 5)
    assert Run.objects.finish_quiet() == []
    assert reload(run).status == "running"


def test_spans_after_it_finished_make_it_running_again():
    run = conversation(seconds_ago=QUIET + 1)
    Run.objects.finish_quiet()
    _, changed = Run.objects.conversation_active(run.pk, run.project_id, run.name, timezone.now())
    assert changed
    run = reload(run)
    assert (run.status, run.finished_at) == ("running", None)


def test_a_registered_run_is_never_finished_by_silence_nor_taken_over_by_spans():
    project = Project.objects.create(name="Q")
    long_ago = timezone.now() - timedelta(hours=1)
    run = Run.objects.create(id="studio-1", project=project, last_activity_at=long_ago)
    assert Run.objects.finish_quiet() == []
    assert Run.objects.conversation_active("studio-1", project.pk, "x", timezone.now()) == (None, False)
    run = reload(run)
    assert (run.status, run.origin, run.last_activity_at) == ("running", "studio", long_ago)
