"""The plumbing of the API under /api/v1/: who is asking, the error shape, pages of results.

Every API view derives from `ApiView`, which sets its own authentication and permissions (the
REST_FRAMEWORK defaults have none: the agent endpoints use DRF without them, for speed):

- a person's session (DRF's SessionAuthentication: a POST needs the CSRF token, as a page's);
- a project token, `Authorization: Bearer sst_…`, which reads its own project.

What each may then do is `projects.access`'s, asked by each view (`access.require`,
`access.visible_to`). With no login required (the local default) everyone may do everything
and a token sent is ignored, as on the agent endpoints; in team mode an anonymous request gets
401. The views are exempt from the login middleware, which would refuse a token's request as
anonymous: the permission here says 401 instead, in the API's error shape.

Every error is `{"error": "<for a person>", "errors": {"<field or parameter>": "<why>"}}`, as the
answer endpoint's always was; a bad query parameter is a 400 naming it, never a 500.
"""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from projects import access, tokens
from projects.models import ProjectToken
from studio.rejected import Rejected


class ProjectTokenAuthentication(BaseAuthentication):
    """A project token (`Bearer sst_…`, or Basic as agents send it), where a login is required."""

    def authenticate(self, request):
        if not access.login_required(request):
            return None  # the local default: nobody needs one, and one sent is not checked
        # One parser of Authorization for every surface (projects/tokens.py).
        secret = tokens.secret_in(request.META.get("HTTP_AUTHORIZATION"))
        if secret is None:
            return None  # perhaps a session
        token = ProjectToken.objects.authenticate(secret)
        if token is None:
            raise exceptions.AuthenticationFailed("This project token is unknown or revoked")
        token.mark_used(timezone.now())
        return None, token

    def authenticate_header(self, request):
        # First of the view's authenticators: its challenge makes a refusal a 401 (RFC 9110).
        return 'Bearer realm="Studio"'


class ProjectTokenScheme(OpenApiAuthenticationExtension):
    target_class = ProjectTokenAuthentication
    name = "projectToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A project token (sst_…): reads its project"}


class LoggedInOrToken(BasePermission):
    """Team mode: a person or a token, else 401. What they may do is asked per object."""

    def has_permission(self, request, view):
        if not access.login_required(request):
            return True
        if access.token_of(request) is not None:
            return True
        if request.user is not None and request.user.is_authenticated and request.user.is_active:
            return True
        raise exceptions.NotAuthenticated("Log in first, or send a project token (Authorization: Bearer sst_…)")


def error_body(message, errors=None):
    return {"error": message, "errors": errors or {}}


def _first_message(detail):
    while isinstance(detail, (list, dict)) and detail:
        detail = detail[0] if isinstance(detail, list) else next(iter(detail.values()))
    return str(detail)


def handle_exception(exc, context):
    """Every error of the API in its one shape (DRF's own is {"detail": ...}). DRF's handler
    still decides the status and headers (WWW-Authenticate, Retry-After)."""
    if isinstance(exc, Rejected):
        return Response(error_body(exc.message, exc.errors), status=exc.status)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        errors = {field: _first_message(value) for field, value in detail.items()}
        message = "; ".join(f"{field}: {why}" if field else why for field, why in errors.items())
        return Response(error_body(message, errors), status=400)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500
    if isinstance(exc, Http404):
        message = str(exc) or "Not found"
    elif isinstance(exc, DjangoPermissionDenied):
        message = str(exc) or "Your role may not do this"
    else:
        message = _first_message(exc.detail)
    response.data = error_body(message)
    if isinstance(exc, exceptions.NotAuthenticated):
        response.data["login"] = reverse("login")
    return response


class ApiView(APIView):
    """The base of every /api/v1/ view."""

    authentication_classes = [ProjectTokenAuthentication, SessionAuthentication]
    permission_classes = [LoggedInOrToken]
    renderer_classes = [JSONRenderer]

    @classmethod
    def as_view(cls, **initkwargs):
        # The permission above answers anonymous requests; the login middleware would refuse a
        # token's request (it has no session) before it.
        return login_not_required(super().as_view(**initkwargs))

    def get_exception_handler(self):
        return handle_exception

    def perform_content_negotiation(self, request, force=False):
        # JSON, or a file the view returns itself: an Accept header never makes a 406.
        return JSONRenderer(), JSONRenderer.media_type


class StudioCursor(CursorPagination):
    """Cursor pages (`?cursor=` from a page's `next`), `?limit=` items each (at most 500)."""

    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isdigit() or not 1 <= int(value) <= self.max_page_size:
            raise exceptions.ValidationError({"limit": f"must be a whole number from 1 to {self.max_page_size}"})
        return int(value)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise _bad_cursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        # A cursor that decodes but whose position is no value of the ordering field (made by
        # hand): the database's field refuses it while the query is built or run.
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError):
            raise _bad_cursor() from None


def _bad_cursor():
    return exceptions.ValidationError({"cursor": "is not a cursor this API gave (take a page's next)"})


def cursor(*ordering):
    """A cursor pagination in this order (its first field places the cursor)."""
    return type("Cursor", (StudioCursor,), {"ordering": ordering})


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What went wrong, for a person")
    errors = serializers.DictField(
        child=serializers.CharField(), help_text="The field or query parameter at fault → why"
    )
    login = serializers.CharField(required=False, help_text="Where to log in (401 only)")


def errors(*statuses):
    """The documented error responses of a view, in the one shape."""
    described = {
        400: "A parameter or the body is not valid: `errors` names it",
        401: "A login is required (team mode), or the token is unknown",
        403: "Your role (or a token) may not do this",
        404: "No such thing, or not one you may see",
        409: "It cannot be done in this state",
        413: "Too large",
        415: "Wrong Content-Type",
    }
    return {status: OpenApiResponse(ErrorSerializer, description=described[status]) for status in statuses}


READ_ERRORS = (400, 401, 403, 404)


def only_the_api(endpoints):
    """The schema's preprocessing hook: /api/v1/ only (the agent endpoints use DRF too, but are
    the agentscope client's protocol, not this API)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
