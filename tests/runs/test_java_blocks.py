"""How the run page shows what agentscope 2.x sends: hint and data blocks, upper-case roles.

Messages go in through /trpc/pushMessage as the Java client sends them
(tests/captures/agentscope-java-2.0-shaped.jsonl); the assertions are about what a person sees.
"""

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from runs import recording
from runs.models import Message, Reply, Run

pytestmark = pytest.mark.django_db

CAPTURE = Path(__file__).parents[1] / "captures" / "agentscope-java-2.0-shaped.jsonl"
RUN = "3f1c2a8e-5b7d-4e21-9a0c-java00000001"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32).decode()


@pytest.fixture(autouse=True)
def forget_recent_pushes():
    """The push shortcuts remember runs and replies per process; each test's database is new."""
    recording.recent.runs.clear()
    recording.recent.replies.clear()
    yield
    recording.recent.runs.clear()
    recording.recent.replies.clear()


def post(client, procedure, body):
    response = client.generic("POST", f"/trpc/{procedure}", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response


def replay_java_session(client):
    for line in CAPTURE.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "http":
            post(client, record["path"].rsplit("/", 1)[1], record["body"])
    return Run.objects.get(pk=RUN)


def push_java_message(client, content, role="ASSISTANT", msg_id="m1", reply_id="r1", reply_role=None):
    """One message as StudioClient.pushMessage sends it: legacy name/role, lower-cased."""
    reply_role = role.lower() if reply_role is None else reply_role
    if not Run.objects.filter(pk="java-run").exists():
        post(client, "registerRun", {"id": "java-run", "project": "Java", "name": "r", "timestamp": "", "pid": 1})
    msg = {"id": msg_id, "name": "Friday", "role": role, "content": content, "metadata": {}, "usage": None}
    post(
        client,
        "pushMessage",
        {"runId": "java-run", "replyId": reply_id, "name": "Friday", "role": reply_role, "msg": msg},
    )
    return Message.objects.get(run_id="java-run", msg_id=msg_id)


def page(client, run, group="reply"):
    response = client.get(reverse("run", args=[run.project.name, run.pk]) + f"?group={group}")
    assert response.status_code == 200
    return response.content.decode()


class Page(HTMLParser):
    """The tags of a page (with attributes) and the text inside each element with a class."""

    def __init__(self, html):
        super().__init__()
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def with_class(self, css_class):
        return [(t, a) for t, a in self.tags if css_class in (a.get("class") or "").split()]


def media_url(message, path):
    return reverse("message-media", args=[message.run_id, message.pk, path])


@pytest.mark.parametrize("group", ["reply", "message"])
def test_a_hint_shows_its_text_rendered_like_text_and_where_it_came_from(client, group):
    html = page(client, replay_java_session(client), group)
    assert (
        '<span class="hint-tag">hint</span> <span class="muted">from</span> <strong class="hint-source">rag</strong>'
        in html
    )
    assert "Retrieved passage: <strong>Q3 revenue</strong> grew 12% (doc <code>finance.md</code>)." in html
    # The middleware's reminder has no source: it is shown without one.
    assert "Reminder: answer in one short paragraph." in html
    assert "hint block" not in html and "data block" not in html and '"type": "hint"' not in html


def test_a_hint_of_text_and_data_blocks_shows_each_as_it_would_be_alone(client):
    message = push_java_message(
        client,
        [
            {
                "type": "hint",
                "id": "h1",
                "source": "background task",
                "hint": [
                    {"type": "text", "id": "t1", "text": "The *plot* is ready:"},
                    {
                        "type": "data",
                        "id": "d1",
                        "name": "plot.png",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            }
        ],
    )
    html = page(client, message.run)
    assert "The <em>plot</em> is ready:" in html
    [img] = [a for a in Page(html).find("img") if a["src"].startswith(media_url(message, "0.1"))]
    assert "plot.png" in img["alt"]
    served = client.get(img["src"])
    assert (served.status_code, served["Content-Type"], served.content) == (200, "image/png", base64.b64decode(PNG))


def test_data_blocks_show_as_the_media_they_are_or_as_a_download(client):
    run = replay_java_session(client)
    html = page(client, run)
    tags = Page(html)
    answer = Message.objects.get(run=run, msg_id="c0ffee0000000000000000000000a002")
    question = Message.objects.get(run=run, msg_id="c0ffee0000000000000000000000u001")
    # base64 image/png: an <img> served from the message, by the media type.
    assert [a["src"].split("?")[0] for a in tags.find("img")] == [media_url(question, "1"), media_url(answer, "1")]
    # URL sources: audio by the URL's extension, video by Java's mime_type (the URL has none).
    assert tags.find("audio", src="https://example.com/media/reading.mp3")
    assert tags.find("video", src="https://cdn.example.com/v/8f2e")
    # Other types are a download link with the block's name, base64 ones served by the server...
    [csv] = tags.find("a", download="revenue.csv")
    assert csv["href"].split("?")[0] == media_url(answer, "4") and "revenue.csv</a>" in html
    served = client.get(csv["href"])
    assert served["Content-Type"] == "application/octet-stream" and served.content == b"quarter,revenue\nQ3,4.2\n"
    # ...URL ones (a PDF inside a tool result) linked where they are.
    [pdf] = tags.find("a", download="q3.pdf")
    assert pdf["href"] == "https://example.com/reports/q3.pdf" and pdf["rel"] == "noopener noreferrer nofollow"


HOSTILE = [
    {
        "type": "hint",
        "hint": "<script>window.pwned=1</script> [x](javascript:alert(1))",
        "source": "<img src=x onerror=alert(1)>",
    },
    {
        "type": "data",
        "name": "page.html",
        "source": {
            "type": "base64",
            "media_type": "text/html",
            "data": base64.b64encode(b"<script>alert(1)</script>").decode(),
        },
    },
    {
        "type": "data",
        "name": "logo.svg",
        "source": {
            "type": "base64",
            "media_type": "image/svg+xml",
            "data": base64.b64encode(b"<svg onload=alert(1)/>").decode(),
        },
    },
    {"type": "data", "name": "a.png", "source": {"type": "url", "url": "javascript:alert(1)//a.png"}},
    {"type": "data", "name": "b.png", "source": {"type": "url", "url": "data:image/png;base64,AAAA"}},
    {
        "type": "data",
        "name": '"><script>alert(1)</script>.png',
        "source": {"type": "url", "url": "https://x.test/c.png"},
    },
    {"type": "data", "name": "d.svg", "source": {"type": "url", "url": "https://x.test/d.svg"}},
    {"type": "data", "source": {"type": "url", "url": "https://x.test/e", "mime_type": "text/html"}},
]


@pytest.mark.parametrize("group", ["reply", "message"])
def test_hostile_hint_and_data_blocks_render_inert(client, group):
    message = push_java_message(client, HOSTILE)
    html = page(client, message.run, group)
    tags = Page(html)
    for tag, attrs in tags.tags:
        assert tag not in ("iframe", "svg", "object", "embed")
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, attrs)
            if name in ("href", "src"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (tag, attrs)
    assert "<script>alert" not in html and "<script>window" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the hint's source, as text
    # HTML and SVG are never shown inline: downloads, and served as bytes that cannot run.
    for path, name in (("1", "page.html"), ("2", "logo.svg")):
        [link] = tags.find("a", download=name)
        assert link["href"].split("?")[0] == media_url(message, path)
        served = client.get(link["href"])
        assert served["Content-Type"] == "application/octet-stream" and "sandbox" in served["Content-Security-Policy"]
    # Only the https image is an <img>; the javascript: and data: URLs are shown as text.
    assert [a["src"] for a in tags.find("img")] == ["https://x.test/c.png"]
    assert "with an unsupported URL: <code>javascript:alert(1)//a.png</code>" in html
    assert "with an unsupported URL: <code>data:image/png;base64,AAAA</code>" in html
    # An SVG or HTML URL is a link to download, not an image.
    assert tags.find("a", href="https://x.test/d.svg", download="d.svg") and tags.find("a", href="https://x.test/e")


def test_upper_case_roles_are_grouped_and_styled_like_lower_case_ones(client):
    run = replay_java_session(client)
    by_reply = Page(page(client, run, "reply"))
    by_message = Page(page(client, run, "message"))
    user = Reply.objects.get(run=run, messages__role="USER")
    assistant = Reply.objects.get(run=run, messages__msg_id="c0ffee0000000000000000000000a001")
    [user_reply] = by_reply.find("article", id=f"reply-{user.pk}")
    [assistant_reply] = by_reply.find("article", id=f"reply-{assistant.pk}")
    assert "from-user" in user_reply["class"].split() and "from-user" not in assistant_reply["class"].split()
    [user_bubble] = by_message.find("article", id=f"msg-{user.messages.get().pk}")
    assert "from-user" in user_bubble["class"].split()
    roles = {a["class"] for _, a in by_reply.with_class("message")}
    assert roles == {"message role-user", "message role-assistant", "message role-tool", "message role-system"}
    # The message's role differs from its reply's only in case: no second name line.
    assert not by_reply.with_class("msg-who")
    html = page(client, run, "reply")
    assert '<span class="role">assistant</span>' in html and "ASSISTANT" not in html.split('id="inspector"')[0]


def test_an_upper_case_user_reply_shows_like_a_lower_case_one(client):
    lower = push_java_message(client, "hi", role="user", msg_id="a", reply_id="ra")
    upper = push_java_message(client, "hi", role="USER", msg_id="b", reply_id="rb", reply_role="USER")
    html = page(client, lower.run)

    def reply_tag(message):
        [tag] = Page(html).find("article", id=f"reply-{message.reply_id}")
        return tag["class"]

    assert reply_tag(lower) == reply_tag(upper)
    # A person's message has no "Spans" button, whatever the case of its role.
    assert html.count("reply-spans") == 0


def test_a_messages_usage_is_in_its_bubble_and_in_its_details(client):
    run = replay_java_session(client)
    message = Message.objects.get(run=run, msg_id="c0ffee0000000000000000000000a001")
    assert "1,234 tokens in · 56 out · 1.73 s</div>" in page(client, run)
    inspector = client.get(reverse("message-inspector", args=[run.pk, message.pk])).content.decode()
    for label, value in [
        ("Input tokens", "1,234"),
        ("Output tokens", "56"),
        ("Cached tokens", "1,000"),
        ("Total tokens", "1,290"),
        ("Time", "1.73 s"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in inspector
    # A message without usage shows none.
    user = Message.objects.get(run=run, role="USER")
    assert "<h3>Usage</h3>" not in client.get(reverse("message-inspector", args=[run.pk, user.pk])).content.decode()


def test_a_usage_with_other_names_and_hostile_values_is_shown_as_text(client):
    register = {"id": "u-run", "project": "Java", "name": "r", "timestamp": "", "pid": 1}
    post(client, "registerRun", register)
    usage = {"input_tokens": 7, "output_tokens": 3, "<b>cost</b>": "<script>alert(1)</script>", "nested": {"a": 1}}
    msg = {"id": "m", "name": "n", "role": "assistant", "content": "hi", "metadata": {}, "usage": usage}
    post(client, "pushMessage", {"runId": "u-run", "replyId": "r", "name": "n", "role": "assistant", "msg": msg})
    message = Message.objects.get(msg_id="m")
    assert "7 tokens in · 3 out</div>" in page(client, message.run)
    inspector = client.get(reverse("message-inspector", args=["u-run", message.pk])).content.decode()
    assert "<dt>Input tokens</dt><dd>7</dd>" in inspector
    assert "<dt>&lt;b&gt;cost&lt;/b&gt;</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in inspector
    assert "<dt>nested</dt><dd>{&quot;a&quot;: 1}</dd>" in inspector


def test_a_2x_tool_call_shows_as_a_call_with_its_input_parsed_and_its_state_in_words(client):
    message = push_java_message(
        client,
        [
            {
                "type": "tool_call",
                "id": "call_7",
                "name": "delete_file",
                "input": '{"path": "/tmp/a"}',
                "state": "asking",
            },
            {"type": "tool_call", "id": "call_8", "name": "stream", "input": '{"pa', "state": "pending"},
        ],
    )
    html = page(client, message.run)
    [first, second] = Page(html).with_class("tool-use")
    assert first[1]["data-call"] != second[1]["data-call"]  # each pairs with its own result
    assert "call <code>call_7</code>" in html and "call <code>call_8</code>" in html
    assert "<strong>delete_file</strong>" in html
    assert "&quot;path&quot;: &quot;/tmp/a&quot;" in html  # the raw JSON text, parsed and indented
    assert "{&quot;pa" in html  # still streaming: shown as it came
    assert '<span class="call-state asking">waiting for approval</span>' in html
    assert "tool_call block" not in html and '"type": "tool_call"' not in html
    assert message.tool_calls == 2


def test_a_2x_tool_result_that_failed_is_marked_and_says_how(client):
    push_java_message(client, [{"type": "tool_call", "id": "c", "name": "rm", "input": "{}", "state": "finished"}])
    message = push_java_message(
        client,
        [
            {
                "type": "tool_result",
                "id": "c",
                "name": "rm",
                "output": "permission denied by the user",
                "state": "denied",
            }
        ],
        role="TOOL",
        msg_id="m2",
    )
    html = page(client, message.run)
    [(_, result)] = Page(html).with_class("tool-result")
    assert "failed" in result["class"].split()
    assert '<span class="call-state denied">denied</span>' in html
    assert '<span class="call-state finished">done</span>' in html
    assert "permission denied by the user" in html


def test_a_call_and_result_without_a_state_show_none(client):
    message = push_java_message(
        client,
        [
            {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_result", "id": "c1", "name": "get_weather", "output": "sunny"},
        ],
    )
    html = page(client, message.run)
    assert "<strong>get_weather</strong>" in html and "for call <code>c1</code>" in html
    assert "call-state" not in html
