"""The projects page's import form and the run page's download links, in process."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.models import Membership
from runs import bundles
from runs.models import Message, Run
from tests.factories import make_message, make_reply, make_run

pytestmark = pytest.mark.django_db


def bundle_file(run_id="r1"):
    out = io.BytesIO()
    bundles.write(Run.objects.select_related("project").get(pk=run_id), out)
    return out.getvalue()


@pytest.fixture
def exported():
    run = make_run("r1", "Imports", status="finished")
    make_message(make_reply(run, "a"), "m1", [{"type": "text", "text": "hello"}])
    data = bundle_file()
    run.delete()
    return data


def upload(client, data, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    file = SimpleUploadedFile("run.studio-run.jsonl.gz", data, content_type="application/gzip")
    return client.post(reverse("run-import"), {"bundle": file}, headers=headers)


def test_the_projects_page_offers_the_import_form_and_an_import_opens_the_run(client, exported):
    assert 'id="import-run"' in client.get("/").text
    response = upload(client, exported)
    assert response.status_code == 201 and response["HX-Redirect"] == reverse("run", args=["Imports", "r1"])
    assert Message.objects.get(run_id="r1", msg_id="m1").content == [{"type": "text", "text": "hello"}]
    without_htmx = upload(client, exported, htmx=False)
    assert without_htmx.status_code == 302 and Message.objects.filter(run_id="r1").count() == 1


def test_a_broken_file_is_refused_in_the_form_saying_why(client, exported):
    response = upload(client, exported[:40])
    assert response.status_code == 400 and "cannot be read" in response.text and 'id="import-run"' in response.text
    assert not Run.objects.exists()


def test_the_run_page_offers_the_bundle_and_otlp_downloads(client):
    make_run("r2", "Downloads")
    page = client.get(reverse("run", args=["Downloads", "r2"])).text
    assert reverse("api-run-bundle", args=["r2"]) in page and reverse("api-run-otlp", args=["r2"]) in page


def test_in_team_mode_importing_into_a_project_needs_its_admin_role(client, exported, settings):
    make_run("other", "Imports")
    settings.STUDIO_AUTH = True
    member = User.objects.create_user("member")
    Membership.objects.create(project=Run.objects.get(pk="other").project, user=member, role="member")
    client.force_login(member)
    assert 'id="import-run"' not in client.get("/").text
    refused = upload(client, exported)
    assert refused.status_code == 400 and "admin role" in refused.text and not Run.objects.filter(pk="r1").exists()
    Membership.objects.filter(user=member).update(role="admin")
    assert 'id="import-run"' in client.get("/").text
    assert upload(client, exported).status_code == 201
