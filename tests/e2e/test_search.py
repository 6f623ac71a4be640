"""Searching a project's messages in real Chromium: type a word, click the result, land on it."""

import uuid

import pytest

from tests.factories import msg, push_body, served_run
from tests.support.browser import screenshot
from tests.support.waiting import query

pytestmark = pytest.mark.e2e


def test_a_found_message_opens_its_run_scrolled_to_it(studio, page):
    project = f"Search {uuid.uuid4().hex[:6]}"
    run_id = served_run(studio, project, name="long-run")
    word = "zanzibar" + uuid.uuid4().hex[:6]

    def reply(reply_id, text):
        body = push_body(msg(content=[{"type": "text", "text": text}]), run_id=run_id, reply_id=reply_id)
        assert studio.post("pushMessage", body).status_code == 200

    # The message looked for, between long replies: the newest page holds it, far from its end
    # (where a run page opens otherwise).
    for i in range(3):
        reply(f"early-{i}", f"Earlier reply {i}\n\n" + "filler " * 60)
    needle = msg(content=[{"type": "text", "text": f"The agent said {word} & <b>not bold</b> here"}])
    assert studio.post("pushMessage", push_body(needle, run_id=run_id, reply_id="needle")).status_code == 200
    for i in range(12):
        reply(f"later-{i}", f"Later reply {i}\n\n" + "filler " * 60)
    (row,) = query(studio, "SELECT id FROM runs_message WHERE msg_id = ?", needle["id"])

    page.goto(f"{studio.url}/projects/{project}/")
    page.fill("#run-search", word)
    hit = page.locator(".hit-row a", has_text=word)
    hit.wait_for()
    assert hit.locator("mark").inner_text() == word
    assert "<b>not bold</b>" in hit.inner_text()  # shown as text, not markup
    screenshot(page, "search-results")

    hit.click()
    target = page.locator(f"#msg-{row['id']}")
    target.wait_for()
    page.wait_for_function(
        """(id) => {
            const el = document.getElementById(id), chat = document.getElementById('chat');
            if (!el || !el.classList.contains('found')) return false;
            const a = el.getBoundingClientRect(), b = chat.getBoundingClientRect();
            return a.top >= b.top && a.bottom <= b.bottom;
        }""",
        arg=f"msg-{row['id']}",
    )
    assert page.locator(".newer-hidden").count() == 0  # the newest page: it holds the message
    assert (
        page.evaluate(
            "(() => { const c = document.getElementById('chat'); return c.scrollHeight - c.scrollTop - c.clientHeight; })()"
        )
        > 200
    )
    screenshot(page, "search-result-opened")


def test_the_overview_page_draws_its_chart(studio, page):
    served_run(studio, f"Overview {uuid.uuid4().hex[:6]}")
    page.goto(studio.url + "/")
    page.get_by_role("link", name="Overview", exact=True).click()
    page.locator("#count-runs").wait_for()
    assert int(page.locator("#count-runs").inner_text()) >= 1
    assert page.locator(".overview-chart rect").count() == 24
    screenshot(page, "overview")
