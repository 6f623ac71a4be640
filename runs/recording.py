"""What the agent-facing procedures do to the database, one function each.

Every write is an upsert on a unique key, so the client's re-sends (streaming chunks, retries,
a repeated registerRun) never duplicate anything. Live updates go out after commit.
"""

import threading
from collections import OrderedDict

from django.db import IntegrityError
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from projects import events as project_events
from projects.models import Project
from studio import live
from studio.db import writing
from studio.rejected import Rejected
from traces.ingest import link_orphan_spans

from . import events
from .models import InputRequest, Message, Reply, Run


def register_run(data, project=None):
    """Create or refresh a run (the client may register the same id again).

    `project`: the agent's token's (team mode; its name is data["project"]), whose agents may
    not take over another project's run."""
    now = timezone.now()
    with writing():
        recent.forget_run(data["id"])
        scoped = project is not None
        if not scoped:
            project, _ = Project.objects.get_or_create(name=data["project"])
        run, created = Run.objects.register(
            data["id"],
            project,
            name=data.get("name") or "",
            pid=data.get("pid"),
            status=data.get("status"),
            client_timestamp=data.get("timestamp") or "",
            run_dir=data.get("run_dir") or "",
            now=now,
            only_in_project=scoped,
        )
        if run is None:
            raise Rejected(f"Run id '{data['id']}' is taken by another project: use another run_id", 409, "id")
        Project.objects.filter(pk=project.pk).update(last_activity_at=now)
        # The exporter's spans may have come first (agentscope sends them from another thread).
        link_orphan_spans(run)
        live.publish_on_commit(events.run_changed(run))
    return run, created


def _live_run(run_id, project_id=None):
    """The run, if it is in `project_id` when that is given (an agent's token's project): to an
    agent of another project, a run is as unknown as one that does not exist."""
    run = Run.objects.only("id", "project_id", "status", "last_activity_at").filter(pk=run_id).first()
    if run is None or (project_id is not None and run.project_id != project_id):
        raise _unknown_run(run_id)
    return run


def _unknown_run(run_id):
    return Rejected(f"Unknown run '{run_id}': call registerRun first", 404, "runId")


def _touch(run, now):
    if Run.objects.touch(run, now):
        live.publish_on_commit(project_events.project_active(run.project_id))


class RecentPushes:
    """What this process learnt from recent pushes, so a streaming chunk costs one statement.

    Runs (their project and last activity) and replies (their pk) are read or created on the
    first push that names them, then remembered. A run deleted in this process is forgotten
    with it (`forget_run`, on Run's post_delete, whoever deletes it). One deleted by another
    worker makes the insert fail its foreign key at commit; the push is then retried without
    these shortcuts and answers 404 like any unknown run. Tests `clear()` it: their databases
    are rolled back, not deleted from.
    """

    def __init__(self, size=5000):
        self.size = size
        self.runs = OrderedDict()
        self.replies = OrderedDict()
        self.lock = threading.Lock()

    def remember(self, table, key, value):
        with self.lock:
            table[key] = value
            table.move_to_end(key)
            if len(table) > self.size:
                table.popitem(last=False)

    def forget_run(self, run_id):
        with self.lock:
            self.runs.pop(run_id, None)
            for key in [key for key in self.replies if key[0] == run_id]:
                del self.replies[key]

    def clear(self):
        with self.lock:
            self.runs.clear()
            self.replies.clear()


recent = RecentPushes()


@receiver(post_delete, sender=Run, dispatch_uid="runs.recording.forget_deleted_run")
def _forget_deleted_run(sender, instance, **kwargs):
    recent.forget_run(instance.pk)


def push_message(data, project_id=None):
    """Store a message by its msg.id: a re-send with the same id replaces the content.
    `project_id`: the run must be in it (an agent's token's project, team mode)."""
    try:
        return _push_message(data, project_id, trust_recent=True)
    except IntegrityError:
        recent.forget_run(data["runId"])
        return _push_message(data, project_id, trust_recent=False)


def _push_message(data, project_id, trust_recent):
    msg = data["msg"]
    run_id = data["runId"]
    # A print() outside a reply has replyId null: the message is a reply of its own.
    reply_key = data.get("replyId") or msg["id"]
    # agentscope <= 1.0.8 sends name/role; before that, only the message knows.
    reply_name = data.get("replyName") or data.get("name") or msg.get("name") or ""
    reply_role = data.get("replyRole") or data.get("role") or msg.get("role") or ""
    now = timezone.now()
    with writing():
        run = recent.runs.get(run_id) if trust_recent else None
        if run is None:
            run = _live_run(run_id)
            recent.remember(recent.runs, run_id, run)
        if project_id is not None and run.project_id != project_id:
            raise _unknown_run(run_id)
        reply_pk = recent.replies.get((run_id, reply_key)) if trust_recent else None
        if reply_pk is None:
            reply_pk = Reply.objects.upsert(
                run_id=run.pk, reply_id=reply_key, name=reply_name, role=reply_role, now=now
            )
            recent.remember(recent.replies, (run_id, reply_key), reply_pk)
        message_pk = Message.objects.upsert(
            run_id=run_id,
            reply_pk=reply_pk,
            msg_id=msg["id"],
            name=msg.get("name") or "",
            role=msg.get("role") or "",
            content=msg.get("content") if msg.get("content") is not None else [],
            metadata=msg.get("metadata"),
            usage=msg.get("usage"),
            client_timestamp=msg.get("timestamp") or "",
            now=now,
        )
        _touch(run, now)
        live.publish_on_commit(events.message_changed(run, reply_pk, message_pk))
    return message_pk


def register_reply(data, project_id=None):
    """Announce a reply before its first message (name and role shown at once)."""
    now = timezone.now()
    with writing():
        run = _live_run(data["runId"], project_id)
        name = data.get("replyName") or data.get("name") or ""
        role = data.get("replyRole") or data.get("role") or ""
        reply_pk = Reply.objects.upsert(run_id=run.pk, reply_id=data["replyId"], name=name, role=role, now=now)
        _touch(run, now)
    return reply_pk


def request_user_input(data, project_id=None):
    """Store an agent's question and mark the run as waiting; a repeated requestId is a no-op."""
    now = timezone.now()
    with writing():
        run = _live_run(data["runId"], project_id)
        request_pk, owner, created = InputRequest.objects.open(
            request_id=data["requestId"],
            run_id=run.pk,
            agent_id=data.get("agentId") or "",
            agent_name=data.get("agentName") or "",
            structured_input=data.get("structuredInput"),
            now=now,
        )
        if owner != run.pk:
            raise Rejected("requestId is already used by another run", 409, "requestId")
        if created:
            Run.objects.wait_for_input(run, now)
            live.publish_on_commit(events.input_changed(run, request_pk))
            live.publish_on_commit(events.run_changed(run))
    return request_pk
