"""A person answers real agentscope UserAgents from the run page, in real Chromium."""

import base64
import json
import uuid

import pytest
import requests

from tests.factories import served_run
from tests.support.agent_socket import Agent
from tests.support.agentscope_env import start_agent
from tests.support.browser import screenshot
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import query, wait_for

pytestmark = pytest.mark.e2e
PROJECT = "InputProject"


@pytest.fixture
def agents():
    """Start agent scripts; whatever is still running at the end is stopped."""
    started = []

    def start(studio_url, mode, run_id=None):
        run_id = run_id or uuid.uuid4().hex[:16]
        process = start_agent("1.0.21", "input_user.py", studio_url, run_id, mode, env={"STUDIO_PROJECT": PROJECT})
        process.run_id = run_id
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def answers_of(process, count=1, timeout=60):
    """The ANSWER lines the agent printed, once it has printed `count` of them and exited."""
    output, _ = process.communicate(timeout=timeout)
    found = [json.loads(line[len("ANSWER ") :]) for line in output.splitlines() if line.startswith("ANSWER ")]
    assert len(found) == count, output
    return found


def pending_requests(server, run_id):
    return query(server, "SELECT * FROM runs_inputrequest WHERE run_id = ? AND status = 'pending' ORDER BY id", run_id)


def open_run(page, server, run_id):
    page.goto(f"{server.url}/projects/{PROJECT}/runs/{run_id}/")
    page.wait_for_selector("#live-status.on")


def test_a_person_answers_a_plain_question_and_the_agent_continues_with_it(studio, page, agents):
    agent = agents(studio.url, "plain")
    wait_for(lambda: pending_requests(studio, agent.run_id), message="the input request")
    open_run(page, studio, agent.run_id)
    assert page.locator("#run-status").inner_text() == "Waiting for input"
    box = page.locator("[data-answer-form].active textarea")
    box.type("Hello from the page")
    box.press("Shift+Enter")
    box.type("second line")
    screenshot(page, "input-plain-question")
    box.press("Enter")

    [answer] = answers_of(agent)
    # agentscope stores a null structured answer as empty metadata.
    assert answer == {"agent": "alice", "text": "Hello from the page\nsecond line", "metadata": {}}
    # The agent pushes the user's message: it shows in the chat, and the form is gone.
    page.locator(".reply.from-user", has_text="second line").wait_for()
    assert page.locator("[data-answer-form]").count() == 0
    [request] = query(studio, "SELECT * FROM runs_inputrequest WHERE run_id = ?", agent.run_id)
    assert request["status"] == "delivered"
    assert request["answered_by"].startswith("anonymous")


def fill_booking(page, nights, room=None):
    form = page.locator("[data-answer-form].active")
    form.get_by_label("Guest").fill("Ada Lovelace")
    form.get_by_label("Nights").fill(str(nights))
    if room:
        form.get_by_label("Room").select_option(label=room)
    form.get_by_label("Breakfast").check()
    form.get_by_label("City").fill("Lisbon")
    form.get_by_role("button", name="+ Add").click()
    form.locator(".sf-item input").fill("late arrival")
    return form


def test_a_structured_form_is_checked_on_the_server_and_its_object_reaches_the_agent(studio, page, agents):
    agent = agents(studio.url, "structured")
    wait_for(lambda: pending_requests(studio, agent.run_id), message="the input request")
    open_run(page, studio, agent.run_id)

    # A required choice starts unchosen: sent as it is, it is refused beside the field.
    form = fill_booking(page, nights=0)
    assert form.get_by_label("Room").input_value() == ""
    form.get_by_role("button", name="Send").click()
    error = form.locator('[data-path="nights"] .sf-error')
    error.wait_for()
    assert "minimum" in error.inner_text()
    assert "required" in form.locator('[data-path="room"] .sf-error').inner_text()
    screenshot(page, "input-structured-form-error")
    assert agent.poll() is None, "the agent must still be waiting"
    assert len(pending_requests(studio, agent.run_id)) == 1

    form.get_by_label("Nights").fill("3")
    form.get_by_label("Room").select_option(label="suite")
    form.get_by_role("button", name="Send").click()
    [answer] = answers_of(agent)
    assert answer["metadata"] == {
        "guest": "Ada Lovelace",
        "nights": 3,
        "room": "suite",
        "breakfast": True,
        "address": {"city": "Lisbon", "postcode": None},
        "tags": ["late arrival"],
    }
    # The person's answer shows in the chat: the structured object, readable.
    answer_in_chat = page.locator(".reply.from-user .structured")
    answer_in_chat.wait_for()
    assert '"guest": "Ada Lovelace"' in answer_in_chat.inner_text()


