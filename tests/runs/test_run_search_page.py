"""The run list's search box: runs by name, and messages by their words, each result linking to
its message in its run."""

import pytest

from runs import chat
from tests.factories import make_message, make_reply, make_run

pytestmark = pytest.mark.django_db


def text(value):
    return [{"type": "text", "text": value}]


@pytest.fixture
def run():
    return make_run("run-1", "Search", name="weather-run")


def test_it_lists_runs_by_name_and_messages_by_their_words(client, run):
    reply = make_reply(run, "r1")
    message = make_message(reply, "m1", text("The weather in Paris is sunny"))
    page = client.get("/projects/Search/", {"q": "weather"}).content.decode()
    assert "Runs named “weather”" in page and "weather-run" in page
    assert "Messages containing “weather”" in page
    assert f'href="/projects/Search/runs/run-1/?message={message.pk}#msg-{message.pk}"' in page
    assert "<mark>weather</mark>" in page


def test_the_htmx_search_gets_the_run_list_with_its_messages(client, run):
    make_message(make_reply(run, "r1"), "m1", text("only in a message: umbrella"))
    response = client.get(
        "/projects/Search/", {"q": "umbrella"}, headers={"HX-Request": "true", "HX-Target": "run-list"}
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="run-list">')
    assert "No run matches “umbrella”." in page and "<mark>umbrella</mark>" in page


def test_a_message_with_markup_is_shown_escaped(client, run):
    make_message(make_reply(run, "r1"), "m1", text('alarm <script>alert("x")</script> <b>bold</b>'))
    page = client.get("/projects/Search/", {"q": "alarm"}).content.decode()
    assert "<mark>alarm</mark>" in page
    assert "<script>alert" not in page and "<b>bold</b>" not in page


def test_no_message_found_says_so(client, run):
    page = client.get("/projects/Search/", {"q": "nothing-like-it"}).content.decode()
    assert "No message contains every word of “nothing-like-it”." in page


def test_more_results_load_page_by_page(client, run):
    reply = make_reply(run, "r1")
    for i in range(25):
        make_message(reply, f"m{i}", text(f"needle {i}"))
    page = client.get("/projects/Search/", {"q": "needle"}).content.decode()
    assert page.count('class="hit-row"') == 20 and "Loading more messages…" in page
    more = page.split('hx-get="/project-messages/')[1].split('"')[0].replace("&amp;", "&")
    rest = client.get("/project-messages/" + more).content.decode()
    assert rest.count('class="hit-row"') == 5 and "Loading more" not in rest


@pytest.mark.parametrize("cursor", ["x", "0", "-5"])
def test_a_bad_cursor_is_a_400(client, run, cursor):
    response = client.get(f"/project-messages/{run.project.pk}/more/", {"q": "needle", "cursor": cursor})
    assert response.status_code == 400


def test_a_result_beyond_the_newest_page_opens_the_page_that_ends_at_it(client, run):
    first = make_reply(run, "first")
    found = make_message(first, "old", text("ancient words"))
    for i in range(chat.REPLIES_PER_PAGE + 5):
        make_message(make_reply(run, f"later-{i}"), f"later-{i}", text("later"))
    page = client.get(f"/projects/Search/runs/run-1/?message={found.pk}").content.decode()
    assert f'id="msg-{found.pk}"' in page
    assert "Newer messages are not shown here" in page
    assert f'data-anchor-fallback="reply-{first.pk}"' in page
    # Without the link, the newest page, which does not hold it.
    assert f'id="msg-{found.pk}"' not in client.get("/projects/Search/runs/run-1/").content.decode()


def test_a_result_on_the_newest_page_opens_the_newest_page(client, run):
    reply = make_reply(run, "r1")
    found = make_message(reply, "m1", text("fresh"))
    page = client.get(f"/projects/Search/runs/run-1/?message={found.pk}").content.decode()
    assert f'id="msg-{found.pk}"' in page and "Newer messages are not shown" not in page


def test_a_message_link_of_another_run_or_not_a_number(client, run):
    other = make_run("run-2", "Search")
    elsewhere = make_message(make_reply(other, "r"), "m", text("x"))
    assert client.get(f"/projects/Search/runs/run-1/?message={elsewhere.pk}").status_code == 200
    assert client.get("/projects/Search/runs/run-1/?message=abc").status_code == 404
