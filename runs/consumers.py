"""The live WebSockets of a project's runs: the project page's run list, and the run page (that
list beside one run's chat, status, input requests and spans), which also takes the person's
answers to input requests (docs/WEBSOCKET.md)."""

import logging
from urllib.parse import parse_qs

from django.template.loader import render_to_string

from projects import access
from projects.events import project_group
from studio.consumers import PageConsumer
from studio.rejected import Rejected
from traces.live_render import last_span_pk, render_spans_update

from . import answers, chat
from .events import run_group
from .models import Message, Run

log = logging.getLogger(__name__)


class ProjectRunsConsumer(PageConsumer):
    """/ws/projects/<pk>/runs/: a project page without a chosen run, which shows its run list."""

    def setup(self):
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        if not self.may_see(project_id):
            return False
        self.groups_to_join = [project_group(project_id)]
        return True

    def may_see(self, project_id):
        """Whether the person may see the project; what the page offers them, as of now."""
        if not self.may(project_id, access.VIEW):
            return False
        self.may_manage = self.may(project_id, access.MANAGE)
        self.may_answer = self.may(project_id, access.ANSWER)
        return True

    def render(self, event):
        if event.get("kind") != "run":
            return ""
        if event.get("deleted"):
            return self.render_run_deleted(event["run"])
        run = Run.objects.select_related("project").filter(pk=event["run"]).first()
        return "" if run is None else self.render_run(run)

    def render_run_deleted(self, run_id):
        return render_to_string("runs/run.html#run-row-removed", {"run_id": run_id})

    def render_run(self, run):
        context = {"item": run, "current_run_id": None, "may_manage": self.may_manage}
        return render_to_string("runs/run.html#run-row", context)


