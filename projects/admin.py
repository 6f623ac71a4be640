from django.contrib import admin

from .models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "last_activity_at"]
    search_fields = ["name"]
    date_hierarchy = "last_activity_at"
