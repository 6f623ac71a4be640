"""manage.py import_run FILE: a run bundle into this Studio (runs/bundles.py)."""

from django.core.management.base import BaseCommand, CommandError

from runs import bundles
from studio.rejected import Rejected


class Command(BaseCommand):
    help = "Import a run bundle. Rows already here are kept; importing the same file again adds nothing."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, file, **options):
        try:
            with open(file, "rb") as source:
                data = source.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        try:
            imported = bundles.store(bundles.read(data))
        except Rejected as exc:
            raise CommandError(exc.message) from None
        added = ", ".join(f"{count} {kind.replace('_', ' ')}s" for kind, count in imported.added.items() if count)
        what = "new run" if imported.created else "run already here"
        self.stdout.write(
            f"Run {imported.run!r} of {imported.project!r} ({what}): {'added ' + added if added else 'added nothing'}"
        )
