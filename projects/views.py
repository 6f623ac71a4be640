"""The projects page: every project with its runs counted by status."""

from django.core.paginator import Paginator
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from runs.models import Run
from studio import live
from studio.db import writing
from studio.htmx import render_page
from traces.models import Trace

from . import events
from .models import Project

PROJECTS_PER_PAGE = 25
SORTS = {
    "recent": ("-last_activity_at", "Last activity"),
    "name": ("name", "Name"),
    "created": ("-created_at", "First seen"),
    "runs": ("-run_count", "Most runs"),
}


def with_counts(projects):
    """Annotate projects with their number of runs per status."""
    status = Run.Status
    return projects.annotate(
        run_count=Count("runs"),
        running=Count("runs", filter=Q(runs__status=status.RUNNING)),
        waiting=Count("runs", filter=Q(runs__status=status.WAITING)),
        finished=Count("runs", filter=Q(runs__status=status.FINISHED)),
        errored=Count("runs", filter=Q(runs__status=status.ERROR)),
        newest_run=Max("runs__started_at"),
        # Programs other than agentscope send only spans: their project has traces, no runs.
        has_traces=Exists(Trace.objects.filter(project=OuterRef("pk"))),
    )


def project_list(request):
    query = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "recent")
    if sort not in SORTS:
        sort = "recent"
    projects = with_counts(Project.objects.all())
    if query:
        projects = projects.filter(name__icontains=query)
    projects = projects.order_by(SORTS[sort][0], "pk")
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "projects": page.object_list, "q": query, "sort": sort, "sorts": SORTS}
    return render_page(request, "projects/index.html", context)


@require_POST
def delete_project(request, pk):
    project = get_object_or_404(Project, pk=pk)
    with writing():
        project.delete()
        live.publish_on_commit(events.project_changed(pk, deleted=True))
    if request.htmx:
        return HttpResponse("")
    return redirect("projects")
