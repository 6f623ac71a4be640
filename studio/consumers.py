"""The base of every page's live WebSocket: join groups, render what changed, coalesce bursts;
and of the pages a person opens, which in team mode need a login and the project's VIEW role."""

import asyncio
import logging
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth

from projects import access
from studio import auth_mode, storable
from studio.channels_bends import DispatchWithoutClosingConnections

log = logging.getLogger(__name__)


class LivePageConsumer(DispatchWithoutClosingConnections, AsyncJsonWebsocketConsumer):
    """Subclasses set `self.groups_to_join` in `setup()` and implement `render(event)`.

    `render` is sync (it reads the database and renders partial templates) and returns HTML
    fragments per docs/LIVE.md, or "" for nothing. Events for the same thing (`event_key`: their
    "kind" and "key") that arrive while it waits to be rendered collapse into a single render of
    its latest state, so 300 streaming chunks never mean 300 renders for a slow browser.

    A page's renders run one after the other, in the order their events came, each sent before
    the next starts. They all run on the one thread of `database_sync_to_async` anyway; started
    side by side, the second one held the GIL while the event loop waited to send the first, and
    an input request reached its page late behind the run status it came with
    (bench/findings.md#page-renders-in-order).
    """

    groups_to_join = ()

    @classmethod
    async def decode_json(cls, text_data):
        # What a page sends follows the edge's text rule, as every other surface does.
        return storable.loads(text_data)

    async def connect(self):
        self._pending = {}  # key -> latest event to render, in the order the keys came
        self._delayed = {}  # key -> latest event, rendered when its delay is over
        self._renderer = None  # the task rendering self._pending
        self._timers = {}  # key -> the timer of its delay
        if not await database_sync_to_async(self.setup)():
            await self.close(code=4404)
            return
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_to_join", ()):
            await self.channel_layer.group_discard(group, self.channel_name)
        for timer in getattr(self, "_timers", {}).values():
            timer.cancel()
        if getattr(self, "_renderer", None) is not None:
            self._renderer.cancel()

    def setup(self):
        """Load what the page shows; return False to refuse the connection."""
        return True

    def event_key(self, event):
        # Each app's event builders say which thing an event is about (runs/events.py, ...).
        return event.get("kind"), event.get("key")

    async def live_event(self, message):
        event = message["event"]
        self.render_soon(self.event_key(event), event)

    def render_soon(self, key, event, delay=0.0):
        """Render `event` after those already waiting (or once `delay` seconds have passed);
        an event whose key already waits replaces it there."""
        if delay:
            if key not in self._delayed:
                self._timers[key] = asyncio.get_running_loop().call_later(delay, self._delay_over, key)
            self._delayed[key] = event
            return
        self._pending[key] = event
        if self._renderer is None or self._renderer.done():
            self._renderer = asyncio.ensure_future(self._render_pending())

    def _delay_over(self, key):
        del self._timers[key]
        self.render_soon(key, self._delayed.pop(key))

    async def _render_pending(self):
        while self._pending:
            key = next(iter(self._pending))
            event = self._pending.pop(key)
            try:
                html = await database_sync_to_async(self.render)(event)
            except Exception:
                log.exception("rendering a live update failed: %r", event)
                continue
            if html:
                try:
                    await self.send_json({"type": "html", "html": html})
                except Exception:  # the socket is gone; its disconnect cleans up
                    log.debug("a live update could not be sent", exc_info=True)
                    return

    def render(self, event):
        raise NotImplementedError


# Close codes a page's script knows (static/studio/live.js): log in first; nothing to show.
LOGIN_FIRST, NOT_FOUND = 4401, 4404


class PageConsumer(LivePageConsumer):
    """A page a person has open. When a login is required (`auth_mode.required_for_scope`), an
    anonymous socket is accepted and closed at once with 4401, which the page's script reads as
    "go to the login page" (a refusal before accept reaches it only as 1006). What the socket
    shows is each subclass's `setup`'s to check (`self.may`), refusing with 4404 what the person
    may not see, as the pages answer 404.
    """

    async def connect(self):
        self.login_required = auth_mode.required_for_scope(self.scope)
        user = self.scope.get("user")
        if self.login_required and not getattr(user, "is_authenticated", False):
            await self.accept()
            await self.close(code=LOGIN_FIRST)
            return
        await super().connect()

    def may(self, project, needed):
        """Sync: whether the person who opened the socket may do `needed` in `project`."""
        return access.may(self.scope.get("user"), project, needed, self.login_required)

    def current_person(self):
        """Sync: the socket's person as of now, read again from their session: a logout or a
        deactivation since the socket opened leaves the anonymous user."""
        key = getattr(self.scope.get("session"), "session_key", None)
        if not key:
            return auth.get_user(SimpleNamespace(session={}))
        session = import_module(settings.SESSION_ENGINE).SessionStore(key)
        return auth.get_user(SimpleNamespace(session=session))
