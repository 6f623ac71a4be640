import logging

from django.conf import settings
from django.db import OperationalError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import ingest, otlp

log = logging.getLogger(__name__)


def _answer(body_and_type, status=200, **headers):
    body, content_type = body_and_type
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in headers.items():
        response[name] = value
    return response


@csrf_exempt
def ingest_traces(request):
    """OTLP/HTTP trace export (opentelemetry.io/docs/specs/otlp/#otlphttp-request)."""
    if request.method != "POST":
        return _answer(otlp.error_body(otlp.JSON, 405, "Use POST"), 405, Allow="POST")
    try:
        fmt = otlp.body_format(request.content_type)
    except otlp.OtlpError as exc:
        # The request's format is unknown: answer in JSON, readable by a person with curl.
        return _answer(otlp.error_body(otlp.JSON, exc.status, exc.message), exc.status)
    limit = settings.OTLP_MAX_BODY_BYTES
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _answer(otlp.error_body(fmt, 413, f"The body is larger than {limit} bytes"), 413)
    try:
        decoded = otlp.decode(request.body, request.content_type, request.headers.get("Content-Encoding"), limit)
    except otlp.OtlpError as exc:
        return _answer(otlp.error_body(fmt, exc.status, exc.message), exc.status)
    try:
        ingest.store(decoded.spans)
    except OperationalError:
        # A locked or unreachable database: the exporter retries a 503 after Retry-After.
        log.exception("storing %d spans failed", len(decoded.spans))
        return _answer(otlp.error_body(fmt, 503, "The database is busy; try again"), 503, **{"Retry-After": "2"})
    return _answer(otlp.success_body(fmt, decoded.rejected))
