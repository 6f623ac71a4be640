"""People's logins in team mode: who must log in, where they are sent, and whom axes counts.

With login not required (`studio.auth_mode`: the local default) nothing here does anything but
ask that one cheap question: no session is read, no query is made. With it required, an
anonymous request for a page is sent to the login page (`?next=` the page), an htmx request gets
401 with `HX-Redirect` to it (htmx then loads the login page instead of swapping in a fragment),
and the JSON API a 401 in its own error shape. The login page, static files (WhiteNoise serves
them before any view) and the agent endpoints (no middleware at all) stay reachable.

Repeated failed logins are locked out by django-axes (settings: per username and address).
"""

from urllib.parse import urlsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url

from projects import access
from studio.auth_mode import is_loopback

API_PREFIX = "/api/"


class TeamLoginRequired(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, on only when `access.login_required(request)`."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not access.login_required(request):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        login_url = resolve_url(self.get_login_url(view_func))
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"error": "Log in first", "login": login_url}, status=401)
        if getattr(request, "htmx", False):
            # The page the fragment was for, not the fragment: after logging in, that page.
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = (current.path or "/") + (f"?{current.query}" if current.query else "")
            response = HttpResponse(status=401)
            response["HX-Redirect"] = redirect_to_login(back, login_url)["Location"]
            return response
        return super().handle_no_permission(request, view_func)


def team_mode(request):
    """Template context: whether this request is held to a login (the header shows who is in)."""
    return {"team_mode": access.login_required(request)}


def client_address(request):
    """The address axes counts failures against.

    Behind nginx on the same machine every request comes from loopback: there the address nginx
    saw is the last one of X-Forwarded-For (nginx's `$proxy_add_x_forwarded_for` appends it), or
    X-Real-IP. Those headers are believed only from loopback, where only the proxy (or the
    machine's own programs) can send them; a client that reaches Studio directly cannot choose
    the address it is counted under.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    if not is_loopback(remote):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[-1].strip()[:64] or remote
    return request.META.get("HTTP_X_REAL_IP", "").strip()[:64] or remote
