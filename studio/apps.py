from django.apps import AppConfig


class StudioConfig(AppConfig):
    """The project package as an app: it carries the runserver command and template tags."""

    name = "studio"
