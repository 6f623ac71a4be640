"""The projects page: counts by status, search, sort, pagination, delete."""

import pytest
from django.urls import reverse

from projects.models import Project
from runs.models import Run
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def test_each_project_shows_its_runs_counted_by_status(client):
    make_project("Alpha", running=2, waiting=1, finished=3, error=1)
    html = client.get(reverse("projects")).content.decode()
    for text in ("2 running", "1 waiting for input", "3 finished", "1 error"):
        assert text in html


def test_search_keeps_only_matching_projects(client):
    make_project("Weather bot")
    make_project("Travel planner")
    html = client.get(reverse("projects"), {"q": "weather"}).content.decode()
    assert "Weather bot" in html and "Travel planner" not in html


def test_an_htmx_search_gets_only_the_table(client):
    make_project("Weather bot")
    response = client.get(reverse("projects"), {"q": "weather"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="project-table")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="project-table">') and "<html" not in html


def test_projects_sort_by_name_and_paginate(client):
    for i in range(30):
        make_project(f"p{i:02d}")
    html = client.get(reverse("projects"), {"sort": "name"}).content.decode()
    assert html.index("p00") < html.index("p01") and "p25" not in html
    assert "Page 1 of 2" in html
    assert "p29" in client.get(reverse("projects"), {"sort": "name", "page": 2}).content.decode()


def test_deleting_a_project_deletes_its_runs(client):
    project = make_project("Doomed", finished=3)
    assert client.post(reverse("project-delete", args=[project.pk])).status_code == 302
    assert not Project.objects.filter(name="Doomed").exists() and not Run.objects.exists()


def test_a_project_name_is_escaped(client):
    make_project("<script>alert(1)</script>")
    html = client.get(reverse("projects")).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_link_agentscope_prints_before_init_sets_the_project_explains_itself(client):
    # agentscope 1.0.x logs "View the run at: <studio>/projects/UnnamedProject_At<date>".
    response = client.get("/projects/UnnamedProject_At20261201/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "agentscope.init(project=...)" in html
    assert f'href="{reverse("projects")}"' in html


def test_an_unknown_page_is_a_404_that_leads_back_to_the_projects(client):
    response = client.get("/no/such/page/<script>")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<script>" not in html.split("<body", 1)[1]
    assert f'href="{reverse("projects")}"' in html
