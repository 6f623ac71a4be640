from django.urls import path, re_path

from . import views

# Run ids are the client's and may hold any character, "/" included: match lazily up to the suffix.
RUN = r"(?P<run_id>.+?)"

urlpatterns = [
    # By the project's pk: under /projects/<name>/runs/ it would shadow a run whose id is "more".
    path("project-runs/<int:project_pk>/more/", views.run_list_more, name="run-list-more"),
    path("project-messages/<int:project_pk>/more/", views.message_hits_more, name="message-hits-more"),
    re_path(rf"^runs/{RUN}/older/$", views.older, name="run-older"),
    re_path(rf"^runs/{RUN}/details/$", views.run_details, name="run-details"),
    re_path(rf"^runs/{RUN}/delete/$", views.delete_run, name="run-delete"),
    re_path(rf"^runs/{RUN}/replies/(?P<reply_pk>\d+)/earlier/$", views.earlier_messages, name="reply-earlier"),
    re_path(rf"^runs/{RUN}/messages/(?P<message_pk>\d+)/$", views.message_inspector, name="message-inspector"),
    re_path(rf"^runs/{RUN}/messages/(?P<message_pk>\d+)/json$", views.message_json, name="message-json"),
    re_path(
        rf"^runs/{RUN}/messages/(?P<message_pk>\d+)/media/(?P<path>[0-9.]+)$", views.message_media, name="message-media"
    ),
    re_path(rf"^api/runs/{RUN}/inputs/(?P<request_id>.+)/answer$", views.answer_input, name="input-answer"),
    re_path(rf"^projects/(?P<project_name>.+)/runs/{RUN}/$", views.run_page, name="run"),
    re_path(r"^projects/(?P<project_name>.+)/$", views.run_page, name="project"),
]
