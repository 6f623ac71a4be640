import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from studio.db import writing


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


class Role(models.TextChoices):
    """What a person may do in a project; each role may do everything the ones before it may."""

    VIEWER = "viewer", "Viewer"  # pages, traces, the API
    MEMBER = "member", "Member"  # also answers input requests
    ADMIN = "admin", "Admin"  # also deletes runs and the project, manages tokens and members

    @property
    def rank(self):
        return _RANKS[self]


_RANKS = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


class MembershipQuerySet(models.QuerySet):
    def leaves_no_admin(self, project, user, new_role=None):
        """Whether taking `user` out of `project` (or giving them `new_role`) would leave it with
        no admin. Call it inside the write's transaction: the admins' rows are locked, so that
        two admins demoting each other at once cannot both succeed."""
        if new_role == Role.ADMIN:
            return False
        admins = list(
            self.select_for_update().filter(project=project, role=Role.ADMIN).values_list("user_id", flat=True)
        )
        return admins == [user.pk]


class Membership(models.Model):
    """A person's role in one project (team mode). Without one, STUDIO_DEFAULT_ROLE applies."""

    objects = MembershipQuerySet.as_manager()

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_once_idx")]

    def __str__(self):
        return f"{self.user} · {self.project} · {self.role}"


TOKEN_PREFIX = "sst_"
# How stale a token's last_used_at may be: agents use theirs on every streaming chunk, and one
# UPDATE a minute is all the settings page needs to say "used 3 minutes ago".
USE_RESOLUTION = timedelta(minutes=1)


def _digest(secret):
    # Tokens are 256 random bits: a plain SHA-256 cannot be reversed or guessed, and finding a
    # token by its digest is one indexed lookup (a slow password hash would cost every push).
    return hashlib.sha256(secret.encode()).hexdigest()


class ProjectTokenQuerySet(models.QuerySet):
    def issue(self, project, name, created_by=None):
        """Make a token; return (token, secret). The secret is shown once and never stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(
            project=project,
            name=name[:100],
            digest=_digest(secret),
            hint=secret[: len(TOKEN_PREFIX) + 4],
            created_by=created_by,
        )
        return token, secret

    def authenticate(self, secret):
        """The live token this secret is, or None. Revoked tokens are refused at once: no cache."""
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        return self.select_related("project").filter(digest=_digest(secret), revoked_at=None).first()


class ProjectToken(models.Model):
    """An agent program's key to one project: /trpc/*, /v1/traces and the /python socket."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    # The first characters, so people can tell their tokens apart; not enough to use one.
    hint = models.CharField(max_length=16)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ProjectTokenQuerySet.as_manager()

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def mark_used(self, now):
        """Record a use, at most once per USE_RESOLUTION (the UPDATE's WHERE keeps it so across
        workers); returns whether it wrote."""
        if self.last_used_at is not None and now - self.last_used_at < USE_RESOLUTION:
            return False
        stale = Q(last_used_at=None) | Q(last_used_at__lt=now - USE_RESOLUTION)
        with writing():
            wrote = ProjectToken.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now
        return bool(wrote)

    def revoke(self):
        ProjectToken.objects.filter(pk=self.pk, revoked_at=None).update(revoked_at=timezone.now())
        self.refresh_from_db(fields=["revoked_at"])
