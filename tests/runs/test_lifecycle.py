"""A run's lifecycle, in process: every transition `RunQuerySet` makes, without a server.

running ⇄ waiting (a person is asked, answers), finished once its last agent socket has been
gone for the grace, live again when an agent comes back or the run registers again.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import Project
from runs.models import AgentSocket, InputRequest, Run, Worker

pytestmark = pytest.mark.django_db

GRACE = 10


@pytest.fixture(autouse=True)
def grace(settings):
    settings.STUDIO_DISCONNECT_GRACE = GRACE


def register(run_id="run-1", status="running", now=None, project="P", **fields):
    project, _ = Project.objects.get_or_create(name=project)
    defaults = {"name": "fake_run", "pid": 1, "client_timestamp": "", "run_dir": ""}
    return Run.objects.register(run_id, project, status=status, now=now or timezone.now(), **{**defaults, **fields})


def ask(run, request_id="q1", status=InputRequest.Status.PENDING):
    return InputRequest.objects.create(request_id=request_id, run=run, status=status)


def reload(run):
    return Run.objects.get(pk=run.pk)


def connect(run_id, sid="sid-1", worker="worker-a"):
    """An agent socket of the run connects to worker `worker`."""
    return Run.objects.agent_connected(run_id, sid, worker)


def disconnect(run_id, sid="sid-1"):
    Run.objects.agent_disconnected(run_id, sid)


def gone_since(run, seconds):
    """The run's last agent socket left `seconds` ago."""
    Run.objects.filter(pk=run.pk).update(agent_sockets=0, agent_left_at=timezone.now() - timedelta(seconds=seconds))


# registerRun


def test_a_new_run_is_running_from_the_moment_it_registers():
    now = timezone.now()
    run, created = register(now=now)
    assert created
    run = reload(run)
    assert run.status == Run.Status.RUNNING
    assert run.started_at == now and run.last_activity_at == now and run.finished_at is None


def test_a_run_registered_without_a_status_is_running():
    run, _ = register(status=None)
    assert reload(run).status == Run.Status.RUNNING


def test_a_finished_run_registered_again_is_live_again_and_keeps_its_start():
    started = timezone.now() - timedelta(hours=1)
    run, _ = register(now=started)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, finished_at=started)
    run, created = register(name="renamed")
    assert not created
    run = reload(run)
    assert run.status == Run.Status.RUNNING and run.finished_at is None
    assert run.started_at == started and run.name == "renamed"


# The agent's sockets


def test_an_agent_connecting_counts_its_socket_and_keeps_the_run_running():
    run, _ = register()
    connected = connect(run.pk)
    assert connected.status == Run.Status.RUNNING
    assert connected.agent_sockets == 1 and connected.agent_left_at is None


def test_an_agent_connecting_to_a_run_with_a_pending_request_finds_it_waiting():
    run, _ = register()
    ask(run)
    assert connect(run.pk).status == Run.Status.WAITING


def test_an_agent_connecting_to_a_run_whose_requests_are_answered_finds_it_running():
    run, _ = register(status="waiting")
    ask(run, status=InputRequest.Status.ANSWERED)
    assert connect(run.pk).status == Run.Status.RUNNING


def test_an_agent_connecting_to_a_finished_run_makes_it_live_again():
    run, _ = register()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, finished_at=timezone.now())
    connected = connect(run.pk)
    assert connected.status == Run.Status.RUNNING and connected.finished_at is None


def test_an_agent_connecting_to_an_unknown_run_gets_nothing_and_changes_nothing():
    register()
    assert connect("no-such-run") is None
    assert not Run.objects.filter(pk="no-such-run").exists()


def test_a_reconnect_within_the_grace_cancels_it():
    run, _ = register()
    connect(run.pk)
    disconnect(run.pk)
    assert reload(run).agent_left_at is not None
    connect(run.pk, "sid-2")
    run = reload(run)
    assert run.agent_sockets == 1 and run.agent_left_at is None


