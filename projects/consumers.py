from django.template.loader import render_to_string

from studio.consumers import LivePageConsumer

from .events import PROJECTS_GROUP
from .models import Project
from .views import with_counts


class ProjectsConsumer(LivePageConsumer):
    """The projects page: a project's row is re-rendered when one of its runs changes."""

    def setup(self):
        self.groups_to_join = [PROJECTS_GROUP]
        return True

    def render(self, event):
        project_id = event.get("project")
        deleted = event.get("kind") == "project" and event.get("deleted")
        project = None if deleted else with_counts(Project.objects.filter(pk=project_id)).first()
        if project is None:
            return render_to_string("projects/index.html#project-row-removed", {"project_id": project_id})
        # A searched or re-sorted page takes it only if it shows the row (data-live-no-new).
        return render_to_string("projects/index.html#project-row", {"project": project})
