from django.contrib import admin

from .models import Membership, Project, ProjectToken


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "last_activity_at"]
    search_fields = ["name"]
    date_hierarchy = "last_activity_at"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "project__name"]
    raw_id_fields = ["user", "project"]


@admin.register(ProjectToken)
class ProjectTokenAdmin(admin.ModelAdmin):
    """Seen and revoked here; made by the project's settings page or `manage.py create_token`,
    which show the secret once (the admin's add form has no place to)."""

    list_display = ["name", "project", "hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["project"]
    search_fields = ["name", "project__name", "hint"]
    list_select_related = ["project"]
    fields = ["project", "name", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["project", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at=None):
            token.revoke()
