import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.utils import timezone

from projects.models import Project
from studio.db import writing
from studio.fields import StorableJSONField, WrittenJSONField

# Run and project "last activity" is written at most this often per run, not on every chunk.
ACTIVITY_RESOLUTION = timedelta(seconds=1)


class RunQuerySet(models.QuerySet):
    """A run's lifecycle: every change of its status is one of these, and nothing else writes it.

    - registered (again): running; a finished run registered again is live once more
    - an agent socket connects: waiting if a request is pending, else running
    - the agent asks a person: waiting
    - the last pending request is answered: running
    - the last agent socket has been gone for STUDIO_DISCONNECT_GRACE: finished
    - the worker process holding a socket is gone (killed, restarted, silent for
      STUDIO_WORKER_TIMEOUT): that socket is gone too, and a run left without one starts its grace
    - a run made from GenAI spans (origin "otel"): running while its spans arrive, finished
      once none came for STUDIO_OTEL_QUIET_SECONDS

    The agent's disconnect is the only sign that a run ended (the agentscope client sends no
    "finished"): hence the grace, which a reconnect (a network blip, a server restart) cancels.
    Methods that take `now` write inside the caller's `writing()` transaction; the others are a
    transaction of their own.
    """

    def live(self):
        return self.filter(status__in=Run.LIVE)

    def register(self, run_id, project, *, name, pid, status, client_timestamp, run_dir, now, only_in_project=False):
        """Create the run, or refresh the one with this id (the client may register it again).

        `only_in_project` (an agent with a project token): a run of this id in another project
        is not taken over; returns (None, False) then. Decided by the database's own writes (the
        UPDATE's filter, the primary key), so that two agents of different projects registering
        the same id at once cannot both win."""
        fields = self._registered_fields(name, pid, status, client_timestamp, run_dir, now)
        if only_in_project:
            return self._register_in(run_id, project, now, fields)
        fields["project"] = project
        return self.update_or_create(id=run_id, defaults=fields, create_defaults={**fields, "started_at": now})

    @staticmethod
    def _registered_fields(name, pid, status, client_timestamp, run_dir, now):
        return {
            "name": name,
            "pid": pid,
            "status": status or Run.Status.RUNNING,
            "client_timestamp": client_timestamp,
            "run_dir": run_dir,
            "last_activity_at": now,
            "finished_at": None,
            # A client that registers a run made from its spans takes it over: its chat is
            # what the client pushes from now on, never rebuilt from spans again.
            "origin": Run.Origin.STUDIO,
        }

    def _register_in(self, run_id, project, now, fields):
        for _ in range(3):  # again when a run of this id was made meanwhile
            if self.filter(pk=run_id, project=project).update(**fields):
                return self.get(pk=run_id), False
            owner = self.filter(pk=run_id).values_list("project_id", flat=True).first()
            if owner == project.pk:
                continue  # made by another agent of this project since the UPDATE
            if owner is not None:
                return None, False
            try:
                with transaction.atomic():  # a savepoint: the caller's transaction goes on
                    return self.create(id=run_id, project=project, started_at=now, **fields), True
            except IntegrityError:
                continue
        return None, False

    def agent_connected(self, run_id, sid, worker_id, project_id=None, token_id=None):
        """Record a new agent socket, held by worker `worker_id`; return the run, or None if no
        run has this id (in `project_id`, when given: an agent's token's project, `token_id`)."""
        # The status is decided in the UPDATE itself: an answer recorded between a separate check
        # for pending requests and this write would otherwise leave the run "waiting" for nothing.
        pending = InputRequest.objects.filter(run_id=OuterRef("pk"), status=InputRequest.Status.PENDING)
        status = Case(When(Exists(pending), then=Value(Run.Status.WAITING)), default=Value(Run.Status.RUNNING))
        runs = self.filter(pk=run_id) if project_id is None else self.filter(pk=run_id, project_id=project_id)
        with writing():
            if not runs.update(
                agent_sockets=F("agent_sockets") + 1, agent_left_at=None, status=status, finished_at=None
            ):
                return None
            AgentSocket.objects.create(run_id=run_id, sid=sid, worker=worker_id, token_id=token_id)
            return self.get(pk=run_id)

    def agent_disconnected(self, run_id, sid):
        """An agent socket is gone; the last one gone starts the run's grace."""
        with writing():
            # Counted down only if still recorded: a socket of a worker declared gone already was.
            if AgentSocket.objects.filter(sid=sid).delete()[0]:
                self.filter(pk=run_id, agent_sockets__gt=0).update(agent_sockets=F("agent_sockets") - 1)
            self.filter(pk=run_id, agent_sockets=0).update(agent_left_at=timezone.now())

    def forget_workers_gone(self, alive, now):
        """Every worker but those of `alive` (ids) is gone, and the agent sockets it held with it:
        count them out; a live run left without one starts its grace now. Returns those runs.

        Its grace starts when this is noticed, not at the worker's last heartbeat: the agent
        reconnects to another worker in seconds, and gets a whole grace to do so."""
        with writing():
            Worker.objects.exclude(pk__in=alive).delete()
            # Locked: a socket's own disconnect at the same time counts it out once, not twice.
            lost = list(AgentSocket.objects.exclude(worker__in=alive).select_for_update().values_list("pk", "run_id"))
            if not lost:
                return []
            AgentSocket.objects.filter(pk__in=[pk for pk, _ in lost]).delete()
            counts = {}
            for _, run_id in lost:
                counts[run_id] = counts.get(run_id, 0) + 1
            for run_id, count in counts.items():
                self.filter(pk=run_id).update(agent_sockets=F("agent_sockets") - count)
            left = self.live().filter(pk__in=counts, agent_sockets=0, agent_left_at__isnull=True)
            runs = list(left)
            left.update(agent_left_at=now)
            for run in runs:
                run.agent_sockets, run.agent_left_at = 0, now
            return runs

    def finish_abandoned(self, run_id=None):
        """Mark finished the live runs whose agent has been gone longer than the grace; return them."""
        cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_DISCONNECT_GRACE)
        runs = self.live().filter(agent_sockets=0, agent_left_at__lte=cutoff)
        if run_id is not None:
            runs = runs.filter(pk=run_id)
        finished = []
        with writing():
            for run in runs:
                # Ended when its agent left, not when this sweep noticed. A reconnect since the
                # SELECT (agent_sockets > 0) keeps it live.
                if self.filter(pk=run.pk, agent_sockets=0).update(
                    status=Run.Status.FINISHED, finished_at=run.agent_left_at
                ):
                    run.status, run.finished_at = Run.Status.FINISHED, run.agent_left_at
                    finished.append(run)
        return finished

    def conversation_active(self, run_id, project_id, name, now, scoped=False):
        """Spans of a GenAI conversation that names no registered run arrived (inside the caller's
        transaction): make its run, or keep the one made before running; return (run, changed)
        with changed saying whether pages must be told. A studio run of that id is left alone:
        (None, False); so is another project's run when `scoped` (the spans came with a token of
        `project_id`)."""
        # Locked (on PostgreSQL) so that two workers given batches of one conversation make one
        # run and rebuild its chat in turn.
        run, created = self.select_for_update().get_or_create(
            id=run_id,
            defaults={
                "project_id": project_id,
                "name": name,
                "origin": Run.Origin.OTEL,
                "started_at": now,
                "last_activity_at": now,
            },
        )
        if created:
            return run, True
        if run.origin != Run.Origin.OTEL or (scoped and run.project_id != project_id):
            return None, False
        changed = run.status != Run.Status.RUNNING or (name and run.name != name)
        # A quiet run whose conversation goes on is running again.
        run.status, run.finished_at, run.last_activity_at = Run.Status.RUNNING, None, now
        run.name = name or run.name
        self.filter(pk=run.pk).update(status=run.status, finished_at=None, last_activity_at=now, name=run.name)
        return run, changed

    def finish_quiet(self):
        """Mark finished the live runs made from spans that got none for the quiet period; return them.

        Such a run has no agent socket whose leaving would end it: silence is the only sign."""
        cutoff = timezone.now() - timedelta(seconds=settings.STUDIO_OTEL_QUIET_SECONDS)
        finished = []
        with writing():
            for run in self.live().filter(origin=Run.Origin.OTEL, last_activity_at__lte=cutoff):
                # Ended with its last spans, not when this sweep noticed; spans since the SELECT
                # (a newer last_activity_at) keep it running.
                if self.filter(pk=run.pk, last_activity_at=run.last_activity_at).update(
                    status=Run.Status.FINISHED, finished_at=run.last_activity_at
                ):
                    run.status, run.finished_at = Run.Status.FINISHED, run.last_activity_at
                    finished.append(run)
        return finished

    def wait_for_input(self, run, now):
        """An agent of the run asks a person (inside the caller's transaction)."""
        self.filter(pk=run.pk).update(status=Run.Status.WAITING, last_activity_at=now)
        run.status = Run.Status.WAITING

    def resume_if_answered(self, run):
        """Waiting → running once none of its requests is pending (inside the caller's transaction,
        which holds the run's row locked so that two answers decide in turn)."""
        if run.status != Run.Status.WAITING:
            return
        pending = InputRequest.objects.filter(run_id=OuterRef("pk"), status=InputRequest.Status.PENDING)
        if self.filter(pk=run.pk, status=Run.Status.WAITING).exclude(Exists(pending)).update(status=Run.Status.RUNNING):
            run.status = Run.Status.RUNNING

    def touch(self, run, now):
        """Record activity on the run and its project, at most once per ACTIVITY_RESOLUTION.

        Returns whether it wrote (inside the caller's transaction)."""
        if now - run.last_activity_at < ACTIVITY_RESOLUTION:
            return False
        self.filter(pk=run.pk).update(last_activity_at=now)
        Project.objects.filter(pk=run.project_id).update(last_activity_at=now)
        run.last_activity_at = now
        return True


