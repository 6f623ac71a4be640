from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StudioConfig(AppConfig):
    """The project package as an app: it carries the runserver command and template tags."""

    name = "studio"
    default = True  # studio.apps also holds the admin's config

    def ready(self):
        from django.db.backends.signals import connection_created

        from .db import give_agent_threads_a_big_cache, new_databases_vacuum_incrementally

        connection_created.connect(give_agent_threads_a_big_cache, dispatch_uid="studio-agent-cache")
        connection_created.connect(new_databases_vacuum_incrementally, dispatch_uid="studio-incremental-vacuum")


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with Studio's site (studio/admin.py) as `admin.site`."""

    default = False
    default_site = "studio.admin.StudioAdminSite"
