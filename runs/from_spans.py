"""GenAI spans → run, replies, messages: the chat of a conversation that no studio client registered.

agentscope 2.x (and any program that follows the OpenTelemetry GenAI conventions) sends only
spans. Spans whose `gen_ai.conversation.id` names no registered run make a run with that id
(origin "otel") in the project named by `service.name`; the conversation's later spans then link
to it by that id like any run's (traces.ingest). Its chat is rebuilt from its stored spans:

- the input and output messages of its LLM spans, in time order. Each LLM call repeats the
  conversation so far in its input, so a part an earlier call already had is not shown again:
  text, reasoning and media are known by role and content (counted within each call, so that a
  thing said twice is shown twice), tool calls and results by their call id;
- the results of `execute_tool` spans (they carry the tool's name), else `tool_call_response`
  parts; a result is a message of its own, after its call, as a 1.x agent prints it;
- grouped into replies by their `invoke_agent` span: its span id is the reply's id, its agent
  the reply's name. Until that span arrives (it ends after its children, so it is exported
  last) a call's parent span id stands for it.

A message's id is derived from the conversation and its first part, so spans sent again, or
arriving late and in any order, upsert the same rows. Pure functions first (parts → content
blocks, spans → messages, no database); then the storing, after the spans' own transaction.
"""

import hashlib
import json
import logging
from collections import Counter
from datetime import UTC, datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from projects import events as project_events
from projects.models import Project
from studio import live
from studio.db import writing
from studio.rejected import Rejected
from traces import conventions
from traces import events as trace_events
from traces.models import Span, Trace

from . import events
from .content import validate_block
from .models import Message, Reply, Run

log = logging.getLogger(__name__)

CONVERSATION = "gen_ai.conversation.id"
CALL_OPERATIONS = (*conventions.LLM_OPERATIONS, conventions.TOOL_OPERATION)
MEDIA_KINDS = ("image", "audio", "video")
# System prompts are the program's instructions, repeated in every call: the span shows them.
HIDDEN_ROLES = ("system",)

# ---- parts → Studio content blocks (runs/content.py) ----


def _text(value):
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _media_kind(part):
    """image, audio or video, by the part's modality or else its media type; None if neither says."""
    media_type = part.get("media_type") or part.get("mime_type")
    for candidate in (part.get("modality"), media_type.split("/")[0] if isinstance(media_type, str) else None):
        if candidate in MEDIA_KINDS:
            return candidate
    return None


def _arguments(value):
    value = conventions.loads_or_value(value)
    if isinstance(value, dict):
        return value
    return {} if value in (None, "") else {"arguments": value}


def block_of(part, tool_names):
    """A GenAI message part as a content block; `tool_names` maps call ids to tool names."""
    if not isinstance(part, dict):
        return {"type": "text", "text": _text(part)}
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": _text(part.get("content"))}
    if kind == "reasoning":
        return {"type": "thinking", "thinking": _text(part.get("content"))}
    if kind == "tool_call":
        call_id = str(part.get("id") or "")
        return {
            "type": "tool_use",
            "id": call_id,
            "name": str(part.get("name") or ""),
            "input": _arguments(part.get("arguments")),
        }
    if kind == "tool_call_response":
        call_id = str(part.get("id") or "")
        return tool_result(call_id, tool_names.get(call_id, ""), part.get("response"))
    media = _media_kind(part)
    if kind == "blob" and media and isinstance(part.get("content"), str):
        media_type = str(part.get("media_type") or part.get("mime_type") or "application/octet-stream")
        return {"type": media, "source": {"type": "base64", "media_type": media_type, "data": part["content"]}}
    if kind == "uri" and media and isinstance(part.get("uri"), str):
        return {"type": media, "source": {"type": "url", "url": part["uri"]}}
    # Shown as JSON; the prefix keeps it from passing for a Studio block of the same name.
    return {"type": f"genai.{kind or 'part'}", "part": part}


def tool_result(call_id, name, value):
    return {"type": "tool_result", "id": call_id, "name": name, "output": _tool_output(value)}


def _tool_output(value):
    if value is None:
        return ""  # a tool span without its result (one that failed has an exception event)
    value = conventions.loads_or_value(value)
    # agentscope 2.x's ToolResponse: {"content": [blocks], "state", "metadata", "id"}.
    if isinstance(value, dict) and isinstance(value.get("content"), list):
        value = value["content"]
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_output_block(block) for block in value]
    return _text(value)


