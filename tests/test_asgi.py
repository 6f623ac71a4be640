"""The one ASGI application: what happens on the first calls after a (re)start."""

import asyncio
import time

import pytest

from runs import agent_link
from studio import asgi, db, live
from tests.support.waiting import run_async


# The takeover runs in database_sync_to_async, which tidies that thread's connections.
@pytest.mark.django_db
def test_calls_that_arrive_while_a_restarted_server_takes_over_wait_for_it(monkeypatch):
    # After a restart the server resets the agent sockets of the previous process. An agent that
    # reconnects meanwhile must be counted after that reset, not before it (then reset to "gone").
    happened = []

    def slow_forget():
        time.sleep(0.2)
        happened.append("sockets of the previous process forgotten")

    async def no_sweeping():
        pass

    monkeypatch.setattr(agent_link, "forget_sockets_of_previous_process", slow_forget)
    monkeypatch.setattr(agent_link, "start_manager", lambda: None)
    monkeypatch.setattr(agent_link, "sweep_forever", no_sweeping)
    monkeypatch.setattr(db, "start_sqlite_checkpointer", lambda: None)
    monkeypatch.setattr(asgi.StudioApp, "_startup", None)
    monkeypatch.setattr(live, "_loop", None)

    async def django(scope, receive, send):
        happened.append(scope["path"])

    app = asgi.StudioApp(agent_link.sio, other_asgi_app=django)

    async def two_calls():
        http = {"type": "http", "method": "GET", "headers": [], "query_string": b""}
        await asyncio.gather(app({**http, "path": "/"}, None, None), app({**http, "path": "/agent"}, None, None))

    run_async(two_calls())
    assert happened == ["sockets of the previous process forgotten", "/", "/agent"]
