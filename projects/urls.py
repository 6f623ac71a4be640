from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.project_list, name="projects"),
    path("overview/", views.overview_page, name="overview"),
    path("project-delete/<int:pk>/", views.delete_project, name="project-delete"),
    path("project-new/", views.create_project, name="project-new"),
    path("run-import/", views.import_run, name="run-import"),
    # Before the runs app's catch-all project page (a project named "x/settings" loses its run list).
    re_path(r"^projects/(?P<project_name>.+)/settings/$", views.project_settings, name="project-settings"),
    path("project-settings/<int:pk>/members/", views.save_member, name="member-save"),
    path("project-settings/<int:pk>/members/<int:membership_pk>/remove/", views.remove_member, name="member-remove"),
    path("project-settings/<int:pk>/tokens/", views.create_token, name="token-create"),
    path("project-settings/<int:pk>/tokens/<int:token_pk>/revoke/", views.revoke_token, name="token-revoke"),
]
