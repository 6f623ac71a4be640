"""The run page: bounded work for big runs, and hostile content rendered inert."""

import base64
import gzip

import pytest
from django.urls import reverse
from django.utils import timezone

from runs.models import Message, Reply, Run
from tests.factories import make_message, make_project, make_question, make_reply, make_run
from tests.support.html import TagCollector

pytestmark = pytest.mark.django_db


def run_with_messages(messages=10, messages_per_reply=5, project="Big", run_id="big-run"):
    run = make_run(run_id, project, name=run_id)
    now = timezone.now()
    replies = Reply.objects.bulk_create(
        Reply(run=run, reply_id=f"r{i}", name="Friday", role="assistant", created_at=now, updated_at=now)
        for i in range((messages + messages_per_reply - 1) // messages_per_reply)
    )
    # Rows as recording writes them (bulk_create skips Message.save, which counts tool calls).
    Message.objects.bulk_create(
        Message(
            run=run,
            reply=replies[i // messages_per_reply],
            msg_id=f"m{i}",
            name="Friday",
            role="assistant",
            content=[
                {"type": "text", "text": f"message number {i} " + "lorem ipsum " * 20},
                {"type": "tool_use", "id": f"c{i}", "name": "search", "input": {"q": i}},
            ],
            tool_calls=1,
            metadata={},
            created_at=now,
            updated_at=now,
        )
        for i in range(messages)
    )
    return run


def page_url(run):
    return reverse("run", args=[run.project.name, run.pk])


def count_queries(client, url, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


@pytest.mark.parametrize("group", ["reply", "message"])
def test_a_run_with_10000_messages_opens_with_the_same_queries_and_a_bounded_page(
    client, group, django_assert_max_num_queries
):
    small = run_with_messages(messages=10, run_id="small-run", project="Small")
    big = run_with_messages(messages=10_000, run_id="big-run", project="Big")
    small_queries, _ = count_queries(client, page_url(small) + f"?group={group}", django_assert_max_num_queries)
    big_queries, response = count_queries(client, page_url(big) + f"?group={group}", django_assert_max_num_queries)

    assert big_queries == small_queries <= 12
    assert len(response.content) < 300_000
    html = response.content.decode()
    assert "message number 9999 " in html  # the newest is on the page...
    assert "message number 0 " not in html  # ...the oldest loads on scroll
    assert reverse("run-older", args=[big.pk]) in html


def test_the_run_page_takes_the_same_queries_with_one_run_or_forty_beside_it(client, django_assert_max_num_queries):
    lonely = run_with_messages(messages=3, run_id="lonely", project="Lonely")
    busy = run_with_messages(messages=3, run_id="busy", project="Busy")
    Run.objects.bulk_create(Run(id=f"other-{i}", project=busy.project, name=f"other {i}") for i in range(39))
    lonely_queries, _ = count_queries(client, page_url(lonely), django_assert_max_num_queries)
    busy_queries, response = count_queries(client, page_url(busy), django_assert_max_num_queries)
    assert busy_queries == lonely_queries
    assert response.content.decode().count('<li id="run-row-') == 40


def test_the_run_list_pages_on_and_a_run_named_more_still_opens(client):
    from datetime import timedelta

    run = run_with_messages(messages=1, run_id="more", project="Many")
    start = timezone.now()
    Run.objects.bulk_create(
        Run(id=f"r{i}", project=run.project, name=f"run {i}", started_at=start - timedelta(minutes=i))
        for i in range(1, 80)
    )
    page = client.get(page_url(run))
    assert page.status_code == 200 and "message number 0" in page.content.decode()
    html = page.content.decode()
    more = html.split('<li class="more" hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    rest = client.get(more).content.decode()
    shown = html.count('<li id="run-row-') + rest.count('<li id="run-row-')
    assert shown == 80


def test_older_replies_load_before_the_oldest_shown(client):
    run = run_with_messages(messages=200, messages_per_reply=5)
    first_page = client.get(page_url(run)).content.decode()
    oldest_shown = run.replies.order_by("-pk")[19]
    assert f'id="reply-{oldest_shown.pk}"' in first_page
    older = client.get(reverse("run-older", args=[run.pk]) + f"?before={oldest_shown.pk}").content.decode()
    assert f'id="reply-{oldest_shown.pk - 1}"' in older
    assert f'id="reply-{oldest_shown.pk}"' not in older


def test_a_reply_with_thousands_of_messages_shows_its_newest_and_offers_the_rest(client):
    run = run_with_messages(messages=3000, messages_per_reply=3000)
    html = client.get(page_url(run)).content.decode()
    assert "Show 2980 earlier messages of this reply" in html
    assert html.count('class="message role-assistant"') == 20


@pytest.mark.parametrize("group", ["reply", "message"])
def test_a_structured_answer_without_text_shows_its_fields_in_the_chat(client, group):
    run = run_with_messages(messages=0)
    reply = make_reply(run, "answer", name="booker", role="user")
    make_message(reply, "answer", content=[], metadata={"guest": "Ada Lovelace", "nights": 3})
    html = client.get(page_url(run) + f"?group={group}").content.decode()
    assert '<details class="block structured" open><summary>Structured data</summary>' in html
    assert "&quot;guest&quot;: &quot;Ada Lovelace&quot;" in html


def test_a_message_cut_on_the_page_is_whole_in_its_json(client):
    run = run_with_messages(messages=0)
    reply = make_reply(run, "r", name="Friday", role="assistant")
    long_text = "word " * 10_000
    message = make_message(reply, "long", content=[{"type": "text", "text": long_text + "<script>x</script>"}])
    page = client.get(page_url(run)).content.decode()
    assert "more characters (click the message for its full JSON)" in page
    inspector = client.get(reverse("message-inspector", args=[run.pk, message.pk])).content.decode()
    json_url = reverse("message-json", args=[run.pk, message.pk])
    assert f'href="{json_url}"' in inspector
    response = client.get(json_url)
    assert response["Content-Type"] == "application/json" and response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["content"][0]["text"] == long_text + "<script>x</script>"
    assert client.get(reverse("message-json", args=["other-run", message.pk])).status_code == 404


HOSTILE = [
    {
        "type": "text",
        "text": "<script>window.pwned=1</script> <img src=x onerror=window.pwned=1> "
        "[click](javascript:window.pwned=1) <a href='javascript:alert(1)'>raw</a> "
        "![img](javascript:alert(1)) <iframe src=//evil></iframe>",
    },
    {"type": "thinking", "thinking": "<svg onload=alert(1)>"},
    {"type": "image", "source": {"type": "url", "url": "javascript:alert(1)"}},
    {"type": "video", "source": {"type": "url", "url": "data:text/html,<script>alert(1)</script>"}},
    {
        "type": "audio",
        "source": {
            "type": "base64",
            "media_type": "text/html",
            "data": base64.b64encode(b"<script>alert(1)</script>").decode(),
        },
    },
    {
        "type": "tool_use",
        "id": 'x"><script>alert(1)</script>',
        "name": "<b onmouseover=alert(1)>t</b>",
        "input": {"k": "</pre><script>alert(1)</script>"},
    },
    {"type": "tool_result", "id": "y", "name": "n", "output": "<img src=x onerror=alert(1)>"},
    {"type": "<script>", "payload": "<script>alert(1)</script>"},
    {"type": "text", "text": "A" * 500_000},
]


def hostile_run():
    run = make_run("hostile", "<script>alert('project')</script>", name="<img src=x onerror=alert('run')>")
    reply = make_reply(run, "r", name="<b onclick=alert(1)>Mallory</b>", role="assistant")
    message = make_message(
        reply,
        "m",
        content=HOSTILE,
        name="<script>x</script>",
        role="assistant",
        metadata={"<script>": "<img src=x onerror=alert(1)>"},
    )
    return run, message


@pytest.mark.parametrize("group", ["reply", "message"])
def test_hostile_content_renders_as_inert_text(client, group):
    run, message = hostile_run()
    response = client.get(page_url(run) + f"?group={group}")
    assert response.status_code == 200
    inspector = client.get(reverse("message-inspector", args=[run.pk, message.pk]))
    for html in (response.content.decode(), inspector.content.decode()):
        collector = TagCollector()
        collector.feed(html)
        for tag, attrs in collector.tags:
            assert tag not in ("iframe", "svg", "object", "embed")
            if tag == "script":
                assert (
                    attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json" or not attrs
                ), attrs
            for name, value in attrs.items():
                assert not name.startswith("on"), (tag, attrs)
                if name in ("href", "src", "hx-get", "hx-post"):
                    assert not (value or "").strip().lower().startswith(("javascript:", "data:")), (tag, attrs)
        assert "<script>alert" not in html and "<script>window" not in html and "<script>x" not in html
    # The huge string is cut on the page, not sent whole.
    assert len(response.content) < 100_000


def test_base64_media_is_served_only_as_media_and_never_runs_as_a_page(client):
    run, message = hostile_run()
    response = client.get(reverse("message-media", args=[run.pk, message.pk, "4"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_base64_image_is_served_with_its_type(client):
    run = run_with_messages(messages=1)
    message = run.messages.get()
    message.content = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"\x89PNG fake").decode()},
        }
    ]
    message.save()
    html = client.get(page_url(run)).content.decode()
    src = reverse("message-media", args=[run.pk, message.pk, "0"])
    first_src = html.split(f'src="{src}?v=', 1)[1].split('"', 1)[0]
    response = client.get(src)
    assert response["Content-Type"] == "image/png" and response.content == b"\x89PNG fake"
    # Media are cached by the browser: a message re-sent with another image gets a new address,
    # re-sent with the same image (streaming text around it) the same one.
    message.content[0]["source"]["data"] = base64.b64encode(b"\x89PNG other").decode()
    message.save()
    second_src = client.get(page_url(run)).content.decode().split(f'src="{src}?v=', 1)[1].split('"', 1)[0]
    assert second_src != first_src
    message.content.append({"type": "text", "text": "more streamed text"})
    message.save()
    assert client.get(page_url(run)).content.decode().split(f'src="{src}?v=', 1)[1].split('"', 1)[0] == second_src


def test_an_unknown_run_is_a_404_and_a_run_under_another_project_redirects(client):
    run = run_with_messages(messages=1)
    assert client.get(reverse("run", args=[run.project.name, "nope"])).status_code == 404
    make_project("Elsewhere")
    response = client.get(reverse("run", args=["Elsewhere", run.pk]))
    assert response.status_code == 302 and response["Location"] == page_url(run)


def test_deleting_a_run_removes_it_with_its_messages(client):
    run = run_with_messages(messages=30)
    response = client.post(reverse("run-delete", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert not Run.objects.filter(pk=run.pk).exists()
    assert Message.objects.count() == 0


def test_the_details_panel_counts_replies_messages_and_tool_calls(client):
    run = run_with_messages(messages=12, messages_per_reply=4)
    html = client.get(reverse("run-details", args=[run.pk])).content.decode()
    assert "<dt>Replies</dt><dd>3</dd>" in html
    assert "<dt>Messages</dt><dd>12</dd>" in html
    assert "<dt>Tool calls</dt><dd>12</dd>" in html


def test_a_run_id_with_slashes_and_odd_characters_has_working_pages(client):
    run = run_with_messages(messages=3, run_id="team/a b?c#d%", project="Odd / name")
    html = client.get(reverse("projects")).content.decode()
    assert client.get(reverse("project", args=[run.project.name])).status_code == 200
    page = client.get(page_url(run))
    assert page.status_code == 200 and "message number 2" in page.content.decode()
    assert client.get(reverse("run-details", args=[run.pk])).status_code == 200
    assert "Odd / name" in html


def test_a_browser_gets_the_big_run_page_compressed(client):
    big = run_with_messages(messages=2_000, run_id="big-gzip", project="Big")
    plain = client.get(page_url(big))
    compressed = client.get(page_url(big), headers={"Accept-Encoding": "gzip"})
    assert compressed["Content-Encoding"] == "gzip"
    assert len(compressed.content) < len(plain.content) / 4
    assert "message number 1999" in gzip.decompress(compressed.content).decode()


def test_a_projects_own_page_offers_its_latest_run(client):
    from datetime import timedelta

    old = run_with_messages(messages=1, run_id="old-run", project="Offers")
    Run.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(hours=1))
    run_with_messages(messages=1, run_id="new-run", project="Offers")
    html = client.get(reverse("project", args=["Offers"])).content.decode()
    assert f'href="{reverse("run", args=["Offers", "new-run"])}" title="new-run">Open the latest run</a>' in html


def test_an_empty_run_whose_agents_wait_says_they_wait_for_an_answer(client):
    run = run_with_messages(messages=0)
    for name in ("alice", "bob"):
        make_question(run, f"q-{name}", agent_name=name)
    html = client.get(page_url(run)).content.decode()
    assert "No messages yet: 2 agents are waiting for your answer below." in html


def test_a_new_line_in_a_message_is_a_new_line_on_the_page(client):
    run = run_with_messages(messages=0)
    reply = make_reply(run, "u", name="alice", role="user")
    make_message(reply, "u", content=[{"type": "text", "text": "first line\nsecond line"}])
    assert "first line<br>\nsecond line" in client.get(page_url(run)).content.decode()
