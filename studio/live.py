"""The one way a change reaches open pages.

Writers describe what changed (a message, a run, an input request, spans) with the event
builders below and hand the event to `publish_on_commit` (sync code) or `publish` (async code).
The event is sent to the Channels groups of the pages that show it; each page's consumer then
renders just that piece with the same partial template the page uses, so an agent's POST never
waits for HTML to be rendered, and a burst of streaming chunks is coalesced per browser.
"""

import asyncio
import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
PROJECTS_GROUP = "projects"


def project_group(project_id):
    return f"project.{project_id}"


def run_group(run_id):
    # Run ids are chosen by clients; group names allow only [a-zA-Z0-9._-], < 100 chars.
    return "run." + hashlib.sha1(run_id.encode()).hexdigest()


def run_changed(run):
    """Status, name or counts of a run: its page, its project's run list, the projects page."""
    groups = [run_group(run.pk), project_group(run.project_id), PROJECTS_GROUP]
    return groups, {"kind": "run", "run": run.pk, "project": run.project_id}


def message_changed(run, reply_pk, message_pk):
    return [run_group(run.pk)], {"kind": "message", "run": run.pk, "reply": reply_pk, "message": message_pk}


def input_changed(run, request_pk):
    return [run_group(run.pk)], {"kind": "input", "run": run.pk, "request": request_pk}


def spans_changed(run_id, project_id=None):
    groups = [run_group(run_id)] if run_id else []
    return groups, {"kind": "spans", "run": run_id, "project": project_id}


def project_changed(project_id, deleted=False):
    groups = [PROJECTS_GROUP, project_group(project_id)]
    return groups, {"kind": "project", "project": project_id, "deleted": deleted}


def project_active(project_id):
    """Its last activity moved: the projects page's row."""
    return [PROJECTS_GROUP], {"kind": "project", "project": project_id}


def run_deleted(run_id, project_id):
    groups = [run_group(run_id), project_group(project_id), PROJECTS_GROUP]
    return groups, {"kind": "run", "run": run_id, "project": project_id, "deleted": True}


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
