"""manage.py export_run RUN_ID FILE: the run as a bundle file (runs/bundles.py)."""

from django.core.management.base import BaseCommand, CommandError

from runs import bundles
from runs.models import Run


class Command(BaseCommand):
    help = "Write a run, whole (chat, answers, spans), to a bundle file: gzip-compressed JSON Lines."

    def add_arguments(self, parser):
        parser.add_argument("run_id")
        parser.add_argument("file", help="where to write it (.studio-run.jsonl.gz)")

    def handle(self, run_id, file, **options):
        run = Run.objects.select_related("project").filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No run {run_id!r}")
        with open(file, "wb") as out:
            bundles.write(run, out)
        self.stdout.write(f"Wrote run {run.pk!r} of {run.project.name!r} to {file}")
