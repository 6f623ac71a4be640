"""One ASGI application for everything.

/socket.io/ goes to the python-socketio server (agent processes, namespace /python); every
other HTTP request goes to Django, and browser WebSockets (/ws/...) to Channels consumers.
"""

import asyncio
import gc
import json
import logging
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

django_asgi_app = get_asgi_application()
log = logging.getLogger(__name__)

import socketio  # noqa: E402  (Django must be set up before the apps' modules load)
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from runs import agent_link, agent_socket  # noqa: E402
from studio import db, live  # noqa: E402
from studio.handlers import http_application  # noqa: E402
from studio.origins import HostAndOriginCheck  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402
from traces import otlp_grpc  # noqa: E402

django_and_channels = ProtocolTypeRouter(
    {
        "http": http_application(django_asgi_app, settings.STUDIO_SYNC_THREADS, settings.STUDIO_AGENT_THREADS),
        # Host and Origin are checked in front of everything (studio/origins.py).
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)


class StudioApp(socketio.ASGIApp):
    """Socket.IO in front of Django; on the first call, takes over the runs of a previous process.

    Every call waits until that takeover is done: an agent reconnecting to a restarted server
    while it runs would otherwise be counted first and then reset to "gone" by it. `take_over`
    is a coroutine function; a test gives its own instead of starting the real services.
    """

    def __init__(self, *args, take_over=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._take_over = take_over or _take_over
        self._startup = None

    async def __call__(self, scope, receive, send):
        startup = self._startup
        if startup is None:
            startup = self._startup = asyncio.ensure_future(self._take_over())
        if not startup.done():
            # shield: a request cancelled while it waits must not cancel the takeover.
            await asyncio.shield(startup)
        if _too_large_for_polling(scope):
            # python-engineio answers such a POST only when the session's ping times out (it
            # closes the session and waits for a GET that never comes): refuse it at once.
            await _refuse(send, 413, f"A polling packet is at most {agent_socket.sio.eio.max_http_buffer_size} bytes")
            return
        await super().__call__(scope, receive, send)


def _too_large_for_polling(scope):
    if scope["type"] != "http" or scope.get("method") != "POST" or "socket.io/" not in scope.get("path", ""):
        return False
    length = dict(scope.get("headers") or ()).get(b"content-length", b"0")
    return length.isdigit() and int(length) > agent_socket.sio.eio.max_http_buffer_size


async def _refuse(send, status, message):
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _take_over():
    try:
        await _start_services()
    except Exception:  # serving goes on; what did not start is in the log
        log.exception("starting the agent link, the sweeper or the checkpointer failed")


async def _start_services():
    live.use_event_loop(asyncio.get_running_loop())
    # Without Redis the server is one process, and no socket of the previous one survived its
    # restart. With Redis, several workers share the database: one starting must not reset the
    # others' sockets (the leader counts out those of a worker whose heartbeat stopped).
    await database_sync_to_async(agent_link.start_worker)(one_process=not settings.REDIS_URL)
    agent_socket.start_manager()
    agent_socket.sio.start_background_task(agent_link.beat_forever)
    agent_socket.sio.start_background_task(agent_link.sweep_forever)
    db.start_sqlite_checkpointer()


def _runserver_serves():
    # `manage.py runserver` imports this module only where it serves: the autoreloader's child
    # (or the one process with --noreload), under uvicorn or daphne.
    return sys.argv[1:2] == ["runserver"]


def start_when_served():
    """What listens beside the ASGI app starts with the server, not at its first HTTP call.

    Only under a real server (the team command's uvicorn, or runserver): a test or a
    management command importing this module must not take a machine-wide port.
    """
    if settings.SERVED_BY_OTHER_ASGI_SERVER or _runserver_serves():
        otlp_grpc.start()


# uvicorn's frame limit (--ws-max-size) is 16 MiB unless told: an answer limit raised past it
# would close the page's socket on a big answer instead of refusing it in words.
_UVICORN_WS_MAX_SIZE = 16 * 1024 * 1024
if (
    settings.SERVED_BY_OTHER_ASGI_SERVER
    and settings.STUDIO_MAX_ANSWER_FRAME_BYTES > _UVICORN_WS_MAX_SIZE
    and not any(arg.startswith("--ws-max-size") for arg in sys.argv)
):
    log.warning(
        "STUDIO_MAX_ANSWER_BYTES is %d: start uvicorn with --ws-max-size %d",
        settings.STUDIO_MAX_ANSWER_BYTES,
        settings.STUDIO_MAX_ANSWER_FRAME_BYTES,
    )

application = HostAndOriginCheck(
    StudioApp(agent_socket.sio, other_asgi_app=django_and_channels, socketio_path="socket.io")
)
start_when_served()

# Everything loaded so far (Django, the apps, their modules) lives as long as the process.
# Frozen, the garbage collector's full passes no longer walk it: each such pass stalled every
# agent and page (bench/findings.md#gc-freeze).
gc.collect()
gc.freeze()
