"""The Socket.IO link to agent processes: namespace /python, one room per run.

The agentscope client connects right after registerRun with auth {"run_id": ...}; in team mode
with its project token too (`projects.tokens`), and only to a run of the token's project. It sends
nothing else: its connects and disconnects drive the run's lifecycle, whose rules are
`RunQuerySet`'s (runs/models.py). This module only wires the socket events to them, and runs
the timers: the grace after a disconnect, this worker's heartbeat, and the sweeper.

Each socket is recorded with the worker (process) holding it. With several workers one of them
leads (studio/leadership.py) and sweeps for all: it counts out the sockets of workers whose
heartbeat stopped, finishes abandoned and quiet runs, and sends unacknowledged answers again
(through the Socket.IO Redis manager, to whichever worker holds the agent's socket).
"""

import asyncio
import logging
import os
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import socketio
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from projects import tokens
from studio import auth_mode, live
from studio.leadership import leadership
from studio.rejected import Rejected

from . import events, retention, search
from .agent_socket import NAMESPACE, run_room, sio
from .answers import redeliver_pending, redeliver_unacknowledged
from .models import AgentSocket, Run, Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThisWorker:
    id: str
    pid: int
    host: str


# Set by `start_worker`, in the serving process (after any fork of a process manager).
worker = None
# This worker's agent sockets, sid -> run id: recorded again if its row was dropped as silent.
_sockets_here = {}


