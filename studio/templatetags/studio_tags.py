"""Template filters for showing what agents send: Markdown made safe, JSON made readable.

Everything here treats its input as hostile: Markdown is rendered with raw HTML disabled and
then sanitized by nh3 (an allow-list; no script, no event handler, no javascript: URL), and
media URLs must be http(s).
"""

import json
import zlib
from datetime import UTC, datetime
from urllib.parse import urlsplit

import nh3
from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

from studio import formatting, htmx

register = template.Library()

# Shared with Python code that shows the same values: defined in studio/formatting.py.
register.filter("dom_id", formatting.dom_id)
register.filter("duration", formatting.duration)
register.filter("ns_duration", formatting.ns_duration)

# Past this a text block or JSON is cut on the page (the message's full JSON link has all of it).
MAX_TEXT_CHARS = 20_000
MAX_JSON_CHARS = 20_000

# "breaks": a new line in a message is a new line on the page, as in any chat (CommonMark
# would join the lines of a paragraph).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)
_ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
_URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(html):
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


class _Nothing(template.Node):
    def render(self, context):
        return ""


@register.tag
def htmx_partial(parser, token):
    """`{% htmx_partial name %}`: an htmx request for this page that targets #name gets only the
    partial `name`, not the whole page (studio/htmx.py)."""
    try:
        _, name = token.split_contents()
    except ValueError:
        raise template.TemplateSyntaxError("htmx_partial takes the name of one partial") from None
    htmx.declare(parser, name)
    return _Nothing()


@register.simple_tag
def max_answer_bytes():
    """The largest answer the server takes (STUDIO_MAX_ANSWER_BYTES): the page checks it first."""
    return settings.STUDIO_MAX_ANSWER_BYTES


@register.filter
def markdown(text):
    """Markdown to sanitized HTML; overly long text is cut with a note."""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    note = ""
    if len(text) > MAX_TEXT_CHARS:
        note = (
            f'<p class="cut">… {len(text) - MAX_TEXT_CHARS:,} more characters (click the message for its full JSON)</p>'
        )
        text = text[:MAX_TEXT_CHARS]
    return mark_safe(sanitize_html(_markdown.render(text)) + note)


@register.filter
def pretty_json(value):
    """Indented JSON, escaped; long values are cut."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_JSON_CHARS:
        text = text[:MAX_JSON_CHARS] + f"\n… {len(text) - MAX_JSON_CHARS:,} more characters"
    return escape(text)


@register.filter
def safe_media_url(url):
    """The URL if it is http(s), else empty: no javascript:, data: or file: sources on the page."""
    if not isinstance(url, str):
        return ""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url.strip() if scheme in ("http", "https") else ""


@register.filter
def media_version(block):
    """A short digest of a base64 block's data: its URL changes when (and only when) it does, so
    browsers may cache it while the message around it streams."""
    source = block.get("source") if isinstance(block, dict) else None
    data = source.get("data") if isinstance(source, dict) else None
    return f"{zlib.crc32(data.encode()):08x}" if isinstance(data, str) else "0"


@register.filter
def block_type(block):
    return block.get("type") if isinstance(block, dict) else "unknown"


# What the 2.0 content model's tool call states mean to a person watching the run.
_CALL_STATES = {
    "pending": "pending",
    "asking": "waiting for approval",
    "allowed": "approved",
    "submitted": "running elsewhere",
    "finished": "done",
}
_FAILED_RESULT_STATES = frozenset({"error", "interrupted", "denied"})


@register.filter
def block_state(block):
    """A 2.x call or result's state, or "" when it has none (agentscope 1.0's and Java's): read
    with .get, as `block.state` would raise and catch three exceptions inside the template
    engine for every block without one."""
    state = block.get("state") if isinstance(block, dict) else None
    return state if isinstance(state, str) else ""


@register.filter
def call_state(state):
    return _CALL_STATES.get(state, state) if isinstance(state, str) else ""


@register.filter
def result_failed(block):
    """A 2.x tool result that did not succeed (error, interrupted, denied)."""
    return isinstance(block, dict) and block.get("state") in _FAILED_RESULT_STATES


@register.filter
def media_kind(block):
    """'base64', 'url' or '' for a media block's source."""
    source = block.get("source") if isinstance(block, dict) else None
    return source.get("type", "") if isinstance(source, dict) else ""


