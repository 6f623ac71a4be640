"""The live event of spans: spans of a run were stored.

The builder returns (groups, event) for `studio.live.publish`; its "kind" and "key" say which
thing changed (events with the same two that wait to be rendered collapse into one).
"""

from runs.events import run_group


def spans_changed(run_id, project_id=None):
    groups = [run_group(run_id)] if run_id else []
    return groups, {"kind": "spans", "key": run_id or project_id, "run": run_id, "project": project_id}