def test_the_grace_starts_only_when_the_last_socket_is_gone():
    run, _ = register()
    connect(run.pk, "sid-1")
    connect(run.pk, "sid-2")
    disconnect(run.pk, "sid-1")
    run = reload(run)
    assert run.agent_sockets == 1 and run.agent_left_at is None
    disconnect(run.pk, "sid-2")
    run = reload(run)
    assert run.agent_sockets == 0 and run.agent_left_at is not None
    assert run.status == Run.Status.RUNNING


def test_a_disconnect_never_counts_below_zero():
    run, _ = register()
    disconnect(run.pk)
    assert reload(run).agent_sockets == 0


def test_a_socket_that_disconnects_twice_is_counted_out_once():
    run, _ = register()
    connect(run.pk, "sid-1")
    connect(run.pk, "sid-2")
    disconnect(run.pk, "sid-1")
    disconnect(run.pk, "sid-1")
    run = reload(run)
    assert run.agent_sockets == 1 and run.agent_left_at is None


# Finishing


def test_a_run_whose_agent_has_been_gone_longer_than_the_grace_is_finished_when_it_left():
    run, _ = register()
    gone_since(run, GRACE + 1)
    left_at = reload(run).agent_left_at
    finished = Run.objects.finish_abandoned()
    assert [r.pk for r in finished] == [run.pk]
    assert finished[0].status == Run.Status.FINISHED
    run = reload(run)
    assert run.status == Run.Status.FINISHED and run.finished_at == left_at


def test_a_waiting_run_whose_agent_is_gone_is_finished_too():
    run, _ = register(status="waiting")
    ask(run)
    gone_since(run, GRACE + 1)
    Run.objects.finish_abandoned()
    assert reload(run).status == Run.Status.FINISHED


def test_a_run_within_its_grace_is_not_finished():
    run, _ = register()
    gone_since(run, GRACE - 5)
    assert Run.objects.finish_abandoned() == []
    assert reload(run).status == Run.Status.RUNNING


def test_a_run_with_a_connected_agent_is_never_finished():
    run, _ = register()
    connect(run.pk)
    Run.objects.filter(pk=run.pk).update(agent_left_at=timezone.now() - timedelta(seconds=GRACE + 1))
    assert Run.objects.finish_abandoned() == []
    assert reload(run).status == Run.Status.RUNNING


def test_a_run_no_agent_ever_connected_to_is_not_finished():
    # agentscope 1.0.x connects right after registering; until then there is nothing to wait for.
    run, _ = register()
    assert Run.objects.finish_abandoned() == []
    assert reload(run).status == Run.Status.RUNNING


def test_finishing_one_run_leaves_the_others_alone():
    one, _ = register("run-1")
    other, _ = register("run-2")
    gone_since(one, GRACE + 1)
    gone_since(other, GRACE + 1)
    assert [r.pk for r in Run.objects.finish_abandoned("run-1")] == ["run-1"]
    assert reload(other).status == Run.Status.RUNNING


def test_a_run_that_errored_stays_as_it_is():
    run, _ = register(status="error")
    gone_since(run, GRACE + 1)
    assert Run.objects.finish_abandoned() == []
    assert reload(run).status == Run.Status.ERROR


# Workers: the processes holding the agents' sockets


def test_a_one_process_server_restarting_starts_the_grace_of_every_run_its_previous_process_served():
    live, _ = register("live")
    finished, _ = register("finished")
    connect("live", "sid-1", worker="old-process")
    connect("finished", "sid-2", worker="old-process")
    Run.objects.filter(pk="finished").update(status=Run.Status.FINISHED)
    now = timezone.now()
    assert [run.pk for run in Run.objects.forget_workers_gone(["new-process"], now)] == ["live"]
    live = reload(live)
    assert live.agent_sockets == 0 and live.agent_left_at == now and live.status == Run.Status.RUNNING
    # A finished run's socket is counted out too, and it stays finished.
    finished = reload(finished)
    assert finished.agent_sockets == 0 and finished.status == Run.Status.FINISHED
    assert not AgentSocket.objects.exists()