class Run(models.Model):
    """One execution of an agent program: `agentscope.init(...)` registers it."""

    objects = RunQuerySet.as_manager()

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting for input"
        FINISHED = "finished", "Finished"
        ERROR = "error", "Error"

    class Origin(models.TextChoices):
        STUDIO = "studio", "Registered by a studio client"
        OTEL = "otel", "Made from OpenTelemetry GenAI spans"

    # An agent may still write to it, or is waiting for a person.
    LIVE = (Status.RUNNING, Status.WAITING)

    # The client chooses the id (a shortuuid, or the run_id given to init()).
    id = models.CharField(max_length=255, primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    pid = models.BigIntegerField(null=True, blank=True)
    run_dir = models.TextField(blank=True)
    # As the client sent it: local time without zone, and sometimes not a time at all.
    client_timestamp = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The agent's live /python sockets (its AgentSocket rows, counted), and when the last one left.
    agent_sockets = models.PositiveIntegerField(default=0)
    agent_left_at = models.DateTimeField(null=True, blank=True)
    # A run made from spans gets its chat rebuilt from them and ends by silence; a registered
    # one never does either.
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.STUDIO)

    class Meta:
        indexes = [
            # A project's run list, newest first.
            models.Index(fields=["project", "-started_at"], name="run_project_newest_idx"),
            # Status counts per project on the projects page; the disconnect sweeper.
            models.Index(fields=["status", "project"], name="run_status_project_idx"),
        ]

    def __str__(self):
        return f"{self.name or self.id} ({self.project_id})"

    @property
    def duration(self):
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def is_live(self):
        return self.status in self.LIVE

    @property
    def is_finished(self):
        return self.status == self.Status.FINISHED


