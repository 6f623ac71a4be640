"""The dashboard in real Chromium while the real agentscope client writes a run."""

import uuid

import pytest

from tests.factories import served_run
from tests.support.agentscope_env import start_agent
from tests.support.browser import screenshot
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def streaming_agent(studio, tmp_path):
    """An agent registered in a project of its own, that streams once `go()` is called."""
    project = f"Dashboard {uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:16]
    go_file = tmp_path / "go"

    class Agent:
        pass

    agent = Agent()
    agent.project, agent.run_id = project, run_id
    agent.start = lambda: setattr(
        agent,
        "process",
        start_agent("1.0.21", "dashboard_stream.py", studio.url, run_id, str(go_file), env={"STUDIO_PROJECT": project}),
    )
    agent.go = go_file.touch
    agent.process = None
    yield agent
    if agent.process and agent.process.poll() is None:
        agent.process.kill()
    if agent.process:
        agent.process.wait()


def background(page):
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_a_run_written_by_the_real_client_appears_and_fills_up_live(studio, page, streaming_agent):
    agent = streaming_agent
    page.goto(studio.url + "/")
    page.wait_for_selector("#live-status.on")

    # The projects page learns of the new project as the agent registers its run.
    agent.start()
    page.get_by_role("link", name=agent.project).click()
    page.get_by_role("link", name="stream-demo").click()
    page.wait_for_selector("#live-status.on")
    assert page.locator(".run-row.current .badge").inner_text() == "Running"

    # Record every text the streamed message shows, and any duplicate element id.
    page.evaluate("""() => {
        window.seenTexts = []; window.duplicates = 0;
        new MutationObserver(() => {
            const first = document.querySelector('.message .text');
            if (first) window.seenTexts.push(first.innerText);
            const ids = [...document.querySelectorAll('[id^=msg-]')].map(e => e.id);
            if (new Set(ids).size !== ids.length) window.duplicates++;
        }).observe(document.getElementById('chat'), {subtree: true, childList: true, characterData: true});
    }""")
    agent.go()
    page.locator(".message", has_text="Done: sunny").wait_for(timeout=30_000)
    # The details panel counts the run a moment after the last message (at most about a second).
    page.wait_for_function(
        r"""() => {
        const facts = document.querySelector('#run-details').innerText;
        return /Replies\s+1\n/.test(facts) && /Messages\s+4\n/.test(facts) && /Tool calls\s+1$/.test(facts);
    }""",
        timeout=5_000,
    )
    screenshot(page, "run-page-live")

    seen = page.evaluate("window.seenTexts")
    assert "The weather" in seen and seen[-1] == "The weather in Paris is sunny and warm today"
    assert page.evaluate("window.duplicates") == 0
    reply = page.locator(".reply")
    assert reply.count() == 1, "one agent reply, one bubble"
    assert reply.locator(".message").count() == 4
    assert reply.locator(".tool-use").inner_text().count("get_weather") == 1
    assert "sunny, 25°C" in reply.locator(".tool-result").inner_text()
    assert "returned" in reply.locator(".tool-use .tool-state").inner_text(), "the call is paired with its result"

    # A click shows the message's metadata and raw JSON on the right.
    reply.locator(".message", has_text="Done: sunny").click()
    page.locator("#inspector pre.json", has_text="Done: **sunny**").wait_for()

    # j / k move between replies.
    page.locator("body").press("j")
    assert page.locator(".reply.focused").count() == 1

    # One bubble per message; the choice survives a reload.
    page.get_by_role("link", name="By message").click()
    assert page.locator(".reply").count() == 4
    page.reload()
    assert page.locator(".segmented .active").inner_text() == "By message"
    page.get_by_role("link", name="By reply").click()
    assert page.locator(".reply").count() == 1

    # The theme follows the toggle (auto → light → dark).
    light = background(page)
    page.locator("#theme-toggle").click()
    page.locator("#theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert background(page) != light
    screenshot(page, "run-page-dark")

    # The run ends when the agent process exits (after the grace period).
    agent.process.wait(timeout=30)
    page.locator("#run-status", has_text="Finished").wait_for(timeout=20_000)

    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(".run-row.current button[title='Delete run']").click()
    page.wait_for_url(f"**/projects/{agent.project.replace(' ', '%20')}/")
    assert page.locator(".run-row").count() == 0
    assert query(studio, "SELECT id FROM runs_run WHERE id = ?", agent.run_id) == []


def test_projects_can_be_searched_and_deleted_with_a_confirmation(studio, page):
    names = [f"Searchable {uuid.uuid4().hex[:6]}", f"Other {uuid.uuid4().hex[:6]}"]
    for name in names:
        served_run(studio, name, name="r", pid=1)
    page.goto(studio.url + "/")
    page.keyboard.press("/")
    page.keyboard.type(names[0][:12])
    page.locator("#project-rows tr").first.wait_for()
    wait_for(lambda: page.locator("#project-rows tr").count() == 1 or None, message="the filtered list")
    assert names[0] in page.locator("#project-rows").inner_text()
    screenshot(page, "projects-page-search")

    # The filtered page keeps its rows up to date live, and takes no new project that the
    # search does not ask for (the socket was opened before the search).
    page.wait_for_selector("#live-status.on")
    served_run(studio, f"Unrelated {uuid.uuid4().hex[:6]}", name="r", pid=1)
    served_run(studio, names[0], name="r2", pid=1)
    page.locator("#project-rows", has_text="2 running").wait_for()
    assert page.locator("#project-rows tr").count() == 1

    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete").click()
    page.locator("#project-rows tr").first.wait_for(state="detached")
    assert "Delete project" in dialogs[0]
    assert query(studio, "SELECT id FROM projects_project WHERE name = ?", names[0]) == []
    assert query(studio, "SELECT id FROM projects_project WHERE name = ?", names[1]) != []


def test_hostile_messages_stay_inert_in_the_browser(studio, page):
    run_id = served_run(studio, "Hostile <b>project</b>", name="<img src=x onerror=window.pwned=1>", pid=1)
    content = [
        {
            "type": "text",
            "text": "<script>window.pwned=1</script><img src=x onerror=window.pwned=1> [click me](javascript:window.pwned=1)",
        },
        {"type": "image", "source": {"type": "url", "url": "javascript:window.pwned=1"}},
        {
            "type": "tool_use",
            "id": "</code><script>window.pwned=1</script>",
            "name": "<svg onload=window.pwned=1>",
            "input": {},
        },
    ]
    response = studio.post(
        "pushMessage",
        {
            "runId": run_id,
            "replyId": "r",
            "replyName": "<i>x</i>",
            "replyRole": "assistant",
            "msg": {"id": "m", "name": "m", "role": "assistant", "content": content, "metadata": {}},
        },
    )
    assert response.status_code == 200
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{studio.url}/projects/Hostile%20%3Cb%3Eproject%3C%2Fb%3E/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    page.get_by_text("click me").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None and dialogs == []
    assert "<script>window.pwned=1</script>" in page.locator(".message").inner_text()
    screenshot(page, "run-page-hostile")


def test_older_replies_load_only_when_the_person_scrolls_up_and_keep_the_view(studio, page):
    import requests

    run_id, project = uuid.uuid4().hex[:16], f"Long {uuid.uuid4().hex[:6]}"
    session = requests.Session()
    session.post(f"{studio.url}/trpc/registerRun", json={"id": run_id, "project": project, "name": "long"})
    for n in range(70):
        session.post(
            f"{studio.url}/trpc/pushMessage",
            json={
                "runId": run_id,
                "replyId": f"r{n}",
                "replyName": "Friday",
                "replyRole": "assistant",
                "msg": {
                    "id": f"m{n}",
                    "name": "Friday",
                    "role": "assistant",
                    "content": f"Reply number {n}",
                    "metadata": {},
                    "timestamp": "",
                },
            },
        )
    page.goto(f"{studio.url}/projects/{project}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    page.wait_for_timeout(800)
    # Opening the page shows the newest 20 replies, at the bottom, and loads nothing more by itself.
    assert page.locator(".reply").count() == 20
    assert page.locator(".reply").last.is_visible() and page.locator(".older").count() == 1

    # Scrolling up loads the 20 before, above, without moving what the person was reading.
    page.locator("#chat").evaluate("chat => chat.scrollTop = 0")
    page.locator(
        "#reply-"
        + str(query(studio, "SELECT id FROM runs_reply WHERE run_id = ? AND reply_id = 'r49'", run_id)[0]["id"])
    ).wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".reply").count() == 40
    assert page.locator(".reply", has_text="Reply number 50").is_visible()
    assert not page.locator(".reply", has_text="Reply number 29").is_visible()


def push(studio, run_id, n):
    response = studio.post(
        "pushMessage",
        {
            "runId": run_id,
            "replyId": f"reply-{n}",
            "replyName": "Friday",
            "replyRole": "assistant",
            "msg": {
                "id": f"msg-{n}",
                "name": "Friday",
                "role": "assistant",
                "metadata": {},
                "content": [{"type": "text", "text": f"message {n}\n\n" + "lorem ipsum dolor " * 30}],
            },
        },
    )
    assert response.status_code == 200


def test_the_chat_follows_new_messages_at_the_bottom_and_offers_a_jump_when_scrolled_up(studio, page):
    run_id = served_run(studio, "Scrolling", name="long", pid=1)
    for n in range(12):
        push(studio, run_id, n)
    page.goto(f"{studio.url}/projects/Scrolling/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")
    chat, jump = page.locator("#chat"), page.locator("#jump-latest")
    at_bottom = "c => c.scrollHeight - c.scrollTop - c.clientHeight < 40"
    assert chat.evaluate(at_bottom)

    push(studio, run_id, 12)  # at the bottom: the chat follows
    page.locator("#chat", has_text="message 12").wait_for()
    wait_for(lambda: chat.evaluate(at_bottom), message="the chat to follow the new message")
    assert jump.is_hidden()

    chat.evaluate("c => { c.scrollTop = 0; }")
    page.wait_for_timeout(1500)  # the details panel refreshes meanwhile: no news in the chat
    assert jump.is_hidden()
    push(studio, run_id, 13)  # scrolled up: the place is kept, and a jump is offered
    jump.wait_for()
    assert chat.evaluate("c => c.scrollTop") < 400
    jump.click()
    wait_for(lambda: chat.evaluate(at_bottom), message="the jump to the latest message")
    assert page.locator("#chat", has_text="message 13").is_visible()


def test_the_projects_page_shows_last_activity_moving_as_an_agent_writes(studio, page):
    project = f"Active {uuid.uuid4().hex[:6]}"
    run_id = served_run(studio, project, name="r", pid=1)
    page.goto(studio.url + "/")
    page.wait_for_selector("#live-status.on")
    row = page.locator("#project-rows tr", has_text=project)
    activity = row.locator("time").first
    before = activity.get_attribute("datetime")
    page.wait_for_timeout(1100)  # activity is recorded at most once a second
    push(studio, run_id, 1)
    wait_for(lambda: activity.get_attribute("datetime") != before, message="the last activity to move")
