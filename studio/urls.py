from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from runs.procedures import PROCEDURES
from runs.trpc import error_response
from traces.views import ingest_traces


@csrf_exempt
@login_not_required
def unknown_procedure(request, procedure):
    return error_response(procedure, f"No procedure '{procedure}'", 404)


urlpatterns = [
    # A studio_url with a trailing slash makes the client post to //trpc/...: accept any
    # number of leading slashes, and never redirect (a 3xx turns the POST into a GET).
    *(re_path(rf"^(?:/+)?trpc/{name}/?$", view, name=f"trpc-{name}") for name, view in PROCEDURES.items()),
    re_path(r"^(?:/+)?trpc/(?P<procedure>[^/]*)/?$", unknown_procedure),
    re_path(r"^(?:/+)?v1/traces/?$", ingest_traces, name="otlp-traces"),
    path("admin/", admin.site.urls),
    path("", include("studio.api_urls")),
    # Django's views in Studio's layout; LoginView keeps its POST out of error reports.
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("projects.urls")),
    path("", include("traces.urls")),
    path("", include("runs.urls")),
]
