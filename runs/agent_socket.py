"""The Socket.IO server that agent processes connect to: namespace /python, one room per run.

A leaf: the agent link (`agent_link`, what a connect and a disconnect mean) and the answers
(`answers`, emitting forwardUserInput) both use it, and it imports neither.
"""

import socketio
from django.conf import settings

from studio import storable

NAMESPACE = "/python"
if settings.REDIS_URL:
    _manager = socketio.AsyncRedisManager(settings.REDIS_URL, channel=f"{settings.REDIS_PREFIX}-socketio")
else:
    _manager = None
sio = socketio.AsyncServer(
    async_mode="asgi",
    client_manager=_manager,
    # Host and Origin are checked in front of the server (studio/origins.py), so engine.io's
    # own CORS handling is off.
    cors_allowed_origins=[],
    # Packets follow the edge's text rule (a run id in `auth` included).
    json=storable,
    # Agents send large messages over HTTP, not here; keep frames small.
    max_http_buffer_size=1_000_000,
)


def start_manager():
    """Start listening to the other workers now, not at this worker's first agent connection.

    python-socketio starts its Redis listener lazily; a worker that only serves browsers would
    otherwise never hear an agent's acknowledgement that another worker relays back to it.
    """
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()


def run_room(run_id):
    return f"run:{run_id}"