@sio.on("connect", namespace=NAMESPACE)
async def connect(sid, environ, auth):
    run_id = auth.get("run_id") if isinstance(auth, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise socketio.exceptions.ConnectionRefusedError("auth must be {'run_id': <registered run id>}")
    # The headers are the engine.io handshake's (the client's first polling GET, which carries
    # studio_url's user-info as Basic auth); its websocket upgrade joins that session.
    scope = environ.get("asgi.scope") or {}
    project_id = token_id = None
    if auth_mode.required_for_scope(scope):
        try:
            token = await database_sync_to_async(tokens.for_scope)(scope, environ.get("HTTP_AUTHORIZATION"))
        except Rejected as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        project_id, token_id = token.project_id, token.pk
    run = await database_sync_to_async(Run.objects.agent_connected)(run_id, sid, worker.id, project_id, token_id)
    if run is None:
        raise socketio.exceptions.ConnectionRefusedError(f"unknown run '{run_id}': call registerRun first")
    _sockets_here[sid] = run_id
    await sio.enter_room(sid, run_room(run_id), namespace=NAMESPACE)
    await live.publish(events.run_changed(run))
    # Answers given while the agent was away (blip, server restart) go out once this connect
    # has been acknowledged, not inside it.
    sio.start_background_task(redeliver_pending, run_id)


@sio.on("disconnect", namespace=NAMESPACE)
async def disconnect(sid, reason=None):
    run_id = _sockets_here.pop(sid, None)
    if run_id:
        await database_sync_to_async(Run.objects.agent_disconnected)(run_id, sid)
        sio.start_background_task(_finish_after_grace, run_id)


def revoked_sockets(token_ids=None):
    """The sids of the agent sockets whose project token is revoked (of `token_ids` only, if given)."""
    sockets = AgentSocket.objects.filter(token__revoked_at__isnull=False)
    if token_ids is not None:
        sockets = sockets.filter(token_id__in=token_ids)
    return list(sockets.values_list("sid", flat=True))


def close_revoked_now(token_ids):
    """From a view or the admin, right after revoking these tokens: their agents' open sockets
    close now, not at the leader's next sweep (which closes those revoked elsewhere)."""
    sockets = revoked_sockets(token_ids)
    if sockets:
        async_to_sync(disconnect_agents)(sockets)


async def disconnect_agents(sids):
    """Close these agent sockets, whichever worker holds them (with Redis, python-socketio's
    manager passes the disconnect on). The agent's reconnect is then refused if its token is
    revoked, and its run finishes after the grace."""
    for sid in sids:
        await sio.disconnect(sid, namespace=NAMESPACE)


async def _finish_after_grace(run_id):
    await asyncio.sleep(settings.STUDIO_DISCONNECT_GRACE)
    for run in await database_sync_to_async(Run.objects.finish_abandoned)(run_id):
        await live.publish(events.run_changed(run))


def start_worker(one_process):
    """Called once at start: record this worker before it takes its first socket.

    One process (no REDIS_URL): the sockets the database holds belonged to a process now gone,
    so their runs' grace starts now. With several, the others' sockets are alive: the leader
    counts out those of a worker only once its heartbeat has stopped."""
    global worker
    host = socket.gethostname()
    worker = ThisWorker(f"{host[:40]}-{os.getpid()}-{secrets.token_hex(3)}", os.getpid(), host)
    now = timezone.now()
    try:
        Worker.objects.beat(worker.id, worker.pid, worker.host, now)
        if one_process:
            Run.objects.forget_workers_gone([worker.id], now)
    except Exception:  # serving goes on: the heartbeat records it, the sweeper counts the rest out
        log.exception("recording worker %s failed", worker.id)


async def beat_forever():
    """This worker's heartbeat; a worker silent for STUDIO_WORKER_TIMEOUT counts as gone."""
    while True:
        await asyncio.sleep(settings.STUDIO_WORKER_TIMEOUT / 3)
        try:
            await database_sync_to_async(_beat)()
        except Exception:  # a passing database error must not stop the heartbeat
            log.exception("the heartbeat of worker %s failed", worker.id)


def _beat():
    if Worker.objects.beat(worker.id, worker.pid, worker.host, timezone.now()):
        return
    # Counted out as silent while alive (a stall longer than the timeout): record the sockets
    # it still holds again; their runs are live again.
    log.warning("worker %s was counted as gone; recording its %d agent sockets again", worker.id, len(_sockets_here))
    for sid, run_id in list(_sockets_here.items()):
        if not AgentSocket.objects.filter(sid=sid).exists():
            Run.objects.agent_connected(run_id, sid, worker.id)


# The leader's database connection is used from this one thread only.
_leader_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-leader")


async def sweep_forever():
    """On the leading worker only: count out the sockets of workers gone, finish runs whose grace
    ran out while no timer was watching them (their worker is gone, or restarted) and runs made
    from spans that went quiet, and send again the answers that a connected agent has not
    acknowledged (a lost frame), and index the streamed messages that wait for it."""
    lead = leadership(worker.id)
    loop = asyncio.get_running_loop()
    leading = False
    while True:
        await asyncio.sleep(max(min(settings.STUDIO_DISCONNECT_GRACE, settings.STUDIO_WORKER_TIMEOUT) / 2, 0.5))
        try:
            was_leading, leading = leading, await loop.run_in_executor(_leader_thread, lead.held)
            if leading != was_leading:
                log.info("worker %s %s the background work", worker.id, "leads" if leading else "no longer leads")
            if leading:
                await sweep()
        except Exception:  # a passing database error must not end the sweeper
            log.exception("sweeping abandoned runs failed")


async def sweep():
    def runs_changed():
        now = timezone.now()
        alive = list(Worker.objects.alive(now).values_list("pk", flat=True))
        return [
            *Run.objects.forget_workers_gone(alive, now),
            *Run.objects.finish_abandoned(),
            *Run.objects.finish_quiet(),
        ]

    for run in await database_sync_to_async(runs_changed)():
        await live.publish(events.run_changed(run))
    # Tokens revoked by `manage.py revoke_token` (the settings page and the admin close theirs at once).
    await disconnect_agents(await database_sync_to_async(revoked_sockets)())
    await redeliver_unacknowledged()
    # Streamed re-sends wait to be indexed (runs/search.py): keep that queue short.
    await database_sync_to_async(search.index_pending)()
    prune_when_due()


# The periodic prune (STUDIO_RETENTION_DAYS) runs on a thread of its own, in batches that
# leave room for agents' writes (runs/retention.py): the sweeps go on meanwhile.
_retention_thread = ThreadPoolExecutor(1, thread_name_prefix="studio-retention")
_retention = {"last": None, "future": None}


def prune_when_due(now=None):
    """Start the leader's prune if STUDIO_RETENTION_DAYS is set, none is running, and the last
    one started STUDIO_RETENTION_INTERVAL ago or more; return its future, else None."""
    days = settings.STUDIO_RETENTION_DAYS
    if days is None:
        return None
    now = time.monotonic() if now is None else now
    future, last = _retention["future"], _retention["last"]
    if (future is not None and not future.done()) or (
        last is not None and now - last < settings.STUDIO_RETENTION_INTERVAL
    ):
        return None
    _retention["last"] = now
    _retention["future"] = _retention_thread.submit(_prune, days)
    return _retention["future"]


def _prune(days):
    close_old_connections()
    try:
        return retention.prune_by_setting(days)
    except Exception:  # the next one tries again
        log.exception("the retention prune failed")
    finally:
        connection.close()  # this thread's, idle for an interval now
