"""The overview page: its numbers are the data's, of the projects the person may see."""

import itertools
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from projects import overview
from projects.models import Membership
from tests.factories import make_message, make_project, make_reply, make_run
from traces.models import Span

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def ns(moment):
    return int(moment.timestamp()) * 1_000_000_000


def llm_span(project, at, model, input_tokens, output_tokens, run=None):
    return Span.objects.create(
        trace_id=f"{next(_ids):032x}",
        span_id=f"{next(_ids):016x}",
        project=project,
        run=run,
        name=f"chat {model}",
        start_time_ns=ns(at),
        end_time_ns=ns(at) + 1,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


@pytest.fixture
def data():
    """Two projects: A with 2 runs (3 messages), B with 1 run (1 message); spans in two months."""
    a, b = make_project("A"), make_project("B")
    ra1 = make_run("a1", a, started_at=datetime(2026, 6, 2, tzinfo=UTC))
    make_run("a2", a, started_at=datetime(2026, 5, 20, tzinfo=UTC))
    rb = make_run("b1", b, started_at=datetime(2026, 6, 3, tzinfo=UTC))
    make_run("ancient", b, started_at=datetime(2024, 1, 1, tzinfo=UTC))  # counted, not charted
    reply = make_reply(ra1)
    for i in range(3):
        make_message(reply, f"m{i}")
    make_message(make_reply(rb), "mb")
    llm_span(a, datetime(2026, 6, 10, tzinfo=UTC), "gpt-4o", 100, 10, run=ra1)
    llm_span(a, datetime(2026, 5, 31, 23, 59, tzinfo=UTC), "gpt-4o", 200, 20)
    llm_span(b, datetime(2026, 6, 1, tzinfo=UTC), "qwen-max", 1000, 100, run=rb)
    llm_span(b, datetime(2024, 1, 1, tzinfo=UTC), "qwen-max", 5, 5)  # before the 12 months
    Span.objects.create(trace_id="f" * 32, span_id="f" * 16, project=b, name="tool", start_time_ns=1, end_time_ns=2)
    return a, b


def test_the_figures_are_the_datas(data):
    figures = overview.figures(None, NOW)
    assert (figures["projects"], figures["runs"], figures["messages"], figures["spans"]) == (2, 4, 4, 5)
    june, may = figures["months"][-1], figures["months"][-2]
    assert june.start == datetime(2026, 6, 1, tzinfo=UTC) and len(figures["months"]) == 12
    assert (june.runs, june.input_tokens, june.output_tokens) == (2, 1100, 110)
    assert (may.runs, may.input_tokens, may.output_tokens) == (1, 200, 20)
    assert figures["models"] == [
        {"model": "qwen-max", "input": 1000, "output": 100, "calls": 1, "total": 1100},
        {"model": "gpt-4o", "input": 300, "output": 30, "calls": 2, "total": 330},
    ]
    assert figures["tokens"] == 1430
    assert june.token_bar[2] == overview.CHART_HEIGHT and 0 < may.token_bar[2] < june.token_bar[2]


def test_the_figures_of_some_projects(data):
    a, _ = data
    figures = overview.figures([a.pk], NOW)
    assert (figures["projects"], figures["runs"], figures["messages"], figures["spans"]) == (1, 2, 3, 2)
    assert [m["model"] for m in figures["models"]] == ["gpt-4o"]


def test_months_go_back_across_a_year():
    starts = overview.months_back(datetime(2026, 2, 10, tzinfo=UTC), 3)
    assert starts == [
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    ]


def number(page, name):
    return int(re.search(rf'id="count-{name}">(\d+)<', page).group(1))


def test_the_page_shows_them_and_is_linked_in_the_header(client, data):
    page = client.get("/overview/").content.decode()
    assert [number(page, n) for n in ("projects", "runs", "messages", "spans")] == [2, 4, 4, 5]
    assert "<svg" in page and "qwen-max" in page
    assert 'href="/overview/"' in client.get("/").content.decode()


def test_in_team_mode_it_counts_only_what_the_person_may_see(client, data, settings):
    a, _ = data
    settings.STUDIO_AUTH = True
    settings.STUDIO_DEFAULT_ROLE = "none"
    viewer = User.objects.create_user("viewer")
    Membership.objects.create(project=a, user=viewer, role="viewer")
    assert client.get("/overview/").status_code == 302  # to the login
    client.force_login(viewer)
    page = client.get("/overview/").content.decode()
    assert [number(page, n) for n in ("projects", "runs", "messages", "spans")] == [1, 2, 3, 2]
    assert "qwen-max" not in page


def test_a_project_name_on_the_page_is_escaped(client):
    llm_span(make_project("P"), datetime.now(UTC), "<img src=x onerror=alert(1)>", 1, 1)
    page = client.get("/overview/").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page
