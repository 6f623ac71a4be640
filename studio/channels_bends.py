"""Where Studio departs from Channels' own code paths, and why (Channels 4.3).

`DispatchWithoutClosingConnections` replaces `AsyncConsumer.dispatch` for the live pages'
consumers, leaving out the `aclose_old_connections()` Channels awaits before every message.
That call hops to the one sync thread where the pages also render, so each event and each
frame a page sends (a person's answer) waited there for the render under way
(bench/findings.md#no-close-old-connections-per-event). Nothing is lost: these consumers use the database only through
`database_sync_to_async`, which closes old connections around each of its calls.

What this relies on, checked by tests/test_library_bends.py against the installed Channels
(it fails, naming this, when they no longer hold): `AsyncConsumer.dispatch` does nothing but
find the handler by `get_handler_name`, close old connections and await the handler; no
consumer class between it and ours overrides `dispatch`; `DatabaseSyncToAsync` closes old
connections before and after each call.
"""

from channels.consumer import get_handler_name

# The Channels version (major, minor) this was written for and checked against.
WRITTEN_FOR = (4, 3)


class DispatchWithoutClosingConnections:
    """Mixed into an AsyncConsumer subclass: Channels' dispatch without its connection cleanup."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
