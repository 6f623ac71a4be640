from django.urls import path

from . import views

urlpatterns = [
    path("", views.project_list, name="projects"),
    path("project-delete/<int:pk>/", views.delete_project, name="project-delete"),
]
