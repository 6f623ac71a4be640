from django.db import models
from django.utils import timezone


class Project(models.Model):
    """A named group of runs; created by the first registerRun that names it."""

    name = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped (at most once a second per run) by every write of one of its runs.
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Projects page, default sort: most recently active first.
            models.Index(fields=["-last_activity_at"], name="project_recent_idx"),
        ]

    def __str__(self):
        return self.name