def test_the_sockets_of_a_worker_gone_are_counted_out_and_the_others_stay():
    run, _ = register()
    connect(run.pk, "on-a", worker="worker-a")
    connect(run.pk, "on-b", worker="worker-b")
    assert Run.objects.forget_workers_gone(["worker-b"], timezone.now()) == []
    run = reload(run)
    # The agent has a socket left (it reconnected to worker b): no grace.
    assert run.agent_sockets == 1 and run.agent_left_at is None
    assert list(AgentSocket.objects.values_list("sid", flat=True)) == ["on-b"]


def test_a_run_whose_only_socket_was_on_a_worker_gone_finishes_after_the_grace_from_then():
    run, _ = register()
    connect(run.pk, worker="worker-a")
    noticed = timezone.now() - timedelta(seconds=GRACE + 1)
    [left] = Run.objects.forget_workers_gone([], noticed)
    assert left.pk == run.pk and left.agent_left_at == noticed
    [finished] = Run.objects.finish_abandoned()
    assert finished.pk == run.pk and reload(run).finished_at == noticed


def test_an_agent_reconnecting_to_another_worker_within_the_grace_keeps_its_run_live():
    run, _ = register(status="waiting")
    ask(run)
    connect(run.pk, "on-a", worker="worker-a")
    Run.objects.forget_workers_gone(["worker-b"], timezone.now() - timedelta(seconds=GRACE + 1))
    connect(run.pk, "on-b", worker="worker-b")
    assert Run.objects.finish_abandoned() == []
    run = reload(run)
    assert run.status == Run.Status.WAITING and run.agent_sockets == 1 and run.agent_left_at is None


def test_the_late_disconnect_of_a_socket_already_counted_out_changes_nothing():
    run, _ = register()
    connect(run.pk, "on-a", worker="worker-a")
    Run.objects.forget_workers_gone(["worker-b"], timezone.now())
    connect(run.pk, "on-b", worker="worker-b")
    disconnect(run.pk, "on-a")
    run = reload(run)
    assert run.agent_sockets == 1 and run.agent_left_at is None


def test_a_worker_is_alive_while_its_heartbeat_is_recent(settings):
    settings.STUDIO_WORKER_TIMEOUT = 20
    now = timezone.now()
    assert not Worker.objects.beat("worker-a", 11, "host", now - timedelta(seconds=30))  # its first beat
    assert not Worker.objects.beat("worker-b", 12, "host", now - timedelta(seconds=30))
    assert Worker.objects.beat("worker-b", 12, "host", now - timedelta(seconds=5))
    assert list(Worker.objects.alive(now).values_list("pk", flat=True)) == ["worker-b"]


def test_a_worker_gone_is_forgotten_and_its_next_beat_says_so():
    now = timezone.now()
    Worker.objects.beat("worker-a", 11, "host", now)
    Worker.objects.beat("worker-b", 12, "host", now)
    Run.objects.forget_workers_gone(["worker-b"], now)
    assert list(Worker.objects.values_list("pk", flat=True)) == ["worker-b"]
    # Counted out while alive (stalled longer than the timeout): it must record its sockets again.
    assert not Worker.objects.beat("worker-a", 11, "host", now)


# Asking a person, and the answer


def test_a_run_whose_agent_asks_a_person_is_waiting():
    run, _ = register()
    now = timezone.now() + timedelta(seconds=5)
    Run.objects.wait_for_input(run, now)
    assert run.status == Run.Status.WAITING
    run = reload(run)
    assert run.status == Run.Status.WAITING and run.last_activity_at == now


def test_a_waiting_run_runs_again_when_its_last_request_is_answered():
    run, _ = register(status="waiting")
    ask(run, status=InputRequest.Status.ANSWERED)
    Run.objects.resume_if_answered(run)
    assert run.status == Run.Status.RUNNING
    assert reload(run).status == Run.Status.RUNNING


