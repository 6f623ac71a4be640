"""manage.py create_token PROJECT NAME: a project token for an agent program, printed once."""

from django.core.management.base import BaseCommand
from django.db import transaction

from projects.models import Project, ProjectToken


class Command(BaseCommand):
    help = (
        "Make a project token for agent programs (team mode) and print its secret, once: only its "
        "digest is stored. The project is made if it does not exist yet (agents' first registerRun "
        "would make it too)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's name, as agents pass it to agentscope.init(project=...)")
        parser.add_argument("name", help="what the token is for, shown on the project's settings page")

    def handle(self, project, name, **options):
        with transaction.atomic():
            project_row, created = Project.objects.get_or_create(name=project)
            token, secret = ProjectToken.objects.issue(project_row, name)
        if created:
            self.stderr.write(f"Made the project '{project}'.")
        self.stderr.write(
            f"Token '{token.name}' of project '{project}' (shown once, keep it secret). Give it to agents as "
            f"studio_url='http://studio:<token>@HOST:PORT', or as the header Authorization: Bearer <token>:"
        )
        # The secret alone on stdout, for scripts: TOKEN=$(manage.py create_token ...)
        self.stdout.write(secret)
