from django.urls import re_path

from runs.urls import RUN

from . import views

urlpatterns = [
    re_path(rf"^runs/{RUN}/trace/$", views.run_trace, name="run-trace"),
    re_path(rf"^runs/{RUN}/replies/(?P<reply_pk>\d+)/spans/$", views.reply_spans, name="reply-spans"),
    re_path(r"^spans/(?P<pk>\d+)/$", views.span_detail, name="span-detail"),
    re_path(r"^spans/(?P<pk>\d+)/children/$", views.span_children, name="span-children"),
    # Before the runs app's catch-all project page (a project named "x/traces" loses its run list).
    re_path(r"^projects/(?P<project_name>.+)/traces/(?P<trace_id>[0-9a-f]{32})/$", views.trace_page, name="trace"),
    re_path(r"^projects/(?P<project_name>.+)/traces/$", views.project_traces, name="project-traces"),
]
