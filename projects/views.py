"""The projects page: every project the person may see, with its runs counted by status; and a
project's settings page (members and their roles, API tokens) for its admins."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from runs import agent_link, bundles
from runs.models import Run
from studio import live
from studio.db import writing
from studio.htmx import render_page
from studio.rejected import Rejected
from studio.storable import storable
from traces.models import Trace

from . import access, events, overview
from .models import Membership, Project, ProjectToken, Role

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
    required = access.login_required(request)
    projects = with_counts(access.visible(request.user, Project.objects.all(), required))
    if query:
        projects = projects.filter(name__icontains=query)
    projects = projects.order_by(SORTS[sort][0], "pk")
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "projects": page.object_list,
        "q": query,
        "sort": sort,
        "sorts": SORTS,
        # The rows whose Delete button this person may use.
        "managed": access.where_may(request.user, [p.pk for p in page.object_list], access.MANAGE, required),
        # Agents make projects by naming them; in team mode people with the permission may too.
        "may_create": required and access.may_create_projects(request.user),
        "may_import": access.may_import_somewhere(request.user, required),
    }
    return render_page(request, "projects/index.html", context)


@require_GET
def overview_page(request):
    """Projects, runs, messages, spans, tokens by model and by month: of what this person may see."""
    required = access.login_required(request)
    visible = list(access.visible(request.user, Project.objects.all(), required).values_list("pk", flat=True))
    # Everything visible (locally, always): no filter, so every count is one index's size.
    project_ids = None if len(visible) == Project.objects.count() else visible
    context = overview.figures(project_ids, timezone.now())
    return render(request, "projects/overview.html", context)


@require_POST
def create_project(request):
    """The projects page's New project form (team mode): its maker becomes its admin."""
    if not access.may_create_projects(request.user, access.login_required(request)):
        raise PermissionDenied("Making projects needs the “add project” permission.")
    name = storable(request.POST.get("name", "")).strip()
    error = None
    if not name:
        error = "Give the project a name."
    elif len(name) > Project._meta.get_field("name").max_length:
        error = "A project's name is at most 255 characters."
    else:
        try:
            with writing():
                project = Project.objects.create(name=name)
                if request.user.is_authenticated:
                    Membership.objects.create(project=project, user=request.user, role=Role.ADMIN)
                live.publish_on_commit(events.project_changed(project.pk))
        except IntegrityError:
            error = f"There is already a project named “{name}”."
    if error:
        return render(request, "projects/index.html#new-project", {"new_error": error, "new_name": name}, status=400)
    url = reverse("project-settings", args=[project.name])
    if request.htmx:
        response = HttpResponse(status=201)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_POST
def import_run(request):
    """The projects page's import form: a run bundle (runs/bundles.py) into the project it names.
    Refusals are shown in the form (a broken file, a role that may not import there)."""
    upload = request.FILES.get("bundle")
    error = None
    if upload is None:
        error = "Choose a run bundle file (.studio-run.jsonl.gz)."
    else:
        try:
            bundle = bundles.read(upload.read())
            if not access.may_import_into(request.user, bundle.project, access.login_required(request)):
                raise Rejected(bundles.IMPORT_REFUSED, 403)
            imported = bundles.store(bundle)
        except Rejected as exc:
            error = exc.message
    if error:
        return render(request, "projects/index.html#import-run", {"import_error": error}, status=400)
    url = reverse("run", args=[imported.project, imported.run])
    if request.htmx:
        response = HttpResponse(status=201)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@require_POST
def delete_project(request, pk):
    project = get_object_or_404(Project, pk=pk)
    access.require(request, project, access.MANAGE)
    with writing():
        project.delete()
        live.publish_on_commit(events.project_changed(pk, deleted=True))
    if request.htmx:
        return HttpResponse("")
    return redirect("projects")


# ---- a project's settings: its members and roles, its API tokens (project admins only) ----


def _managed_project(request, **lookup):
    project = get_object_or_404(Project, **lookup)
    access.require(request, project, access.MANAGE)
    return project


def _members(project):
    return project.memberships.select_related("user").order_by("user__username")


def _tokens(project):
    return project.tokens.select_related("created_by").order_by("revoked_at", "-created_at")


def _settings_context(request, project, **extra):
    return {
        "project": project,
        "members": _members(project),
        "tokens": _tokens(project),
        "roles": Role.choices,
        # The studio_url an agent uses with a token: the token as the URL's user name.
        "agent_host": request.get_host(),
        "agent_scheme": request.scheme,
        **extra,
    }


@require_GET
def project_settings(request, project_name):
    project = _managed_project(request, name=project_name)
    return render(request, "projects/settings.html", _settings_context(request, project))


@require_POST
def save_member(request, pk):
    """Add a person (by username) with a role, or change the role of one who is a member."""
    project = _managed_project(request, pk=pk)
    username = storable(request.POST.get("username", "")).strip()
    role = request.POST.get("role", "")
    error = None
    user = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
    if role not in Role.values:
        error = "Choose a role: viewer, member or admin."
    elif user is None:
        error = f"No active person is named “{username}”." if username else "Give the person's username."
    else:
        with writing():
            if Membership.objects.leaves_no_admin(project, user, role):
                error = _last_admin(user)
            else:
                Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    context = _settings_context(request, project, member_error=error, member_username=username if error else "")
    return render(request, "projects/settings.html#members", context, status=400 if error else 200)


def _last_admin(user):
    return f"{user.get_username()} is the project's last admin: make someone else an admin first."


@require_POST
def remove_member(request, pk, membership_pk):
    project = _managed_project(request, pk=pk)
    error = None
    with writing():
        membership = Membership.objects.filter(project=project, pk=membership_pk).select_related("user").first()
        if membership is not None and Membership.objects.leaves_no_admin(project, membership.user):
            error = _last_admin(membership.user)
        elif membership is not None:
            membership.delete()
    context = _settings_context(request, project, member_error=error)
    return render(request, "projects/settings.html#members", context, status=400 if error else 200)


@sensitive_variables("secret")
@sensitive_post_parameters()
@require_POST
def create_token(request, pk):
    """A new API token: its secret is in this one answer, and stored only as a digest."""
    project = _managed_project(request, pk=pk)
    name = storable(request.POST.get("name", "")).strip()
    if not name:
        context = _settings_context(request, project, token_error="Name the token (who or what uses it).")
        return render(request, "projects/settings.html#tokens", context, status=400)
    creator = request.user if request.user.is_authenticated else None
    with writing():
        token, secret = ProjectToken.objects.issue(project, name, created_by=creator)
    response = render(
        request, "projects/settings.html#tokens", _settings_context(request, project, new_token=token, secret=secret)
    )
    response["Cache-Control"] = "no-store"  # the secret is shown once: never from a cache
    return response


@require_POST
def revoke_token(request, pk, token_pk):
    project = _managed_project(request, pk=pk)
    token = get_object_or_404(ProjectToken, project=project, pk=token_pk)
    with writing():
        token.revoke()
    agent_link.close_revoked_now([token.pk])
    return render(request, "projects/settings.html#tokens", _settings_context(request, project))