def test_a_waiting_run_keeps_waiting_while_a_request_is_pending():
    run, _ = register(status="waiting")
    ask(run, "q1", status=InputRequest.Status.ANSWERED)
    ask(run, "q2")
    Run.objects.resume_if_answered(run)
    assert run.status == Run.Status.WAITING
    assert reload(run).status == Run.Status.WAITING


def test_an_answer_does_not_revive_a_finished_run():
    run, _ = register(status="finished")
    Run.objects.resume_if_answered(run)
    assert reload(run).status == Run.Status.FINISHED


# Activity


def test_activity_is_written_at_most_once_a_second_on_the_run_and_its_project():
    start = timezone.now()
    run, _ = register(now=start)
    assert not Run.objects.touch(run, start + timedelta(milliseconds=500))
    assert reload(run).last_activity_at == start
    later = start + timedelta(seconds=1)
    assert Run.objects.touch(run, later)
    assert reload(run).last_activity_at == later
    assert Project.objects.get(pk=run.project_id).last_activity_at == later
    assert not Run.objects.touch(run, later + timedelta(milliseconds=999))


# An input request: pending → answered → delivered once its agent acknowledges


def test_an_answered_request_records_what_who_and_when():
    run, _ = register(status="waiting")
    request = ask(run)
    now = timezone.now()
    request.record_answer([{"type": "text", "text": "yes"}], None, "ada" * 100, now)
    request.refresh_from_db()
    assert request.status == InputRequest.Status.ANSWERED and request.answered_at == now
    assert request.answer_blocks == [{"type": "text", "text": "yes"}] and request.answered_by == ("ada" * 100)[:255]


def test_an_acknowledged_answer_is_delivered_once():
    run, _ = register()
    request = ask(run, status=InputRequest.Status.ANSWERED)
    assert InputRequest.objects.acknowledged(request.pk)
    request.refresh_from_db()
    assert request.status == InputRequest.Status.DELIVERED and request.delivered_at is not None
    assert not InputRequest.objects.acknowledged(request.pk)  # a second ack changes nothing


def test_a_pending_request_cannot_be_acknowledged():
    run, _ = register()
    request = ask(run)
    assert not InputRequest.objects.acknowledged(request.pk)
    request.refresh_from_db()
    assert request.status == InputRequest.Status.PENDING


def test_a_reconnecting_agent_gets_every_unacknowledged_answer_of_its_run_only():
    run, _ = register("run-1")
    other, _ = register("run-2")
    ask(run, "answered", status=InputRequest.Status.ANSWERED)
    ask(run, "pending")
    ask(run, "delivered", status=InputRequest.Status.DELIVERED)
    ask(other, "elsewhere", status=InputRequest.Status.ANSWERED)
    assert [r.request_id for r in InputRequest.objects.unacknowledged(run_id="run-1")] == ["answered"]


def test_an_answer_is_sent_again_only_to_a_connected_agent_after_a_while():
    connected, _ = register("connected")
    away, _ = register("away")
    connect("connected")
    long_ago = timezone.now() - timedelta(seconds=30)
    for run, request_id in ((connected, "old"), (away, "old-away")):
        InputRequest.objects.create(
            request_id=request_id, run=run, status=InputRequest.Status.ANSWERED, answered_at=long_ago
        )
    InputRequest.objects.create(
        request_id="new", run=connected, status=InputRequest.Status.ANSWERED, answered_at=timezone.now()
    )
    cutoff = timezone.now() - timedelta(seconds=5)
    assert [r.request_id for r in InputRequest.objects.unacknowledged(answered_before=cutoff)] == ["old"]


def test_a_client_registering_a_run_made_from_spans_takes_it_over():
    project, _ = Project.objects.get_or_create(name="P")
    Run.objects.create(id="conv-1", project=project, origin=Run.Origin.OTEL, status=Run.Status.FINISHED)
    run, created = register("conv-1")
    assert not created
    run = reload(run)
    assert run.origin == Run.Origin.STUDIO and run.status == Run.Status.RUNNING
