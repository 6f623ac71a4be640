"""The base of every page's live WebSocket: join groups, render what changed, coalesce bursts."""

import asyncio
import logging

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

log = logging.getLogger(__name__)


class LivePageConsumer(AsyncJsonWebsocketConsumer):
    """Subclasses set `self.groups_to_join` in `setup()` and implement `render(event)`.

    `render` is sync (it reads the database and renders partial templates) and returns HTML
    fragments per docs/LIVE.md, or "" for nothing. Events for the same thing (`event_key`) that
    arrive while one is being rendered collapse into a single re-render of its latest state, so
    300 streaming chunks never mean 300 renders for a slow browser.
    """

    groups_to_join = ()

    async def connect(self):
        self._busy = set()
        self._again = {}
        self._tasks = set()
        if not await database_sync_to_async(self.setup)():
            await self.close(code=4404)
            return
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_to_join", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
        for task in list(getattr(self, "_tasks", ())):
            task.cancel()

    async def dispatch(self, message):
        """Channels' own dispatch, without its `close_old_connections` before every message.

        Channels runs that on the one sync thread that also renders: each event and each frame
        the page sends (an answer) waited there for the render under way (input round trip: 4
        to 6 ms of its 25). Here the database is only used through `database_sync_to_async`,
        which closes old connections around each of its calls.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def setup(self):
        """Load what the page shows; return False to refuse the connection."""
        return True

    def event_key(self, event):
        return (event.get("kind"), event.get("message") or event.get("request") or event.get("run") or event.get("project"))

    async def live_event(self, message):
        event = message["event"]
        self.render_soon(self.event_key(event), event)

    def render_soon(self, key, event, delay=0.0):
        """Render `event` now (or after `delay` seconds), unless a render of `key` is under way."""
        if key in self._busy:
            self._again[key] = event
            return
        self._busy.add(key)
        task = asyncio.ensure_future(self._render_until_current(key, event, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _render_until_current(self, key, event, delay=0.0):
        try:
            if delay:
                await asyncio.sleep(delay)
            while event is not None:
                try:
                    html = await database_sync_to_async(self.render)(event)
                except Exception:
                    log.exception("rendering a live update failed: %r", event)
                    html = ""
                if html:
                    await self.send_json({"type": "html", "html": html})
                event = self._again.pop(key, None)
        finally:
            self._busy.discard(key)

    def render(self, event):
        raise NotImplementedError
