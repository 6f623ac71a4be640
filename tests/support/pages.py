"""Every page a person opens on a run, fetched in process: for checking that none of them fails."""

from django.urls import reverse

from runs.models import Message, Run
from traces.models import Span


def run_pages(client, run_id, latest=None):
    """{url: response} for the run's page (both groupings), details, trace panel, its project's
    pages, and each message's inspector and JSON and each span's detail (the `latest` ones only,
    if given)."""
    run = Run.objects.select_related("project").get(pk=run_id)
    project = run.project.name
    urls = [
        reverse("run", args=[project, run_id]),
        reverse("run", args=[project, run_id]) + "?group=message",
        reverse("run-details", args=[run_id]),
        reverse("run-trace", args=[run_id]),
        reverse("projects"),
        reverse("project-traces", args=[project]),
    ]
    messages = Message.objects.filter(run=run).order_by("-pk")
    spans = Span.objects.filter(run=run).order_by("-pk")
    for message in messages[:latest] if latest else messages:
        urls += [
            reverse("message-inspector", args=[run_id, message.pk]),
            reverse("message-json", args=[run_id, message.pk]),
        ]
    for span in spans[:latest] if latest else spans:
        urls.append(reverse("span-detail", args=[span.pk]))
    return {url: client.get(url) for url in urls}


def assert_run_pages_render(client, run_id, latest=None):
    failing = {
        url: response.status_code
        for url, response in run_pages(client, run_id, latest).items()
        if response.status_code != 200
    }
    assert not failing, failing
