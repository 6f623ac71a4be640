"""The live-page consumer base (studio/consumers.py): how a page's updates are rendered and sent."""

import asyncio
import json
import threading

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from studio.consumers import LivePageConsumer
from tests.support.waiting import run_async

GROUP = "consumer-test"
# Renders run in database_sync_to_async, which tidies that thread's database connections.
pytestmark = pytest.mark.django_db


class Recorder(LivePageConsumer):
    """Renders "<kind> <n>"; the first render waits until the test lets it go."""

    groups_to_join = [GROUP]
    first_render_started = threading.Event()
    let_first_render_go = threading.Event()
    renders = []
    received = 0

    async def live_event(self, message):
        Recorder.received += 1
        event = message["event"]
        self.render_soon((event["kind"], event.get("id")), event, event.get("delay", 0.0))

    def render(self, event):
        if not self.renders:
            self.first_render_started.set()
            self.let_first_render_go.wait(5)
        self.renders.append(event["n"])
        return f"{event['kind']} {event['n']}"


async def publish(**event):
    await get_channel_layer().group_send(GROUP, {"type": "live.event", "event": event})


async def frames(socket, count):
    return [json.loads(await socket.receive_from(timeout=5))["html"] for _ in range(count)]


@pytest.fixture(autouse=True)
def fresh_recorder():
    """Recorder keeps what it saw on the class (each test's consumer is made by Channels)."""
    Recorder.renders = []
    Recorder.received = 0
    Recorder.first_render_started = threading.Event()
    Recorder.let_first_render_go = threading.Event()


def test_updates_are_sent_one_at_a_time_in_order_and_one_that_waits_is_sent_once_at_its_latest():

    async def scenario():
        socket = WebsocketCommunicator(Recorder.as_asgi(), "/")
        assert (await socket.connect())[0]
        await publish(kind="message", id=1, n=1)
        await asyncio.get_running_loop().run_in_executor(None, Recorder.first_render_started.wait, 5)
        # While message 1 renders: a re-send of message 2, the run, and message 2 again.
        await publish(kind="message", id=2, n=2)
        await publish(kind="run", n=3)
        await publish(kind="message", id=2, n=4)
        while Recorder.received < 4:
            await asyncio.sleep(0.01)
        Recorder.let_first_render_go.set()
        got = await frames(socket, 3)
        assert await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return got

    assert run_async(scenario()) == ["message 1", "message 4", "run 3"]
    assert Recorder.renders == [1, 4, 3]


def test_delayed_updates_of_one_thing_are_rendered_once_when_the_delay_is_over():
    Recorder.let_first_render_go.set()

    async def scenario():
        socket = WebsocketCommunicator(Recorder.as_asgi(), "/")
        assert (await socket.connect())[0]
        for n in range(1, 6):
            await publish(kind="details", n=n, delay=0.5)
        got = await frames(socket, 1)
        assert await socket.receive_nothing(timeout=0.7)
        await publish(kind="details", n=6, delay=0.5)
        got += await frames(socket, 1)
        await socket.disconnect()
        return got

    assert run_async(scenario()) == ["details 5", "details 6"]
