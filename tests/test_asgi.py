"""The one ASGI application: what happens on the first calls after a (re)start."""

import asyncio
import time

from runs import agent_socket
from studio import asgi
from tests.support.waiting import run_async


def test_calls_that_arrive_while_a_restarted_server_takes_over_wait_for_it():
    # After a restart the server resets the agent sockets of the previous process. An agent that
    # reconnects meanwhile must be counted after that reset, not before it (then reset to "gone").
    happened = []

    def slow_forget():
        time.sleep(0.2)
        happened.append("sockets of the previous process forgotten")

    async def take_over():  # as the real one: blocking database work, in a thread
        await asyncio.to_thread(slow_forget)

    async def django(scope, receive, send):
        happened.append(scope["path"])

    app = asgi.StudioApp(agent_socket.sio, other_asgi_app=django, take_over=take_over)

    async def two_calls():
        http = {"type": "http", "method": "GET", "headers": [], "query_string": b""}
        await asyncio.gather(app({**http, "path": "/"}, None, None), app({**http, "path": "/agent"}, None, None))

    run_async(two_calls())
    assert happened == ["sockets of the previous process forgotten", "/", "/agent"]


def test_what_the_server_loads_at_start_is_left_out_of_the_collectors_full_passes(tmp_path):
    # A full garbage collection walks every object it tracks, with every request waiting: over
    # Django and the apps (~140,000 objects) one took 80-100 ms. Loaded once, they are frozen.
    import os
    import subprocess
    import sys

    probe = (
        "import gc, studio.asgi; frozen = gc.get_freeze_count(); walked = len(gc.get_objects()); print(frozen, walked)"
    )
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "studio.settings"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert done.returncode == 0, done.stderr
    frozen, walked = map(int, done.stdout.split())
    assert frozen > 50_000 and walked < frozen / 5, (frozen, walked)
