"""What each person may do in a project: the one set of rules every surface asks.

Pages, htmx actions, the page WebSocket (connect and each answer), the HTTP answer endpoint,
the API and the admin all call `may` / `require` / `visible`. With login not required (the
local default, `studio.auth_mode`), everyone may do everything, as before.

- viewer: sees the project's pages, traces and API;
- member: also answers its input requests;
- admin: also deletes runs and the project, and manages its tokens and members.

A project token (`Authorization: Bearer sst_…`, authenticated by the API's
`studio.api.ProjectTokenAuthentication`) reads its own project through the API: VIEW there,
nothing elsewhere, nothing more.

Superusers are admin everywhere. A logged-in person with no membership of a project has
STUDIO_DEFAULT_ROLE there ("viewer" unless set; "none" hides projects nobody added them to),
so a project that an agent creates is seen by the whole team and answered by its members.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from studio import auth_mode

from .models import Membership, Project, ProjectToken, Role

VIEW, ANSWER, MANAGE = Role.VIEWER, Role.MEMBER, Role.ADMIN  # the role each kind of action needs


def default_role():
    value = settings.STUDIO_DEFAULT_ROLE
    return Role(value) if value in Role.values else None


def role_of(user, project):
    """This person's role in this project (a Project or its pk), or None."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    project_id = getattr(project, "pk", project)
    if project_id is None:
        return None  # what belongs to no project yet (a span waiting for its run): superusers only
    role = Membership.objects.filter(user=user, project_id=project_id).values_list("role", flat=True).first()
    return Role(role) if role else default_role()


def login_required(request):
    """Cached on the request: the middleware and every check ask it."""
    required = getattr(request, "_studio_login_required", None)
    if required is None:
        required = request._studio_login_required = auth_mode.required_for_request(request)
    return required


def may(user, project, needed, login_is_required=True):
    """Whether this person may do what needs the role `needed` in this project."""
    if not login_is_required:
        return True
    role = role_of(user, project)
    return role is not None and role.rank >= Role(needed).rank


def token_of(request):
    """The project token an API request authenticated with, or None (a person, or the pages)."""
    auth = getattr(request, "auth", None)  # DRF's request; a plain HttpRequest has none
    return auth if isinstance(auth, ProjectToken) else None


def token_may(token, project, needed):
    """A project token may read its own project, and do nothing else anywhere."""
    return Role(needed) == VIEW and getattr(project, "pk", project) == token.project_id


def require(request, project, needed):
    """Raise 404 when the person may not see the project at all (its name stays private), else
    403 when their role is below `needed`."""
    required = login_required(request)
    token = token_of(request) if required else None
    if token is not None:
        if token_may(token, project, needed):
            return
        if getattr(project, "pk", project) == token.project_id:
            raise PermissionDenied("A project token only reads its project: log in to do this.")
        raise Http404("No such project")
    if may(request.user, project, needed, required):
        return
    if needed != VIEW and may(request.user, project, VIEW, required):
        raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role in this project.")
    raise Http404("No such project")


def visible(user, projects=None, login_is_required=True):
    """The projects (a queryset) this person may see."""
    projects = Project.objects.all() if projects is None else projects
    if not login_is_required or (user is not None and user.is_active and user.is_superuser):
        return projects
    if user is None or not user.is_authenticated or not user.is_active:
        return projects.none()
    if default_role() is not None:
        return projects
    return projects.filter(Q(memberships__user=user)).distinct()


def visible_to(request, projects=None):
    """The projects (a queryset) this request may see: a token's own project, or the person's."""
    required = login_required(request)
    token = token_of(request) if required else None
    if token is not None:
        projects = Project.objects.all() if projects is None else projects
        return projects.filter(pk=token.project_id)
    return visible(request.user, projects, required)


def where_may(user, project_ids, needed, login_is_required=True):
    """Of these project ids, the set where this person may do what needs `needed` (one query)."""
    project_ids = set(project_ids)
    if not login_is_required:
        return project_ids
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return project_ids
    roles = dict(Membership.objects.filter(user=user, project_id__in=project_ids).values_list("project_id", "role"))
    fallback = default_role()
    allowed = set()
    for project_id in project_ids:
        role = Role(roles[project_id]) if project_id in roles else fallback
        if role is not None and role.rank >= Role(needed).rank:
            allowed.add(project_id)
    return allowed


def may_create_projects(user, login_is_required=True):
    """Superusers, and people given Django's "add project" permission (in the admin)."""
    if not login_is_required:
        return True
    return user is not None and user.is_active and user.has_perm("projects.add_project")


def may_import_into(user, project_name, login_is_required=True):
    """A run bundle brings a whole run into the project it names: that needs the admin role
    there, or, for a project that does not exist yet, the right to make projects."""
    if not login_is_required:
        return True
    project_id = Project.objects.filter(name=project_name).values_list("pk", flat=True).first()
    if project_id is None:
        return may_create_projects(user)
    return may(user, project_id, MANAGE)


def may_import_somewhere(user, login_is_required=True):
    """Whether to offer the projects page's import form: some project would take a bundle."""
    if not login_is_required or may_create_projects(user):
        return True
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return default_role() == Role.ADMIN or Membership.objects.filter(user=user, role=Role.ADMIN).exists()


def may_use_admin(user, login_is_required=True):
    """The Django admin: staff on a local Studio (as Django has it); only superusers in team mode,
    where the admin's model permissions would cut across projects' roles."""
    if user is None or not user.is_active:
        return False
    return user.is_superuser if login_is_required else user.is_staff