class RunConsumer(ProjectRunsConsumer):
    """/ws/runs/<run_id>/?group=reply|message: the run page, its project's run list beside it."""

    def setup(self):
        query = parse_qs(self.scope["query_string"].decode())
        self.group_mode = (query.get("group") or [chat.GROUP_BY_REPLY])[0]
        self.run_id = self.scope["url_route"]["kwargs"]["run_id"]
        self.counts = None  # the details panel's, as last counted
        self.requests_live = None  # run.is_live as the page's input requests last showed it
        self.replies_sent = set()  # the replies whose bubble this socket has sent
        # Sent before each message: rendered once, it is the same every time.
        self.placeholder_gone = render_to_string("runs/run.html#chat-empty-removed")
        run = Run.objects.filter(pk=self.run_id).first()
        if run is None or not self.may_see(run.project_id):
            return False
        self.project_id = run.project_id
        self.run_group = run_group(run.pk)
        self.groups_to_join = [self.run_group, project_group(run.project_id)]
        # Spans after this one are news to the page (it loads its trace panel itself).
        self.spans_seen = last_span_pk(run.pk)
        return True

    # ---- what the page receives ----

    # The details panel counts the whole run: refreshed at most about once a second while
    # messages stream, and once more after the last one.
    DETAILS_DELAY = 1.0
    # Spans come in batches (agentscope's exporter: every few seconds); statistics are
    # recomputed per update, so bursts from several exporters are gathered first.
    SPANS_DELAY = 0.3
    MAX_REPLIES_REMEMBERED = 10_000

    async def live_event(self, message):
        event = message["event"]
        if event.get("kind") == "run" and event.get("run") == self.run_id and message.get("group") != self.run_group:
            return  # its own run's event comes through the run's group too (this one: the project's)
        if event.get("kind") == "spans":
            if event.get("run") == self.run_id:
                self.render_soon(("spans", self.run_id), event, self.SPANS_DELAY)
            return
        await super().live_event(message)
        if event.get("kind") in ("message", "input") and event.get("run") == self.run_id:
            self.render_soon(("details", self.run_id), {"kind": "details", "run": self.run_id}, self.DETAILS_DELAY)

    def render(self, event):
        kind = event.get("kind")
        if kind == "run":
            return super().render(event)
        if event.get("run") != self.run_id:
            return ""
        if kind == "message":
            return self.render_message(event["message"])
        if kind == "removed":
            self.replies_sent.difference_update(event["replies"])
            return render_to_string("runs/run.html#chat-removed", event)
        if kind == "input":
            run = Run.objects.get(pk=self.run_id)
            return self.render_input_requests(run, chat.pending_requests(run))
        if kind == "details":
            run = Run.objects.select_related("project").get(pk=self.run_id)
            self.counts = chat.run_counts(run)
            return render_to_string("runs/run.html#run-details", {"run": run, "counts": self.counts})
        if kind == "spans":
            html, self.spans_seen = render_spans_update(self.run_id, self.spans_seen)
            return html
        return ""

    def render_input_requests(self, run, pending):
        self.requests_live = run.is_live
        context = {"run": run, "pending": pending, "may_answer": self.may_answer}
        return render_to_string("runs/run.html#input-requests", context)

    def render_message(self, message_pk):
        try:
            message = Message.objects.select_related("reply").get(pk=message_pk)
        except Message.DoesNotExist:
            return ""
        context = {"message": message, "run": message.run_id}
        placeholder_gone = self.placeholder_gone
        if self.group_mode == chat.GROUP_BY_MESSAGE:
            return placeholder_gone + render_to_string("runs/message_bubble.html", context)
        html = render_to_string("runs/message.html", context)
        if message.reply_id in self.replies_sent:
            return html
        # The reply's bubble, in case the page does not have it yet (it keeps the one it has),
        # then the message in it. Once per reply and socket: a streamed message is re-sent
        # hundreds of times, and the bubble cost more to render than the message.
        if len(self.replies_sent) >= self.MAX_REPLIES_REMEMBERED:
            self.replies_sent.clear()  # bounded; a bubble sent again is harmless (the page keeps its own)
        self.replies_sent.add(message.reply_id)
        reply = message.reply
        reply.shown, reply.hidden_count = [message], 0
        return placeholder_gone + render_to_string("runs/reply.html", {"reply": reply}) + html

    def render_run_deleted(self, run_id):
        html = super().render_run_deleted(run_id)
        if run_id == self.run_id:
            html += render_to_string("runs/run.html#run-header-deleted")
        return html

    def render_run(self, run):
        context = {"item": run, "current_run_id": self.run_id, "may_manage": self.may_manage}
        html = render_to_string("runs/run.html#run-row", context)
        if run.pk != self.run_id:
            return html
        # The counts change with messages, whose "details" refresh follows them: a change of
        # status shows the counts of the last refresh (two aggregate queries less).
        if self.counts is None:
            self.counts = chat.run_counts(run)
        context = {"run": run, "group": self.group_mode, "counts": self.counts}
        html += render_to_string("runs/run.html#run-header", context)
        html += render_to_string("runs/run.html#run-details", context)
        # The requests say whether the agent is still there to get an answer: again when that
        # changed ("input" events render them when they change).
        if run.is_live != self.requests_live:
            html += self.render_input_requests(run, chat.pending_requests(run))
        return html

    # ---- what the page sends ----

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """A frame that is not JSON text gets an error frame; the socket stays open."""
        if text_data is None:
            await self.send_json({"type": "error", "message": "Send JSON text frames, not binary ones"})
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):
            await self.send_json({"type": "error", "message": "The frame is not valid JSON"})
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "answer":
            await self.send_json({"type": "error", "message": "Unknown message type"})
            return
        request_id = content.get("requestId")
        if not isinstance(request_id, str):
            await self.send_json({"type": "answer.rejected", "requestId": None, "message": "requestId is missing"})
            return
        try:
            # As over HTTP: a structured answer may come without blocks.
            blocks = content.get("blocks", [])
            await answers.answer(
                self.run_id,
                request_id,
                blocks,
                content.get("structured"),
                answered_by=self.who(),
                from_page_socket=True,
                refusal=self.answering_refused if self.login_required else None,
            )
        except Rejected as exc:
            await self.send_json(
                {"type": "answer.rejected", "requestId": request_id, "message": exc.message, "errors": exc.errors}
            )
            return
        except Exception:
            # The page keeps its socket, and the person is told; the request stays as it was.
            log.exception("answering %r of run %r failed", request_id, self.run_id)
            await self.send_json(
                {
                    "type": "answer.rejected",
                    "requestId": request_id,
                    "message": "Studio could not take this answer (see its log); try again",
                    "errors": {},
                }
            )
            return
        await self.send_json({"type": "answer.accepted", "requestId": request_id})

    def answering_refused(self):
        """Sync, at the time of each answer: why this socket's person may not answer, or None.
        Their role may have been lowered, or they logged out, since the page was opened."""
        person = self.current_person()
        if not person.is_authenticated:
            return "You are logged out: log in again to answer"
        if not access.may(person, self.project_id, access.ANSWER):
            return "Your role in this project does not allow answering (members and admins answer)"
        return None

    def who(self):
        user = self.scope.get("user")
        if user is not None and getattr(user, "is_authenticated", False):
            return user.get_username()
        client = self.scope.get("client") or ("?", 0)
        return f"anonymous ({client[0]})"
