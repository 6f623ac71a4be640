"""The API's addresses: /api/v1/ (studio/api.py), its schema and its docs page."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from projects import api as projects
from runs import api as runs
from runs.urls import RUN
from studio.api import error_body
from traces import api as traces

TRACE = r"(?P<trace_id>[0-9a-f]{32})"


@csrf_exempt  # a POST to no address answers 404 too, not the CSRF page
@login_not_required
def not_found(request):
    return JsonResponse(error_body(f"No API address {request.path!r}: see /api/docs/"), status=404)


urlpatterns = [
    path("api/v1/projects", projects.ProjectList.as_view(), name="api-projects"),
    path("api/v1/projects/<int:pk>", projects.ProjectDetail.as_view(), name="api-project"),
    path("api/v1/runs", runs.RunList.as_view(), name="api-runs"),
    re_path(rf"^api/v1/runs/{RUN}/replies$", runs.ReplyList.as_view(), name="api-run-replies"),
    re_path(rf"^api/v1/runs/{RUN}/messages$", runs.MessageList.as_view(), name="api-run-messages"),
    re_path(rf"^api/v1/runs/{RUN}/inputs$", runs.InputRequestList.as_view(), name="api-run-inputs"),
    re_path(
        rf"^api/v1/runs/{RUN}/inputs/(?P<request_id>.+)/answer$", runs.AnswerInput.as_view(), name="api-input-answer"
    ),
    re_path(rf"^api/v1/runs/{RUN}/spans$", traces.RunSpans.as_view(), name="api-run-spans"),
    re_path(rf"^api/v1/runs/{RUN}/spans/otlp$", traces.RunSpansOtlp.as_view(), name="api-run-otlp"),
    re_path(rf"^api/v1/runs/{RUN}/traces$", traces.RunTraces.as_view(), name="api-run-traces"),
    re_path(rf"^api/v1/runs/{RUN}/stats$", traces.RunStatistics.as_view(), name="api-run-stats"),
    re_path(rf"^api/v1/runs/{RUN}/bundle$", runs.RunBundle.as_view(), name="api-run-bundle"),
    # Last: a run id may hold "/", and the addresses above end in a word of their own.
    re_path(r"^api/v1/runs/(?P<run_id>.+)$", runs.RunDetail.as_view(), name="api-run"),
    re_path(rf"^api/v1/traces/{TRACE}$", traces.TraceDetail.as_view(), name="api-trace"),
    re_path(rf"^api/v1/traces/{TRACE}/spans$", traces.TraceSpans.as_view(), name="api-trace-spans"),
    path("api/v1/bundles", runs.ImportBundle.as_view(), name="api-bundles"),
    path("api/v1/search", runs.SearchMessages.as_view(), name="api-search"),
    # The schema and its docs hold no data: readable without a login, for clients to be made from.
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("api/docs/", login_not_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", login_not_required(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    # Whatever else is under /api/ (a run id no pattern above takes, a mistyped address): the
    # API's 404, not a page's. (The older answer address, /api/runs/…, is the runs app's, after this.)
    re_path(r"^api/(?!runs/)", not_found, name="api-not-found"),
]
