"""The live events of runs: a run, its messages and its input requests changed, or it is gone.

Each builder returns (groups, event) for `studio.live.publish`. An event's "kind" and "key" say
which thing changed: events with the same two that wait to be rendered collapse into one.
"""

import hashlib

from projects.events import PROJECTS_GROUP, project_group


def run_group(run_id):
    # Run ids are chosen by clients; group names allow only [a-zA-Z0-9._-], < 100 chars.
    return "run." + hashlib.sha1(run_id.encode()).hexdigest()


def run_changed(run):
    """Status, name or counts of a run: its page, its project's run list, the projects page."""
    groups = [run_group(run.pk), project_group(run.project_id), PROJECTS_GROUP]
    return groups, {"kind": "run", "key": run.pk, "run": run.pk, "project": run.project_id}


def message_changed(run, reply_pk, message_pk):
    event = {"kind": "message", "key": message_pk, "run": run.pk, "reply": reply_pk, "message": message_pk}
    return [run_group(run.pk)], event


def chat_removed(run, reply_pks, message_pks):
    """Replies and messages deleted from a run's chat (a chat rebuilt from late spans): open
    pages take them out before the ones stored again in their place arrive."""
    key = "removed:" + ",".join(map(str, [*reply_pks, "", *message_pks]))
    event = {"kind": "removed", "key": key, "run": run.pk, "replies": list(reply_pks), "messages": list(message_pks)}
    return [run_group(run.pk)], event


def input_changed(run, request_pk):
    return [run_group(run.pk)], {"kind": "input", "key": request_pk, "run": run.pk, "request": request_pk}


def run_deleted(run_id, project_id):
    groups = [run_group(run_id), project_group(project_id), PROJECTS_GROUP]
    return groups, {"kind": "run", "key": run_id, "run": run_id, "project": project_id, "deleted": True}
