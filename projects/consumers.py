from django.template.loader import render_to_string

from studio.consumers import PageConsumer

from . import access
from .events import PROJECTS_GROUP
from .models import Project
from .views import with_counts


class ProjectsConsumer(PageConsumer):
    """The projects page: a project's row is re-rendered when one of its runs changes.

    Every project's events reach every projects page (one group); in team mode each socket
    renders only those of the projects its person may see.
    """

    def setup(self):
        self.groups_to_join = [PROJECTS_GROUP]
        return True

    def render(self, event):
        project_id = event.get("project")
        deleted = event.get("kind") == "project" and event.get("deleted")
        if deleted:
            # Its row, if this page shows it; the id of a deleted project says nothing more.
            return render_to_string("projects/index.html#project-row-removed", {"project_id": project_id})
        if not self.may(project_id, access.VIEW):
            return ""
        project = with_counts(Project.objects.filter(pk=project_id)).first()
        if project is None:
            return render_to_string("projects/index.html#project-row-removed", {"project_id": project_id})
        managed = {project.pk} if self.may(project, access.MANAGE) else set()
        # A searched or re-sorted page takes it only if it shows the row (data-live-no-new).
        return render_to_string("projects/index.html#project-row", {"project": project, "managed": managed})