class WorkerQuerySet(models.QuerySet):
    def beat(self, worker_id, pid, host, now):
        """The worker is alive (every STUDIO_WORKER_TIMEOUT / 3). Returns False if its row was
        gone: it had been silent so long that its sockets were counted out, and must be again."""
        with writing():
            if self.filter(pk=worker_id).update(seen_at=now):
                return True
            self.create(id=worker_id, pid=pid, host=host, started_at=now, seen_at=now)
            return False

    def alive(self, now):
        """The workers heard from within STUDIO_WORKER_TIMEOUT."""
        return self.filter(seen_at__gte=now - timedelta(seconds=settings.STUDIO_WORKER_TIMEOUT))


class Worker(models.Model):
    """A server process that holds agent sockets: one of the team's uvicorn workers, or the one
    process of runserver. Its heartbeat says it is alive; its sockets die with it."""

    objects = WorkerQuerySet.as_manager()

    # host-pid-random: a restarted process (same pid in a container) is another worker.
    id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.BigIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.id


class AgentSocket(models.Model):
    """A live /python socket of a run's agent, and the worker holding it.

    `Run.agent_sockets` counts these rows; both change together in `RunQuerySet`'s methods."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="sockets")
    # Socket.IO's id of the connection, unique among all workers (random).
    sid = models.CharField(max_length=64, unique=True)
    # A Worker's id, not a foreign key: a worker is recorded at its start and on a heartbeat,
    # and one whose row was dropped as silent records its sockets again after its next beat.
    worker = models.CharField(max_length=64)
    # The project token it connected with (team mode): revoking the token closes the socket.
    token = models.ForeignKey(
        "projects.ProjectToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_sockets"
    )
    connected_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.sid} of {self.run_id} on {self.worker}"


class ReplyManager(models.Manager):
    def upsert(self, *, run_id, reply_id, name, role, now):
        """Create the reply, or rename the one with the same (run, reply id); return its pk.

        One statement, as `MessageManager.upsert`: bulk_create(update_conflicts=...) was a big
        part of the CPU time of a pushMessage opening a reply (bench/findings.md#raw-upserts).
        """
        table = self.model._meta.db_table
        sql = (
            f"INSERT INTO {table} (run_id, reply_id, name, role, created_at, updated_at)"
            " VALUES (%(run_id)s, %(reply_id)s, %(name)s, %(role)s, %(now)s, %(now)s)"
            " ON CONFLICT (run_id, reply_id) DO UPDATE SET name = excluded.name, role = excluded.role,"
            " updated_at = excluded.updated_at RETURNING id"
        )
        params = {
            "run_id": run_id,
            "reply_id": reply_id,
            "name": name,
            "role": role,
            "now": connection.ops.adapt_datetimefield_value(now),
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]


class Reply(models.Model):
    """One agent reply: the messages pushed with the same replyId (or a lone message's id)."""

    objects = ReplyManager()

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="replies")
    reply_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "replies"
        constraints = [
            # Makes every push idempotent: the first message of a reply creates it, the rest reuse it.
            models.UniqueConstraint(fields=["run", "reply_id"], name="reply_unique_per_run"),
        ]
        indexes = [
            # The chat view pages replies newest first by id within a run.
            models.Index(fields=["run", "-id"], name="reply_run_newest_idx"),
        ]

    def __str__(self):
        return f"{self.name or '?'} reply {self.reply_id}"


# agentscope 1.x calls a tool with a tool_use block, the 2.0 content model with tool_call.
TOOL_CALL_TYPES = frozenset({"tool_use", "tool_call"})


def count_tool_calls(content):
    """The tool calls (tool_use, tool_call blocks) of a message's content."""
    if not isinstance(content, list):
        return 0
    return sum(1 for block in content if isinstance(block, dict) and block.get("type") in TOOL_CALL_TYPES)


class MessageManager(models.Manager):
    def upsert(self, *, run_id, reply_pk, msg_id, name, role, content, metadata, usage, client_timestamp, now):
        """Insert a message, or replace the one with the same (run, msg id); return its pk.

        One statement, the same on SQLite and PostgreSQL. It runs for every streaming chunk an
        agent prints, and the ORM's bulk_create(update_conflicts=...) costs several times more
        (bench/findings.md#raw-upserts).
        Named parameters: Django's SQLite backend rewrites "%s" with a regular expression on
        every call, "%(name)s" with Python's % operator.
        """
        table = self.model._meta.db_table
        sql = (
            f"INSERT INTO {table} (run_id, reply_id, msg_id, name, role, content, tool_calls, metadata, usage,"
            " client_timestamp, created_at, updated_at) VALUES (%(run_id)s, %(reply_id)s, %(msg_id)s, %(name)s,"
            " %(role)s, %(content)s, %(tool_calls)s, %(metadata)s, %(usage)s, %(client_timestamp)s, %(now)s,"
            " %(now)s)"
            " ON CONFLICT (run_id, msg_id) DO UPDATE SET reply_id = excluded.reply_id, name = excluded.name,"
            " role = excluded.role, content = excluded.content, tool_calls = excluded.tool_calls,"
            " metadata = excluded.metadata, usage = excluded.usage, client_timestamp = excluded.client_timestamp,"
            " updated_at = excluded.updated_at RETURNING id"
        )
        params = {
            "run_id": run_id,
            "reply_id": reply_pk,
            "msg_id": msg_id,
            "name": name,
            "role": role,
            "content": connection.ops.adapt_json_value(content, None),
            "tool_calls": count_tool_calls(content),
            "metadata": None if metadata is None else connection.ops.adapt_json_value(metadata, None),
            "usage": None if usage is None else connection.ops.adapt_json_value(usage, None),
            "client_timestamp": client_timestamp,
            "now": connection.ops.adapt_datetimefield_value(now),
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]


class Message(models.Model):
    """A Msg as the agent last sent it: re-sends of the same msg.id replace it (streaming)."""

    objects = MessageManager()

    # No indexes of their own: message_unique_per_run and message_reply_order_idx begin with
    # them (two index writes less for every streaming chunk).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="messages", db_index=False)
    reply = models.ForeignKey(Reply, on_delete=models.CASCADE, related_name="messages", db_index=False)
    msg_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    role = models.CharField(max_length=64, blank=True)
    # A string or a list of content blocks, exactly as sent.
    content = WrittenJSONField(default=list)
    # Its tool_use blocks, counted on every write: the details panel sums this column instead of
    # reading the JSON of every message of the run about once a second while a run streams.
    tool_calls = models.PositiveIntegerField(default=0, editable=False)
    metadata = WrittenJSONField(null=True, blank=True)
    # The model's token counts and time for this message, as the client reports them
    # (agentscope-java's ChatUsage: inputTokens, outputTokens, ..., time); shown in its details.
    usage = WrittenJSONField(null=True, blank=True)
    client_timestamp = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Later than created_at when the agent re-sent the message (streaming).
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Streaming re-sends of one msg.id upsert onto this key instead of appending.
            models.UniqueConstraint(fields=["run", "msg_id"], name="message_unique_per_run"),
        ]
        indexes = [
            # Messages of the replies on screen, in arrival order.
            models.Index(fields=["reply", "id"], name="message_reply_order_idx"),
            # Single-message view: a run's messages newest first.
            models.Index(fields=["run", "-id"], name="message_run_newest_idx"),
        ]

    def __str__(self):
        return f"{self.name or '?'}: {self.msg_id}"

    def save(self, *args, **kwargs):
        self.tool_calls = count_tool_calls(self.content)
        super().save(*args, **kwargs)

    @property
    def blocks(self):
        """Content as a list of blocks: a plain string becomes one text block."""
        if isinstance(self.content, str):
            return [{"type": "text", "text": self.content}]
        if isinstance(self.content, list):
            return self.content
        return [{"type": "unknown", "value": self.content}]


