from django.contrib import admin

from .models import AgentSocket, InputRequest, Message, Reply, Run, Worker


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "project", "status", "pid", "started_at", "last_activity_at", "agent_sockets"]
    list_filter = ["status", "project"]
    search_fields = ["id", "name", "project__name"]
    list_select_related = ["project"]
    date_hierarchy = "started_at"


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ["reply_id", "name", "role", "run", "created_at", "updated_at"]
    list_filter = ["role"]
    search_fields = ["reply_id", "name", "run__id"]
    raw_id_fields = ["run"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["msg_id", "name", "role", "run", "reply", "created_at", "updated_at"]
    list_filter = ["role"]
    search_fields = ["msg_id", "name", "run__id", "reply__reply_id"]
    raw_id_fields = ["run", "reply"]


@admin.register(InputRequest)
class InputRequestAdmin(admin.ModelAdmin):
    list_display = [
        "request_id",
        "agent_name",
        "run",
        "status",
        "created_at",
        "answered_at",
        "answered_by",
        "delivered_at",
    ]
    list_filter = ["status"]
    search_fields = ["request_id", "agent_name", "agent_id", "run__id"]
    raw_id_fields = ["run"]


class ViewOnly(admin.ModelAdmin):
    """What the server keeps for itself: shown, never edited (`Run.agent_sockets` counts the
    sockets, and both change together in RunQuerySet's methods only)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Worker)
class WorkerAdmin(ViewOnly):
    list_display = ["id", "host", "pid", "started_at", "seen_at"]


@admin.register(AgentSocket)
class AgentSocketAdmin(ViewOnly):
    list_display = ["sid", "run", "worker", "connected_at"]
    search_fields = ["sid", "run__id", "worker"]
