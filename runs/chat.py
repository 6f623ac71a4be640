"""What the chat view shows: a bounded window of a run, newest last.

Nothing here grows with the size of the run: a page is at most REPLIES_PER_PAGE replies with
at most MESSAGES_PER_REPLY messages each (or MESSAGES_PER_PAGE single messages), fetched in a
fixed number of queries. Older parts load on scroll.
"""

from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber

from .models import InputRequest, Message, Reply

REPLIES_PER_PAGE = 20
MESSAGES_PER_REPLY = 20
MESSAGES_PER_PAGE = 50

GROUP_BY_REPLY = "reply"
GROUP_BY_MESSAGE = "message"


def replies_page(run, before=None):
    """The newest replies older than `before` (a reply pk), oldest first, with their newest messages."""
    replies = Reply.objects.filter(run=run).annotate(message_count=Count("messages"))
    if before is not None:
        replies = replies.filter(pk__lt=before)
    replies = list(replies.order_by("-pk")[: REPLIES_PER_PAGE + 1])
    has_older = len(replies) > REPLIES_PER_PAGE
    replies = replies[:REPLIES_PER_PAGE][::-1]
    attach_messages(replies)
    return replies, has_older


def attach_messages(replies):
    """Give each reply `.shown` (its newest messages, in order) and `.hidden_count`."""
    if not replies:
        return
    newest = Window(RowNumber(), partition_by=F("reply_id"), order_by=F("pk").desc())
    rows = (
        Message.objects.filter(reply__in=[r.pk for r in replies])
        .annotate(newest_rank=newest)
        .filter(newest_rank__lte=MESSAGES_PER_REPLY)
        .order_by("pk")
    )
    by_reply = {r.pk: r for r in replies}
    for reply in replies:
        reply.shown = []
    for message in rows:
        reply = by_reply[message.reply_id]
        message.reply = reply
        reply.shown.append(message)
    for reply in replies:
        count = getattr(reply, "message_count", len(reply.shown))
        reply.hidden_count = max(count - len(reply.shown), 0)


def has_newer(run, group, message):
    """Whether the newest page leaves `message` (or, by reply, its reply) out."""
    if group == GROUP_BY_MESSAGE:
        return Message.objects.filter(run=run, pk__gt=message.pk)[:MESSAGES_PER_PAGE].count() >= MESSAGES_PER_PAGE
    return Reply.objects.filter(run=run, pk__gt=message.reply_id)[:REPLIES_PER_PAGE].count() >= REPLIES_PER_PAGE


def earlier_messages(reply, before):
    """Up to MESSAGES_PER_PAGE messages of a reply older than `before`, in order."""
    messages = list(reply.messages.filter(pk__lt=before).order_by("-pk")[: MESSAGES_PER_PAGE + 1])
    has_older = len(messages) > MESSAGES_PER_PAGE
    messages = messages[:MESSAGES_PER_PAGE][::-1]
    for message in messages:
        message.reply = reply
    return messages, has_older


def messages_page(run, before=None):
    """Single-message view: the newest messages older than `before` (a message pk), oldest first."""
    messages = Message.objects.filter(run=run).select_related("reply")
    if before is not None:
        messages = messages.filter(pk__lt=before)
    messages = list(messages.order_by("-pk")[: MESSAGES_PER_PAGE + 1])
    has_older = len(messages) > MESSAGES_PER_PAGE
    return messages[:MESSAGES_PER_PAGE][::-1], has_older


def pending_requests(run):
    return list(run.input_requests.filter(status=InputRequest.Status.PENDING).order_by("pk"))


def run_counts(run):
    """Replies, messages and tool calls of a run, for the details panel."""
    messages = Message.objects.filter(run=run).aggregate(messages=Count("pk"), tool_calls=Sum("tool_calls"))
    return {
        "replies": Reply.objects.filter(run=run).count(),
        "messages": messages["messages"],
        "tool_calls": messages["tool_calls"] or 0,
    }