class InputRequestManager(models.Manager):
    def open(self, *, request_id, run_id, agent_id, agent_name, structured_input, now):
        """Create the pending request unless its id exists; return (pk, its run's id, created).

        One INSERT … ON CONFLICT DO NOTHING, as the message and reply upserts; get_or_create's
        SELECT, savepoint and INSERT were a big part of a requestUserInput's CPU time
        (bench/findings.md#raw-upserts).
        """
        table = self.model._meta.db_table
        sql = (
            f"INSERT INTO {table} (request_id, run_id, agent_id, agent_name, structured_input, status, created_at,"
            " answered_by) VALUES (%(request_id)s, %(run_id)s, %(agent_id)s, %(agent_name)s, %(structured_input)s,"
            " %(status)s, %(now)s, '') ON CONFLICT (request_id) DO NOTHING RETURNING id"
        )
        schema = None if structured_input is None else connection.ops.adapt_json_value(structured_input, None)
        params = {
            "request_id": request_id,
            "run_id": run_id,
            "agent_id": agent_id,
            "agent_name": agent_name,
            "structured_input": schema,
            "status": self.model.Status.PENDING,
            "now": connection.ops.adapt_datetimefield_value(now),
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is not None:
            return row[0], run_id, True
        pk, owner = self.filter(request_id=request_id).values_list("pk", "run_id").get()
        return pk, owner, False

    def unacknowledged(self, run_id=None, answered_before=None):
        """Answered requests whose agent has not acknowledged the answer: to be sent again."""
        requests = self.filter(status=self.model.Status.ANSWERED)
        if run_id is not None:
            requests = requests.filter(run_id=run_id)
        if answered_before is not None:
            # Only to an agent that is connected: one that is away gets them when it reconnects.
            requests = requests.filter(answered_at__lte=answered_before, run__agent_sockets__gt=0)
        return requests

    def acknowledged(self, pk):
        """The agent has the answer: the request is done. Returns whether it was waiting for it."""
        status = self.model.Status
        return bool(
            self.filter(pk=pk, status=status.ANSWERED).update(status=status.DELIVERED, delivered_at=timezone.now())
        )


class InputRequest(models.Model):
    """An agent waiting for a person: pending until answered, then until the agent acknowledges."""

    objects = InputRequestManager()

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ANSWERED = "answered", "Answered, not yet delivered"
        DELIVERED = "delivered", "Delivered"

    request_id = models.CharField(max_length=255, unique=True)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="input_requests")
    agent_id = models.CharField(max_length=255, blank=True)
    agent_name = models.CharField(max_length=255, blank=True)
    # A JSON Schema (pydantic model_json_schema()) for a structured answer, or null.
    structured_input = StorableJSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=255, blank=True)
    answer_blocks = StorableJSONField(null=True, blank=True)
    answer_structured = StorableJSONField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The run page's pending requests; redelivery on agent reconnect.
            models.Index(fields=["run", "status"], name="input_run_status_idx"),
        ]

    def __str__(self):
        return f"{self.agent_name or self.agent_id} asks ({self.status})"

    def record_answer(self, blocks, structured, answered_by, now):
        """Pending → answered (inside the caller's transaction, which holds the row locked and has
        checked the answer); the agent's acknowledgement then makes it delivered."""
        self.status = self.Status.ANSWERED
        self.answered_at = now
        self.answered_by = answered_by[:255]
        self.answer_blocks = blocks
        self.answer_structured = structured
        self.save(update_fields=["status", "answered_at", "answered_by", "answer_blocks", "answer_structured"])

    @property
    def schema_dom_id(self):
        """HTML id of the JSON script holding the schema (request ids may hold any character)."""
        return "schema-" + hashlib.sha1(self.request_id.encode()).hexdigest()[:12]
