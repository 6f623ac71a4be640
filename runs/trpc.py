"""The tRPC wire shape the AgentScope client speaks: one success body, one error body.

Every /trpc/* view subclasses `TrpcView`; anything that goes wrong in it, from an unparsable
body to a missing field or a `Rejected` raised by the code it calls, leaves as a tRPC error
envelope with the right HTTP status.
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from projects import tokens
from studio import origins, storable
from studio.rejected import Rejected

# tRPC error codes (JSON-RPC 2.0 numbers) by HTTP status.
TRPC_CODES = {
    400: ("BAD_REQUEST", -32600),
    401: ("UNAUTHORIZED", -32001),
    403: ("FORBIDDEN", -32003),
    404: ("NOT_FOUND", -32004),
    405: ("METHOD_NOT_SUPPORTED", -32005),
    409: ("CONFLICT", -32009),
    413: ("PAYLOAD_TOO_LARGE", -32013),
    415: ("UNSUPPORTED_MEDIA_TYPE", -32015),
    500: ("INTERNAL_SERVER_ERROR", -32603),
}
PARSE_ERROR = -32700


def success(data=None):
    return Response({"result": {"data": data} if data is not None else {}})


def error_body(procedure, message, status=400, field=None, json_rpc_code=None):
    name, code = TRPC_CODES.get(status, TRPC_CODES[400])
    # Messages may quote the client's value, which JSON let carry a lone surrogate (not UTF-8).
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    data = {"code": name, "httpStatus": status, "path": procedure}
    if field:
        data["field"] = field
    return {"error": {"message": message, "code": json_rpc_code or code, "data": data}}


def error(procedure, message, status=400, field=None, json_rpc_code=None):
    return Response(error_body(procedure, message, status, field, json_rpc_code), status=status)


def error_response(procedure, message, status=400, field=None):
    """The same envelope from a plain Django view."""
    return JsonResponse(error_body(procedure, message, status, field), status=status)


def first_error(detail, prefix=""):
    """The first (field path, message) of a DRF ValidationError detail, e.g. ('msg.id', ...)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = prefix if key == "non_field_errors" else f"{prefix}.{key}" if prefix else str(key)
            return first_error(value, path)
    if isinstance(detail, list) and detail:
        if all(isinstance(item, str) for item in detail):
            # A nested check (content blocks) may name a deeper path in the error code.
            code = getattr(detail[0], "code", None)
            if isinstance(code, str) and prefix and code.startswith(prefix + "["):
                return code, str(detail[0])
            return prefix, str(detail[0])
        for index, item in enumerate(detail):
            if item:
                return first_error(item, f"{prefix}[{index}]" if prefix else f"[{index}]")
    return prefix, str(detail)


class JsonOnly(DefaultContentNegotiation):
    """Every answer is JSON, whatever the Accept header says (the client sends none that matters):
    DRF's default negotiation parsed the header's media types on every call. The request's
    Content-Type is still checked (415)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class StorableJSONParser(JSONParser):
    """DRF's JSON parser with the edge's text rule: unstorable characters become U+FFFD."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return storable.loads(stream.read() if stream is not None else b"")
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


class TrpcView(APIView):
    """A POST-only tRPC procedure; subclasses implement `call(data, token)`: token is the agent's
    ProjectToken where one is required (team mode, `projects.tokens`), else None."""

    procedure = ""
    http_method_names = ["post", "options"]
    content_negotiation_class = JsonOnly
    parser_classes = [StorableJSONParser]

    def post(self, request, *args, **kwargs):
        # The agent endpoints run without CommonMiddleware: check the Host header here, so a
        # page elsewhere cannot reach this server through DNS rebinding.
        try:
            request.get_host()
        except DisallowedHost:
            where = {"type": "http", "path": request.path, "client": (request.META.get("REMOTE_ADDR", "?"), 0)}
            origins.log_refusal(where, origins.host_refusal(request.META.get("HTTP_HOST")))
            return error(self.procedure, "Host not allowed: add it to ALLOWED_HOSTS", 400, "Host")
        # DRF reads the body stream itself, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return error(self.procedure, f"Request body is larger than {limit} bytes", 413)
        try:
            token = tokens.for_request(request)
        except Rejected as exc:
            response = error(self.procedure, exc.message, exc.status, exc.field)
            response["WWW-Authenticate"] = tokens.CHALLENGE
            return response
        data = request.data
        if not isinstance(data, dict):
            return error(self.procedure, "Request body must be a JSON object", 400)
        try:
            return success(self.call(data, token))
        except Rejected as exc:
            return error(self.procedure, exc.message, exc.status, exc.field or None)

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.ValidationError):
            field, message = first_error(exc.detail)
            text = f"{field}: {message}" if field else message
            return error(self.procedure, text, 400, field or None)
        if isinstance(exc, exceptions.ParseError):
            return error(self.procedure, f"Invalid JSON: {exc.detail}", 400, json_rpc_code=PARSE_ERROR)
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return error(self.procedure, "Content-Type must be application/json", 415)
        if isinstance(exc, exceptions.MethodNotAllowed):
            return error(self.procedure, f"Use POST for {self.procedure}", 405)
        if isinstance(exc, RequestDataTooBig):
            return error(self.procedure, "Request body is too large", 413)
        if isinstance(exc, RecursionError):
            # Python's json (parsing, or storing) gives up on arrays/objects nested ~1000 deep.
            return error(self.procedure, "Invalid JSON: nested too deeply", 400, json_rpc_code=PARSE_ERROR)
        return super().handle_exception(exc)