def test_two_user_agents_waiting_in_one_run_are_both_answered(studio, page, agents):
    agent = agents(studio.url, "two")
    wait_for(lambda: len(pending_requests(studio, agent.run_id)) == 2, message="two input requests")
    open_run(page, studio, agent.run_id)
    tabs = page.locator("[data-ask-tab]")
    assert sorted(tabs.all_inner_texts()) == ["A alice is waiting", "B bob is waiting"]
    screenshot(page, "input-two-agents")

    for name in ("alice", "bob"):
        tabs.filter(has_text=name).click()
        box = page.locator("[data-answer-form].active textarea")
        box.fill(f"hi {name}")
        box.press("Enter")
        page.locator("[data-ask-tab]", has_text=name).wait_for(state="detached")

    answers = answers_of(agent, count=2)
    assert sorted((a["agent"], a["text"]) for a in answers) == [("alice", "hi alice"), ("bob", "hi bob")]


def test_after_one_answer_the_other_waiting_agent_shows_its_form(studio, page, agents):
    agent = agents(studio.url, "two")
    wait_for(lambda: len(pending_requests(studio, agent.run_id)) == 2, message="two input requests")
    open_run(page, studio, agent.run_id)
    first = page.locator("[data-ask-tab].active").inner_text()
    box = page.locator("[data-answer-form].active textarea")
    box.fill("the first answer")
    box.press("Enter")
    page.locator("[data-ask-tab]", has_text=first).wait_for(state="detached")

    # No click needed: the one still waiting is the active tab, its form open to type in.
    other = page.locator("[data-ask-tab].active")
    assert other.count() == 1 and other.inner_text() != first
    box = page.locator("[data-answer-form].active textarea")
    box.wait_for(state="visible", timeout=5_000)
    screenshot(page, "input-second-agent-after-first-answer")
    box.fill("the second answer")
    box.press("Enter")
    answers = answers_of(agent, count=2)
    assert sorted(a["text"] for a in answers) == ["the first answer", "the second answer"]


def test_the_same_request_answered_from_two_tabs_is_taken_once(studio, browser, agents):
    agent = agents(studio.url, "plain")
    wait_for(lambda: pending_requests(studio, agent.run_id), message="the input request")
    [request] = pending_requests(studio, agent.run_id)
    first, second = (browser.new_context().new_page() for _ in range(2))
    for tab in (first, second):
        open_run(tab, studio, agent.run_id)

    first.locator("[data-answer-form].active textarea").fill("first tab wins")
    first.locator("[data-answer-form].active textarea").press("Enter")
    # The other tab sees the request go away at once...
    second.locator("[data-answer-form]").wait_for(state="detached")
    # ...and an answer it sent at the same moment is refused with a message, changing nothing.
    second.evaluate(
        "id => window.studioLive.send({type: 'answer', requestId: id, blocks: [{type: 'text', text: 'late'}], structured: null})",
        request["request_id"],
    )
    second.locator("#toast", has_text="already been answered").wait_for()

    [answer] = answers_of(agent)
    assert answer["text"] == "first tab wins"
    [stored] = query(studio, "SELECT * FROM runs_inputrequest WHERE request_id = ?", request["request_id"])
    assert json.loads(stored["answer_blocks"]) == [{"type": "text", "text": "first tab wins"}]


def test_an_answer_to_an_unknown_request_is_refused_with_a_message(studio, page):
    run_id = served_run(studio, PROJECT, name="no questions", pid=1)
    open_run(page, studio, run_id)
    page.evaluate("() => window.studioLive.send({type: 'answer', requestId: 'nope', blocks: [], structured: null})")
    page.locator("#toast", has_text="no input request 'nope'").wait_for()

    response = requests.post(f"{studio.url}/api/runs/{run_id}/inputs/nope/answer", json={"text": "hi"}, timeout=5)
    assert response.status_code == 404
    assert "no input request" in response.json()["error"]


