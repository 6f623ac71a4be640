"""The Socket.IO link to agent processes: namespace /python, one room per run.

The agentscope client connects right after registerRun with auth {"run_id": ...}; in team mode
with its project token too (`projects.tokens`), and only to a run of the token's project. It sends
nothing else: its connects and disconnects drive the run's lifecycle, whose rules are
`RunQuerySet`'s (runs/models.py). This module only wires the socket events to them, and runs
the timers: the grace after a disconnect, and the sweeper.
"""

import asyncio
import logging

import socketio
from channels.db import database_sync_to_async
from django.conf import settings

from projects import tokens
from studio import auth_mode, live
from studio.rejected import Rejected

from . import events
from .agent_socket import NAMESPACE, run_room, sio
from .answers import redeliver_pending, redeliver_unacknowledged
from .models import Run

log = logging.getLogger(__name__)


@sio.on("connect", namespace=NAMESPACE)
async def connect(sid, environ, auth):
    run_id = auth.get("run_id") if isinstance(auth, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise socketio.exceptions.ConnectionRefusedError("auth must be {'run_id': <registered run id>}")
    # The headers are the engine.io handshake's (the client's first polling GET, which carries
    # studio_url's user-info as Basic auth); its websocket upgrade joins that session.
    scope = environ.get("asgi.scope") or {}
    project_id = None
    if auth_mode.required_for_scope(scope):
        try:
            token = await database_sync_to_async(tokens.for_scope)(scope, environ.get("HTTP_AUTHORIZATION"))
        except Rejected as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        project_id = token.project_id
    run = await database_sync_to_async(Run.objects.agent_connected)(run_id, project_id)
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
        await database_sync_to_async(Run.objects.agent_disconnected)(run_id)
        sio.start_background_task(_finish_after_grace, run_id)


async def _finish_after_grace(run_id):
    await asyncio.sleep(settings.STUDIO_DISCONNECT_GRACE)
    for run in await database_sync_to_async(Run.objects.finish_abandoned)(run_id):
        await live.publish(events.run_changed(run))


def forget_sockets_of_previous_process():
    """Called once at start: the sockets the database counts belonged to a process now gone."""
    Run.objects.forget_agent_sockets()


async def sweep_forever():
    """Finish runs whose grace ran out while no timer of this process was watching them, and runs
    made from spans that went quiet, and send again the answers that a connected agent has not acknowledged (a lost frame)."""
    while True:
        await asyncio.sleep(max(settings.STUDIO_DISCONNECT_GRACE / 2, 0.5))
        try:
            for run in await database_sync_to_async(Run.objects.finish_abandoned)():
                await live.publish(events.run_changed(run))
            for run in await database_sync_to_async(Run.objects.finish_quiet)():
                await live.publish(events.run_changed(run))
            await redeliver_unacknowledged()
        except Exception:  # a passing database error must not end the sweeper
            log.exception("sweeping abandoned runs failed")
