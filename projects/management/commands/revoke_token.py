"""manage.py revoke_token PROJECT NAME: refuse a project's tokens of that name from now on."""

from django.core.management.base import BaseCommand, CommandError

from projects.models import ProjectToken


class Command(BaseCommand):
    help = "Revoke the live tokens of this name in this project: agents using them are refused at once."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("name")

    def handle(self, project, name, **options):
        live = list(ProjectToken.objects.filter(project__name=project, name=name, revoked_at=None))
        if not live:
            raise CommandError(f"Project '{project}' has no live token named '{name}'")
        for token in live:
            token.revoke()
        self.stdout.write(f"Revoked {len(live)} token(s) '{name}' of project '{project}'.")