def test_an_answer_given_while_the_agent_is_disconnected_arrives_when_it_reconnects(studio, agents):
    proxy = TcpProxy(studio.port)
    try:
        agent = agents(proxy.url, "plain")
        wait_for(lambda: pending_requests(studio, agent.run_id), message="the input request")
        [request] = pending_requests(studio, agent.run_id)
        # The request is stored before its POST's answer is back with the agent: cut only after.
        wait_for(lambda: proxy.requests_in_flight() == 0, message="the agent's calls to be answered")
        proxy.cut()
        wait_for(
            lambda: (
                query(studio, "SELECT agent_sockets FROM runs_run WHERE id = ?", agent.run_id)[0]["agent_sockets"] == 0
            ),
            message="the server to see the agent gone",
        )
        response = requests.post(
            f"{studio.url}/api/runs/{agent.run_id}/inputs/{request['request_id']}/answer",
            json={"blocks": [{"type": "text", "text": "while you were away"}]},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        [stored] = query(studio, "SELECT status FROM runs_inputrequest WHERE request_id = ?", request["request_id"])
        assert stored["status"] == "answered"  # recorded, not yet delivered
        proxy.resume()

        [answer] = answers_of(agent)
        assert answer["text"] == "while you were away"
        wait_for(
            lambda: (
                query(studio, "SELECT status FROM runs_inputrequest WHERE request_id = ?", request["request_id"])[0][
                    "status"
                ]
                == "delivered"
            ),
            message="the agent's ack",
        )
    finally:
        proxy.close()


def test_a_server_restart_keeps_the_request_and_the_reconnected_agent_gets_the_answer(fresh_studio, page, agents):
    fresh_studio.extra_env["STUDIO_DISCONNECT_GRACE"] = "30"
    fresh_studio.start()
    # Through a proxy only to see the agent's HTTP calls: the request is stored before its POST's
    # answer is back with the agent, and a restart in between fails that call and ends the program.
    proxy = TcpProxy(fresh_studio.port)
    try:
        agent = agents(proxy.url, "plain")
        wait_for(lambda: pending_requests(fresh_studio, agent.run_id), message="the input request")
        wait_for(lambda: proxy.requests_in_flight() == 0, message="the agent's calls to be answered")

        fresh_studio.restart()
        try:
            wait_for(
                lambda: (
                    query(fresh_studio, "SELECT agent_sockets FROM runs_run WHERE id = ?", agent.run_id)[0][
                        "agent_sockets"
                    ]
                    == 1
                ),
                timeout=30,
                message="the agent to reconnect",
            )
        except AssertionError:
            # agentscope's client tries to reconnect 3 times (over ~5.5-8.5 s), then gives up: its log says which.
            agent.kill()
            raise AssertionError(
                f"the agent is not connected after the restart; it printed:\n{agent.communicate()[0]}"
            ) from None
        open_run(page, fresh_studio, agent.run_id)
        box = page.locator("[data-answer-form].active textarea")
        box.fill("after the restart")
        box.press("Enter")
        [answer] = answers_of(agent)
        assert answer["text"] == "after the restart"
    finally:
        proxy.close()


def test_an_image_can_be_attached_and_an_oversized_file_is_refused_with_a_message(studio, page, agents):
    agent = agents(studio.url, "plain")
    wait_for(lambda: pending_requests(studio, agent.run_id), message="the input request")
    open_run(page, studio, agent.run_id)
    form = page.locator("[data-answer-form].active")
    picker = form.locator("input[type=file]")

    # 12 MB of video is 16 MB of base64: past the 15 MB an answer can carry (STUDIO_MAX_ANSWER_BYTES).
    picker.set_input_files({"name": "huge.mp4", "mimeType": "video/mp4", "buffer": b"\0" * (12 * 1024 * 1024)})
    assert "at most 15 MB can be sent to an agent" in form.locator("[data-form-error]").inner_text()
    picker.set_input_files({"name": "pixel.png", "mimeType": "image/png", "buffer": PNG})
    assert form.locator(".chip").inner_text().startswith("pixel.png")
    form.locator("textarea").fill("see the picture")
    form.locator("textarea").press("Enter")

    [answer] = answers_of(agent)
    assert answer["text"] == "see the picture"
    assert answer["media"] == [{"type": "image", "media_type": "image/png", "bytes": len(base64.b64encode(PNG))}]
    # The agent's echo of the answer shows the image in the chat, served from the studio.
    image = page.locator(".reply.from-user img")
    image.wait_for()
    assert "/media/" in image.get_attribute("src")


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


# pydantic's model_json_schema() of:
#   class Address(BaseModel): city: str
#   class Move(BaseModel):
#       home: Address; work: Optional[Address] = None; counts: List[conint(ge=1)] = []
MOVE = {
    "$defs": {
        "Address": {
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "title": "Address",
            "type": "object",
        }
    },
    "properties": {
        "home": {"$ref": "#/$defs/Address"},
        "work": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": None},
        "counts": {"default": [], "items": {"minimum": 1, "type": "integer"}, "title": "Counts", "type": "array"},
    },
    "required": ["home"],
    "title": "Move",
    "type": "object",
}


def ask(studio, run_id, agent_name, schema=None):
    request_id = uuid.uuid4().hex[:12]
    response = studio.post(
        "requestUserInput",
        {
            "requestId": request_id,
            "runId": run_id,
            "agentId": agent_name,
            "agentName": agent_name,
            "structuredInput": schema,
        },
    )
    assert response.status_code == 200, response.text
    return request_id


def stored_answer(studio, request_id):
    [row] = query(studio, "SELECT status, answer_structured FROM runs_inputrequest WHERE request_id = ?", request_id)
    return row["status"], json.loads(row["answer_structured"] or "null")


def open_move_form(studio, page):
    """A run whose agent "mover" asks for a MOVE, open in the page: (run id, request id, its form)."""
    run_id = served_run(studio, PROJECT, name="move", pid=1)
    request_id = ask(studio, run_id, "mover", MOVE)
    open_run(page, studio, run_id)
    return run_id, request_id, page.locator(f'[data-request-id="{request_id}"]')


def test_a_half_filled_form_survives_another_agent_asking_meanwhile(studio, page):
    run_id, first, form = open_move_form(studio, page)
    form.get_by_label("City").first.fill("Porto")

    ask(studio, run_id, "chatter")
    page.locator("[data-ask-tab]", has_text="chatter").wait_for()
    assert form.get_by_label("City").first.input_value() == "Porto"
    form.get_by_role("button", name="Send").click()
    wait_for(lambda: stored_answer(studio, first)[0] == "answered", message="the answer")
    assert stored_answer(studio, first)[1] == {"home": {"city": "Porto"}, "work": None, "counts": []}


def test_a_form_labels_shared_types_by_field_leaves_optional_models_out_and_keeps_item_errors_in_place(studio, page):
    _, request_id, form = open_move_form(studio, page)
    assert form.locator("legend").all_inner_texts()[:3] == ["Move", "Home", "Work"]
    assert form.locator('[data-path="work.city"]').is_hidden()  # Optional: left out until chosen

    form.locator('[data-path="home.city"] input').fill("Porto")
    for _ in range(3):
        form.get_by_role("button", name="+ Add").click()
    form.locator(".sf-item").first.get_by_role("button", name="✕").click()  # the items move up
    form.locator('[data-path="counts.0"] input').fill("5")
    form.locator('[data-path="counts.1"] input').fill("0")
    form.get_by_role("button", name="Send").click()
    error = form.locator('[data-path="counts.1"] .sf-error')
    error.wait_for()
    assert "minimum" in error.inner_text()
    assert form.locator('[data-path="counts.1"] input').input_value() == "0"  # beside the field it is about
    screenshot(page, "input-form-optional-model-and-items")

    form.locator('[data-path="counts.1"] input').fill("2")
    form.get_by_label("Work").check()
    form.locator('[data-path="work.city"] input').fill("Braga")
    form.get_by_role("button", name="Send").click()
    wait_for(lambda: stored_answer(studio, request_id)[0] == "answered", message="the answer")
    assert stored_answer(studio, request_id)[1] == {
        "home": {"city": "Porto"},
        "work": {"city": "Braga"},
        "counts": [5, 2],
    }


def test_the_page_says_when_the_agent_leaves_and_comes_back_while_an_answer_is_being_written(studio, page):
    run_id = served_run(studio, PROJECT, name="flaky", pid=1)
    agent = Agent(studio, {"run_id": run_id}).connect()
    request_id = ask(studio, run_id, "alice")
    open_run(page, studio, run_id)
    box = page.locator(f'[data-request-id="{request_id}"] textarea')
    box.fill("half an answer")
    warning = page.locator("#input-requests .warning", has_text="The agent has disconnected")
    assert warning.count() == 0

    agent.disconnect()
    warning.wait_for()
    agent.connect()
    warning.wait_for(state="detached")
    assert box.input_value() == "half an answer"
    agent.close()


TEAMS = {  # class Group(BaseModel): members: List[conint(ge=1)] = [];  class Teams(BaseModel): groups: List[Group] = []
    "$defs": {
        "Group": {
            "properties": {
                "members": {
                    "default": [],
                    "items": {"minimum": 1, "type": "integer"},
                    "title": "Members",
                    "type": "array",
                }
            },
            "title": "Group",
            "type": "object",
        }
    },
    "properties": {"groups": {"default": [], "items": {"$ref": "#/$defs/Group"}, "title": "Groups", "type": "array"}},
    "title": "Teams",
    "type": "object",
}


def test_an_error_in_an_array_inside_a_moved_up_item_lands_beside_its_field(studio, page):
    run_id = served_run(studio, PROJECT, name="teams", pid=1)
    request_id = ask(studio, run_id, "planner", TEAMS)
    open_run(page, studio, run_id)
    form = page.locator(f'[data-request-id="{request_id}"]')
    adds = form.get_by_role("button", name="+ Add")
    adds.last.click()
    adds.last.click()  # two groups
    form.locator('[data-path="groups.0"]').locator("xpath=..").get_by_role("button", name="✕").last.click()
    assert form.locator('[data-path="groups.0"] legend').inner_text() == "Item 1"  # the second group moved up
    form.locator('[data-path="groups.0"]').get_by_role("button", name="+ Add").click()
    form.locator('[data-path="groups.0.members.0"] input').fill("0")
    form.get_by_role("button", name="Send").click()
    error = form.locator('[data-path="groups.0.members.0"] .sf-error')
    error.wait_for()
    assert "minimum" in error.inner_text()