def _output_block(block):
    """A block of a tool's output: agentscope's own blocks are Studio's, less their bookkeeping."""
    if isinstance(block, dict):
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            return {"type": "text", "text": block["text"]}
        source = block.get("source")
        if kind == "data" and isinstance(source, dict):
            media = _media_kind(source)
            if media:
                block = {"type": media, "source": source}
        elif "content" in block and "text" not in block:
            return block_of(block, {})
    try:
        validate_block(block, "output")
    except Rejected:
        return {"type": "genai.output", "part": block}
    return block


# ---- spans → messages ----


def _messages_of(attributes, name):
    """(role, name, parts) of a GenAI messages attribute."""
    value = conventions.loads_or_value(attributes.get(name))
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    found = []
    for message in value:
        if not isinstance(message, dict):
            continue
        parts = message.get("parts")
        if parts is None and "content" in message:
            parts = [{"type": "text", "content": message["content"]}]
        if isinstance(parts, list):
            found.append((str(message.get("role") or ""), str(message.get("name") or ""), parts))
    return found


def _identity(role, part, counts):
    """What makes a part the same one when a later call repeats it."""
    if isinstance(part, dict) and part.get("id") and part.get("type") in ("tool_call", "tool_call_response"):
        return (part["type"], str(part["id"]))
    digest = hashlib.sha1(json.dumps(part, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    base = (role, part.get("type") if isinstance(part, dict) else "", digest)
    counts[base] += 1
    return (*base, counts[base])


def _reply_of(span, tree):
    """The span id of the call's agent span: its nearest invoke_agent ancestor, else the first
    ancestor not stored yet (most likely that agent span), else the root of its trace."""
    current, parent_id = span["span_id"], span["parent_span_id"]
    for _ in range(64):
        if not parent_id:
            return current
        parent = tree.get(parent_id)
        if parent is None or parent["operation"] == conventions.AGENT_OPERATION:
            return parent_id
        current, parent_id = parent_id, parent["parent_span_id"]
    return current


def chat_of(spans, history_stored=False):
    """The chat of a conversation's spans: ({reply span id: agent name}, messages in order).

    `spans`: plain dicts with span_id, parent_span_id, start_time_ns, operation, agent_name and,
    for LLM and tool spans, attributes. A message: {key, reply, name, role, content, time_ns}.
    With `history_stored`, the calls up to the first LLM call are only taken as already shown:
    the caller read just the latest calls and the one before them, whose messages are stored.
    """
    tree = {span["span_id"]: span for span in spans}
    calls = sorted(
        (span for span in spans if span["operation"] in CALL_OPERATIONS),
        key=lambda span: (span["start_time_ns"], span["span_id"]),
    )
    tool_names = {}
    for span in calls:
        if span["operation"] == conventions.TOOL_OPERATION:
            call_id = span["attributes"].get("gen_ai.tool.call.id")
            if isinstance(call_id, str) and call_id:
                tool_names[call_id] = str(span["attributes"].get("gen_ai.tool.name") or "")
    replies, messages, seen = {}, [], set()
    seeding = history_stored

    for span in calls:
        reply = _reply_of(span, tree)
        agent = tree.get(reply, {}).get("agent_name") or ""
        if agent:
            replies[reply] = agent
        else:
            replies.setdefault(reply, "")

        def emit(identity, name, role, blocks, reply=reply, time_ns=span["start_time_ns"]):
            message = {"key": identity, "reply": reply, "name": name, "role": role, "content": blocks}
            messages.append({**message, "time_ns": time_ns})

        attributes = span["attributes"]
        if span["operation"] == conventions.TOOL_OPERATION:
            call_id = str(attributes.get("gen_ai.tool.call.id") or span["span_id"])
            identity = ("tool_call_response", call_id)
            if identity not in seen:
                seen.add(identity)
                if seeding:
                    continue
                name = tool_names.get(call_id, "")
                emit(identity, name, "tool", [tool_result(call_id, name, attributes.get("gen_ai.tool.call.result"))])
            continue

        counts = Counter()
        show, seeding = not seeding, False
        for attribute in ("gen_ai.input.messages", "gen_ai.output.messages"):
            for role, name, parts in _messages_of(attributes, attribute):
                if role == "assistant" and name and not replies[reply]:
                    replies[reply] = name  # the agent's own name, until its span arrives
                fresh = []
                for part in parts:
                    identity = _identity(role, part, counts)
                    if identity in seen:
                        continue
                    seen.add(identity)
                    if not show or role in HIDDEN_ROLES:
                        continue
                    block = block_of(part, tool_names)
                    if block["type"] == "tool_use":
                        tool_names.setdefault(block["id"], block["name"])
                    if block["type"] == "tool_result":
                        if fresh:
                            emit(fresh[0][0], name, role, [b for _, b in fresh])
                            fresh = []
                        emit(identity, name, role, [block])
                    else:
                        fresh.append((identity, block))
                if fresh:
                    emit(fresh[0][0], name, role, [b for _, b in fresh])

    for message in messages:
        if not message["name"]:
            agent = replies.get(message["reply"]) or ""
            message["name"] = agent if message["role"] == "assistant" and agent else message["role"]
    return {key: name or "assistant" for key, name in replies.items()}, messages


MESSAGE_ID_PREFIX = "otel-"


def message_id(conversation_id, key):
    return MESSAGE_ID_PREFIX + hashlib.sha1(json.dumps([conversation_id, *key]).encode()).hexdigest()


# ---- storing ----

# LLM and tool spans a rebuild shows: the latest ones; the messages of earlier calls stay as
# stored. Each call repeats the conversation, so this bounds the work of a long one.
MAX_CALLS = 50


def conversations_stored(spans, keys):
    """After traces.ingest.store: rebuild the chat of each GenAI conversation the spans belong to
    that no studio client registered (`keys`: conventions.run_key of each span)."""
    conversations = {}
    for span, (key, names_a_run) in zip(spans, keys, strict=True):
        if key and not names_a_run and isinstance(span["attributes"].get(CONVERSATION), str):
            conversations.setdefault(key, (span, set()))[1].add(span["trace_id"])
    if not conversations:
        return
    registered = set(Run.objects.filter(pk__in=conversations, origin=Run.Origin.STUDIO).values_list("pk", flat=True))
    for key, (span, trace_ids) in conversations.items():
        if key in registered:
            continue
        try:
            rebuild(key, conventions.service(span)[0], trace_ids)
        except Exception:
            # The spans are stored: the exporter must not send them again for this. The next
            # batch of the conversation rebuilds its chat.
            log.exception("rebuilding the chat of conversation %r from its spans failed", key)


def rebuild(conversation_id, project_name, trace_ids):
    """Make or refresh the conversation's run, link its spans, and store its chat (one transaction)."""
    now = timezone.now()
    with writing():
        project, _ = Project.objects.get_or_create(name=project_name)
        run, changed = Run.objects.conversation_active(conversation_id, project.pk, "", now)
        if run is None:
            return  # registered meanwhile: a studio run keeps the messages its agent pushed
        Project.objects.filter(pk=run.project_id).update(last_activity_at=now)
        live.publish_on_commit(project_events.project_active(run.project_id))
        # The batch's spans went to the project before the run existed, or to another
        # conversation's run of the same process (traces.ingest links a span that names no run
        # to its process's run): their traces are this conversation's.
        elsewhere = Q(run__isnull=True) | Q(run__origin=Run.Origin.OTEL)
        spans = Span.objects.filter(elsewhere, trace_id__in=trace_ids).exclude(run=run)
        if spans.update(run=run, project_id=run.project_id):
            Trace.objects.filter(elsewhere, trace_id__in=trace_ids).update(run=run)
        live.publish_on_commit(trace_events.spans_changed(run.pk, run.project_id))

        calls = list(
            Span.objects.filter(run=run, operation__in=CALL_OPERATIONS)
            .order_by("-start_time_ns")
            .values("span_id", "parent_span_id", "start_time_ns", "operation", "agent_name", "attributes", "trace_id")[
                : MAX_CALLS + 1
            ]
        )
        # One call more than are shown: the one before them says what they repeat.
        truncated = len(calls) > MAX_CALLS
        others = Span.objects.filter(run=run, trace_id__in={call["trace_id"] for call in calls}).exclude(
            operation__in=CALL_OPERATIONS
        )
        tree = list(
            others.values("span_id", "parent_span_id", "start_time_ns", "operation", "agent_name", "message_id")
        )
        replies, messages = chat_of(calls + tree, history_stored=truncated)

        agents = [replies[message["reply"]] for message in messages] or ["agent"]
        name = f"{agents[0]} · {conversation_id[:8]}"[:255]
        if run.name != name:
            Run.objects.filter(pk=run.pk).update(name=name)
            run.name, changed = name, True
        last_of_reply = _store_chat(run, replies, messages, reorder=not truncated, now=now)
        # The reply's Spans button finds its agent span by the message it returned.
        for span in tree:
            msg_id = last_of_reply.get(span["span_id"])
            if span["operation"] == conventions.AGENT_OPERATION and msg_id and span["message_id"] != msg_id:
                Span.objects.filter(run=run, span_id=span["span_id"]).update(message_id=msg_id)
        if changed:
            live.publish_on_commit(events.run_changed(run))


def _common_prefix(stored, wanted):
    count = 0
    for have, want in zip(stored, wanted, strict=False):
        if have != want:
            break
        count += 1
    return count


def _store_chat(run, replies, messages, reorder, now):
    """Upsert the replies and messages; return {reply id: its last message's msg_id}.

    The chat shows replies and messages in the order of their rows. Spans that arrive late can
    put a message before ones already stored: those from there on are deleted and stored again,
    in order; open pages are told to take the deleted ones out first.
    """
    conversation_id = run.pk
    order = list(dict.fromkeys(message["reply"] for message in messages))
    # Only what spans made is rebuilt: a message an agent pushed (and its reply) stays.
    pushed = Message.objects.filter(reply=OuterRef("pk")).exclude(msg_id__startswith=MESSAGE_ID_PREFIX)
    replies_made = Reply.objects.filter(run=run).exclude(Exists(pushed))
    stored = list(replies_made.order_by("pk").values_list("reply_id", "pk", "name"))
    wanted = [message_id(conversation_id, message["key"]) for message in messages]
    rows = (
        Message.objects.filter(run=run, msg_id__startswith=MESSAGE_ID_PREFIX)
        .order_by("pk")
        .values_list("msg_id", "pk", "reply_id", "name", "role", "content")
    )
    have = list(rows)
    removed_replies, removed_messages = [], []
    if reorder:
        keep = _common_prefix([reply_id for reply_id, _, _ in stored], order)
        removed_replies = [pk for _, pk, _ in stored[keep:]]
        stored = stored[:keep]
        keep = _common_prefix([row[0] for row in have], wanted)
        removed_messages = [row[1] for row in have[keep:]]
        have = have[:keep]
        # A reply deleted takes its messages with it.
        gone = set(removed_replies)
        removed_messages += [row[1] for row in have if row[2] in gone]
        have = [row for row in have if row[2] not in gone]
    if removed_messages or removed_replies:
        Message.objects.filter(pk__in=removed_messages).delete()
        Reply.objects.filter(pk__in=removed_replies).delete()
        live.publish_on_commit(events.chat_removed(run, removed_replies, removed_messages))
    reply_pks = {reply_id: (pk, name) for reply_id, pk, name in stored}
    for reply_id in order:
        pk, name = reply_pks.get(reply_id, (None, None))
        if name != replies[reply_id]:
            pk = Reply.objects.upsert(
                run_id=run.pk, reply_id=reply_id, name=replies[reply_id], role="assistant", now=now
            )
        reply_pks[reply_id] = (pk, replies[reply_id])

    have = {row[0]: row[1:] for row in have}
    last_of_reply = {}
    for msg_id, message in zip(wanted, messages, strict=True):
        reply_pk = reply_pks[message["reply"]][0]
        last_of_reply[message["reply"]] = msg_id
        values = (reply_pk, message["name"], message["role"], message["content"])
        if msg_id in have and have[msg_id][1:] == values:
            continue
        pk = Message.objects.upsert(
            run_id=run.pk,
            reply_pk=reply_pk,
            msg_id=msg_id,
            name=message["name"][:255],
            role=message["role"][:64],
            content=message["content"],
            metadata=None,
            usage=message.get("usage"),
            client_timestamp=_timestamp(message["time_ns"]),
            now=now,
        )
        live.publish_on_commit(events.message_changed(run, reply_pk, pk))
    return last_of_reply


def _timestamp(time_ns):
    return datetime.fromtimestamp(time_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
