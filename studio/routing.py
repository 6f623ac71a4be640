from django.urls import path, re_path

from projects.consumers import ProjectsConsumer
from runs.consumers import ProjectRunsConsumer, RunConsumer

websocket_urlpatterns = [
    path("ws/projects/", ProjectsConsumer.as_asgi()),
    path("ws/projects/<int:project_id>/runs/", ProjectRunsConsumer.as_asgi()),
    re_path(r"^ws/runs/(?P<run_id>.+)/$", RunConsumer.as_asgi()),
]
