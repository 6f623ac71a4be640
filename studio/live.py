"""The one way a change reaches open pages: the transport of live events.

Writers describe what changed with their app's event builders (`runs/events.py`,
`traces/events.py`, `projects/events.py`: each gives the groups and a small event) and hand it to
`publish_on_commit` (sync code) or `publish` (async code). The event is sent to the Channels
groups of the pages that show it; each page's consumer then renders just that piece with the
same partial template the page uses, so an agent's POST never waits for HTML to be rendered,
and a burst of streaming chunks is coalesced per browser.
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


async def publish(change):
    groups, event = change
    layer = get_channel_layer()
    for group in groups:
        # A page in several of the groups gets one copy from each: "group" tells them apart.
        await layer.group_send(group, {"type": "live.event", "event": event, "group": group})


# The server's event loop, once it runs (see studio/asgi.py). Sync code (views in their
# thread) hands events to it without waiting, so an agent's POST does not wait for delivery.
_loop = None


def use_event_loop(loop):
    global _loop
    _loop = loop


def _report_failure(future):
    if not future.cancelled() and future.exception() is not None:
        log.error("publishing a live update failed", exc_info=future.exception())


def publish_now(change):
    if _loop is not None and _loop.is_running():
        asyncio.run_coroutine_threadsafe(publish(change), _loop).add_done_callback(_report_failure)
    else:
        # Outside the server (management commands, tests): deliver before returning.
        async_to_sync(publish)(change)


def publish_on_commit(change):
    transaction.on_commit(lambda: publish_now(change))