# A data block's media shown on the page: kinds a browser displays without running anything
# (no SVG, no HTML); everything else is offered as a download.
_INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_EXTENSION_KINDS = {
    **dict.fromkeys(["png", "jpg", "jpeg", "gif", "webp"], "image"),
    **dict.fromkeys(["mp3", "wav", "ogg", "oga", "opus", "m4a", "aac", "flac", "weba"], "audio"),
    **dict.fromkeys(["mp4", "webm", "ogv", "mov", "m4v"], "video"),
}


def _kind_of_media_type(media_type):
    media_type = media_type.split(";")[0].strip().lower()
    if media_type in _INLINE_IMAGE_TYPES:
        return "image"
    if media_type.startswith(("audio/", "video/")):
        return media_type.split("/")[0]
    return "file"


def _kind_of_name(name):
    if not isinstance(name, str) or "." not in name:
        return None
    return _EXTENSION_KINDS.get(name.rsplit(".", 1)[1].lower())


@register.filter
def data_kind(block):
    """'image', 'audio', 'video' or 'file' for a data block: by its base64 media type, else by
    the type a URL source declares (Java `mime_type`, Python `media_type`), else by the
    extension of the URL's path or of the block's name."""
    source = block.get("source") if isinstance(block, dict) else None
    if not isinstance(source, dict):
        return "file"
    declared = source.get("media_type") or source.get("mime_type")
    if isinstance(declared, str) and declared.strip():
        return _kind_of_media_type(declared)
    if source.get("type") != "url":
        return "file"
    url = source.get("url")
    try:
        path = urlsplit(url).path if isinstance(url, str) else ""
    except ValueError:
        path = ""
    return _kind_of_name(path) or _kind_of_name(block.get("name")) or "file"


# A message's usage under the names clients give it: agentscope-java's ChatUsage is camelCase,
# Python's snake_case; compared without case or underscores.
_USAGE_LABELS = {
    "inputtokens": "Input tokens",
    "outputtokens": "Output tokens",
    "cachedtokens": "Cached tokens",
    "totaltokens": "Total tokens",
    "time": "Time",
}


def _usage_value(key, value):
    if key == "time" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f} s"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@register.filter
def usage_facts(usage):
    """A message's usage as (label, value) rows, the known counts first, then the rest as sent."""
    if not isinstance(usage, dict):
        return []
    known, other = {}, []
    for key, value in usage.items():
        plain = str(key).replace("_", "").lower()
        if plain in _USAGE_LABELS:
            known[plain] = (_USAGE_LABELS[plain], _usage_value(plain, value))
        else:
            other.append((str(key), _usage_value(key, value)))
    return [known[key] for key in _USAGE_LABELS if key in known] + other


@register.filter
def usage_summary(usage):
    """One line for the chat: tokens in and out, and time, when the usage has them."""
    facts = dict(usage_facts(usage))
    parts = [
        f"{facts[label]} {word}"
        for label, word in (("Input tokens", "tokens in"), ("Output tokens", "out"))
        if label in facts
    ]
    if "Time" in facts:
        parts.append(facts["Time"])
    return " · ".join(parts)


@register.filter
def is_text(value):
    return isinstance(value, str)


@register.filter
def ns_ms(nanoseconds):
    """Nanoseconds since the epoch as milliseconds with µs precision, for the waterfall's script."""
    return f"{int(nanoseconds) // 1000 / 1000:.3f}"


@register.filter
def ns_time(nanoseconds):
    """A span time as a UTC datetime (what `|date` formats)."""
    return datetime.fromtimestamp(int(nanoseconds) // 1000 / 1e6, tz=UTC)


@register.filter
def ns_iso(nanoseconds):
    """A span time exactly, to the nanosecond, in UTC."""
    seconds, rest = divmod(int(nanoseconds), 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{rest:09d} UTC"


@register.filter
def label_class(label):
    """A CSS class for a span's label (agent, LLM, tool, ...)."""
    return "op-" + "".join(ch for ch in str(label).lower() if ch.isalnum())


@register.filter
def get_item(mapping, key):
    """mapping[key] for keys templates cannot spell (attribute names with dots)."""
    return mapping.get(key, "") if isinstance(mapping, dict) else ""


@register.filter
def subtract(value, other):
    try:
        return int(value) - int(other)
    except (TypeError, ValueError):
        return None
