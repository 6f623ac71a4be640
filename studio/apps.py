from django.apps import AppConfig


class StudioConfig(AppConfig):
    """The project package as an app: it carries the runserver command and template tags."""

    name = "studio"

    def ready(self):
        from django.db.backends.signals import connection_created

        from .db import give_agent_threads_a_big_cache

        connection_created.connect(give_agent_threads_a_big_cache, dispatch_uid="studio-agent-cache")
