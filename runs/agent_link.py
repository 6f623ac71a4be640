"""The Socket.IO link to agent processes: namespace /python, one room per run.

The agentscope client connects right after registerRun with auth {"run_id": ...}. It sends
nothing else: its disconnect is the only sign that the run has ended (or crashed, or lost its
network for a moment, or that this server restarted). So a run counts as finished only once
its last socket has been gone for STUDIO_DISCONNECT_GRACE seconds; a reconnect within that
time keeps it running and its input requests pending.
"""

import asyncio
import logging
from datetime import timedelta

import socketio
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.utils import timezone

from studio import live

from . import events
from .agent_socket import NAMESPACE, run_room, sio
from .answers import redeliver_pending, redeliver_unacknowledged
from .models import InputRequest, Run

log = logging.getLogger(__name__)


@sio.on("connect", namespace=NAMESPACE)
async def connect(sid, environ, auth):
    run_id = auth.get("run_id") if isinstance(auth, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise socketio.exceptions.ConnectionRefusedError("auth must be {'run_id': <registered run id>}")
    run = await database_sync_to_async(_agent_connected)(run_id)
    if run is None:
        raise socketio.exceptions.ConnectionRefusedError(f"unknown run '{run_id}': call registerRun first")
    await sio.save_session(sid, {"run_id": run_id}, namespace=NAMESPACE)
    await sio.enter_room(sid, run_room(run_id), namespace=NAMESPACE)
    await live.publish(events.run_changed(run))
    # Answers given while the agent was away (blip, server restart) go out once this connect
    # has been acknowledged, not inside it.
    sio.start_background_task(redeliver_pending, run_id)


@sio.on("disconnect", namespace=NAMESPACE)
async def disconnect(sid, reason=None):
    session = await sio.get_session(sid, namespace=NAMESPACE)
    run_id = session.get("run_id")
    if run_id:
        await database_sync_to_async(_agent_disconnected)(run_id)
        sio.start_background_task(_finish_after_grace, run_id)


def _agent_connected(run_id):
    # The status is decided in the UPDATE itself: an answer recorded between a separate check
    # for pending requests and this write would otherwise leave the run "waiting" for nothing.
    pending = InputRequest.objects.filter(run_id=OuterRef("pk"), status=InputRequest.Status.PENDING)
    status = Case(When(Exists(pending), then=Value(Run.Status.WAITING)), default=Value(Run.Status.RUNNING))
    if not Run.objects.filter(pk=run_id).update(
        agent_sockets=F("agent_sockets") + 1, agent_left_at=None, status=status, finished_at=None
    ):
        return None
    return Run.objects.get(pk=run_id)


def _agent_disconnected(run_id):
    now = timezone.now()
    Run.objects.filter(pk=run_id, agent_sockets__gt=0).update(agent_sockets=F("agent_sockets") - 1)
    Run.objects.filter(pk=run_id, agent_sockets=0).update(agent_left_at=now)


async def _finish_after_grace(run_id):
    await asyncio.sleep(settings.STUDIO_DISCONNECT_GRACE)
    for run in await database_sync_to_async(finish_abandoned_runs)(run_id):
        await live.publish(events.run_changed(run))


def finish_abandoned_runs(run_id=None):
    """Mark finished the live runs whose agent has been gone longer than the grace period."""
    cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_DISCONNECT_GRACE)
    runs = Run.objects.filter(
        status__in=[Run.Status.RUNNING, Run.Status.WAITING], agent_sockets=0, agent_left_at__lte=cutoff
    )
    if run_id is not None:
        runs = runs.filter(pk=run_id)
    finished = list(runs)
    for run in finished:
        Run.objects.filter(pk=run.pk, agent_sockets=0).update(status=Run.Status.FINISHED, finished_at=run.agent_left_at)
        run.status = Run.Status.FINISHED
    return finished


def forget_sockets_of_previous_process():
    """After a restart no socket of the old process is alive: start every live run's grace."""
    Run.objects.filter(status__in=[Run.Status.RUNNING, Run.Status.WAITING], agent_sockets__gt=0).update(
        agent_sockets=0, agent_left_at=timezone.now()
    )


async def sweep_forever():
    """Finish runs whose grace ran out while no timer of this process was watching them, and
    send again the answers that a connected agent has not acknowledged (a lost frame)."""
    while True:
        await asyncio.sleep(max(settings.STUDIO_DISCONNECT_GRACE / 2, 0.5))
        try:
            for run in await database_sync_to_async(finish_abandoned_runs)():
                await live.publish(events.run_changed(run))
            await redeliver_unacknowledged()
        except Exception:  # a passing database error must not end the sweeper
            log.exception("sweeping abandoned runs failed")
