"""The live events of projects, and the groups of the pages that show projects.

Each builder returns (groups, event) for `studio.live.publish`. An event's "kind" and "key" say
which thing changed: events with the same two that wait to be rendered collapse into one.
"""

PROJECTS_GROUP = "projects"


def project_group(project_id):
    """The pages of one project's runs."""
    return f"project.{project_id}"


def project_changed(project_id, deleted=False):
    groups = [PROJECTS_GROUP, project_group(project_id)]
    return groups, {"kind": "project", "key": project_id, "project": project_id, "deleted": deleted}


def project_active(project_id):
    """Its last activity moved: the projects page's row."""
    return [PROJECTS_GROUP], {"kind": "project", "key": project_id, "project": project_id}
