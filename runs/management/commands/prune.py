"""manage.py prune --older-than DAYS / --keep N [--dry-run] [--vacuum]: runs/retention.py."""

import argparse
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from runs import retention


def _days(value):
    try:
        days = float(value)
    except ValueError:
        days = -1
    if not days >= 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"DAYS must be a number of days, 0 or more, not {value!r}")
    return days


def _count(value):
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"N must be a whole number of runs, 0 or more, not {value!r}")
    return int(value)


def _batch(value):
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise argparse.ArgumentTypeError(f"the batch size must be a whole number from 1 to 10000, not {value!r}")
    return int(value)


def _size(n):
    return f"{n / 1e6:.1f} MB"


class Command(BaseCommand):
    help = (
        "Delete finished runs with all their data (replies, messages, answers, spans, traces), in small "
        "batches that never hold agents' writes up for long. A running or waiting run is never deleted. "
        "With both options, a run goes only if it is older than DAYS and not among its project's newest N."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=_days,
            metavar="DAYS",
            help="runs whose last activity is older than this many days, and spans of no run as old",
        )
        parser.add_argument("--keep", type=_count, metavar="N", help="keep the newest N runs of each project")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
        parser.add_argument(
            "--batch-size", type=_batch, default=retention.BATCH, help="rows a transaction (%(default)s)"
        )
        parser.add_argument(
            "--vacuum",
            action="store_true",
            help="SQLite: afterwards, one full VACUUM that gives back all free space and turns on incremental "
            "auto_vacuum, so later prunes give theirs back by themselves (blocks writers while it runs)",
        )

    def handle(self, *args, older_than, keep, dry_run, batch_size, vacuum, **options):
        if older_than is None and keep is None and not vacuum:
            raise CommandError("Say what to prune: --older-than DAYS, --keep N, or both (see --help).")
        age = None if older_than is None else timedelta(days=older_than)
        if age is not None or keep is not None:
            report = retention.prune(
                older_than=age, keep=keep, dry_run=dry_run, batch=batch_size, say=self.stdout.write
            )
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(
                f"{verb} {report.runs} run(s), {report.messages} message(s), {report.spans} span(s), "
                f"{report.traces} trace(s)."
            )
            for project, runs in sorted(report.by_project.items()):
                self.stdout.write(f"  {project}: {runs} run(s)")
            if report.skipped:
                self.stdout.write(f"Left alone, live again or written to meanwhile: {', '.join(report.skipped)}")
            if report.freed_bytes:
                self.stdout.write(f"Gave {_size(report.freed_bytes)} back to the file system.")
            if report.free_bytes and not vacuum:
                self.stdout.write(
                    f"{_size(report.free_bytes)} is free inside the database file and will be reused; "
                    "this database predates incremental auto_vacuum: `prune --vacuum` gives it back once."
                )
        if vacuum and not dry_run:
            self.stdout.write(f"VACUUM gave {_size(retention.vacuum())} back to the file system.")
