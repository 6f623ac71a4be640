from django.contrib import admin, messages
from django.utils import timezone

from runs import agent_link

from .models import Membership, Project, ProjectToken


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "last_activity_at"]
    search_fields = ["name"]
    date_hierarchy = "last_activity_at"
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]
    list_editable = ["role"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]
    list_select_related = ["user", "project"]


@admin.register(ProjectToken)
class ProjectTokenAdmin(admin.ModelAdmin):
    """Listed and revoked here; made on the project's settings page or by `manage.py create_token`,
    which show the secret once.

    The secret is never stored, so nothing here can show it; the digest is left out too.
    """

    list_display = ["name", "project", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "hint", "project__name"]
    list_select_related = ["project", "created_by"]
    fields = ["name", "project", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: a token is revoked (the action), never edited

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        live = list(queryset.filter(revoked_at=None).values_list("pk", flat=True))
        count = ProjectToken.objects.filter(pk__in=live).update(revoked_at=timezone.now())
        agent_link.close_revoked_now(live)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
