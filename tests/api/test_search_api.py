"""GET /api/v1/search: the run list's full-text search over a project's messages, for scripts."""

import pytest
from django.contrib.auth.models import User

from projects.models import Membership, ProjectToken
from tests.factories import make_message, make_reply, make_run

pytestmark = pytest.mark.django_db


def text(value):
    return [{"type": "text", "text": value}]


@pytest.fixture
def weather():
    """A project where 5 messages mention Paris, one of them with markup, and another project
    that mentions it too."""
    reply = make_reply(make_run("run-w", "Weather"), "reply-1")
    for i in range(4):
        make_message(reply, f"paris-{i}", text(f"Forecast {i}: sunny in Paris"))
    make_message(reply, "html", text("<b>Paris</b> at night"))
    make_message(reply, "other", text("Rain in Oslo"))
    make_message(make_reply(make_run("run-x", "Elsewhere"), "r"), "far", text("Paris again"))
    return reply.run.project


def search(client, **params):
    response = client.get("/api/v1/search", params)
    assert response["Content-Type"].startswith("application/json")
    return response


def test_it_finds_a_projects_messages_newest_first_a_page_at_a_time(client, weather):
    first = search(client, project=weather.pk, q="paris", limit=3)
    assert first.status_code == 200
    page = first.json()
    assert [hit["message"] for hit in page["results"]] == ["html", "paris-3", "paris-2"]
    second = client.get(page["next"]).json()
    assert [hit["message"] for hit in second["results"]] == ["paris-1", "paris-0"]
    assert second["next"] is None


def test_a_hit_links_to_its_message_and_marks_the_words_with_markup_escaped(client, weather):
    (hit,) = search(client, project=weather.pk, q="night paris").json()["results"]
    # (A snippet may begin at the first match; what it shows of the markup is text.)
    assert hit["snippet"].endswith("<mark>Paris</mark>&lt;/b&gt; at <mark>night</mark>")
    assert (hit["run"], hit["reply_id"]) == ("run-w", "reply-1")
    page = client.get(hit["url"])
    assert page.status_code == 200
    assert "#msg-" in hit["url"] and hit["url"].split("#msg-")[1] in page.content.decode()


def test_words_are_words_never_query_syntax(client, weather):
    for query in ['"paris', "paris OR oslo", "paris*", "NEAR(paris oslo)", "oslo:", "'"]:
        response = search(client, project=weather.pk, q=query)
        assert response.status_code == 200, query
    assert search(client, project=weather.pk, q="paris OR oslo").json()["results"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "paris"}, "project"),
        ({"project": "x", "q": "paris"}, "project"),
        ({"project": 1}, "q"),
        ({"project": 1, "q": "paris", "limit": 0}, "limit"),
        ({"project": 1, "q": "paris", "limit": 101}, "limit"),
        ({"project": 1, "q": "paris", "cursor": "abc"}, "cursor"),
        ({"project": 1, "q": "paris", "cursor": 2**70}, "cursor"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(client, weather, params, field):
    response = search(client, **params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_a_project_that_is_not_there_is_a_404(client, weather):
    assert search(client, project=999999, q="paris").status_code == 404


def test_in_team_mode_it_follows_the_projects_roles_and_tokens(client, weather, settings):
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "none"
    viewer, stranger = User.objects.create_user("viewer"), User.objects.create_user("stranger")
    Membership.objects.create(project=weather, user=viewer, role="viewer")
    assert search(client, project=weather.pk, q="paris").status_code == 401
    client.force_login(stranger)
    assert search(client, project=weather.pk, q="paris").status_code == 404
    client.force_login(viewer)
    assert len(search(client, project=weather.pk, q="paris").json()["results"]) == 5
    client.logout()
    _, secret = ProjectToken.objects.issue(weather, "notebook")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/search", {"project": weather.pk, "q": "paris"}, headers=bearer).status_code == 200
    elsewhere = make_run("run-y", "Elsewhere").project
    assert client.get("/api/v1/search", {"project": elsewhere.pk, "q": "paris"}, headers=bearer).status_code == 404
