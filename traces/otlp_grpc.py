"""OTLP over gRPC (`TraceService/Export`), for exporters that default to it or are set to it.

The same spans as `POST /v1/traces`: the request's bytes go through `otlp.decode` and
`ingest.store` exactly as the HTTP endpoint's do, and what cannot be taken is answered with the
gRPC status the OTLP spec names (INVALID_ARGUMENT, RESOURCE_EXHAUSTED; UNAVAILABLE, which
exporters retry, for a busy database; UNAUTHENTICATED where a project token is required and the
metadata's `authorization` holds none that is live, `projects.tokens`).

Optional: grpcio is not in requirements.txt (see README, "OTLP over gRPC"); without it nothing
listens and one log line says why. `STUDIO_OTLP_GRPC_PORT` (4317) picks the port, 0 turns it
off. The port is not shared (`so_reuseport` off): of several workers the first one serves it and
the others log that it is taken, so two Studios on one machine never split an exporter's spans.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import OperationalError, close_old_connections

from projects import tokens
from studio.db import AGENT_THREAD_PREFIX
from studio.rejected import Rejected

from . import ingest, otlp

log = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"

_server = None  # held here: a grpc server that nothing references stops


def start():
    """Listen, if grpcio is installed and a port is set; return the server, or None.

    grpcio's own threads serve it, apart from the ASGI server's event loop, so it listens from
    the moment the process starts serving, before any HTTP call (an exporter that speaks only
    gRPC may never make one). Spans are stored on one thread named as the agents' threads are
    (their big SQLite page cache, studio/db.py), and reach open pages through `studio.live`
    as those of `POST /v1/traces` do.
    """
    global _server
    port = settings.STUDIO_OTLP_GRPC_PORT
    if not port or _server is not None:
        return _server
    try:
        import grpc
    except ImportError:
        log.info("OTLP/gRPC is off: grpcio is not installed (pip install -r requirements-grpc.txt)")
        return None
    server = grpc.server(
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{AGENT_THREAD_PREFIX}-grpc"),
        options=[
            ("grpc.so_reuseport", 0),
            # The HTTP endpoint's limit; past it grpc answers RESOURCE_EXHAUSTED itself.
            ("grpc.max_receive_message_length", settings.OTLP_MAX_BODY_BYTES),
        ],
    )
    # Bytes in, bytes out: otlp.decode parses the request, as for HTTP.
    export = grpc.unary_unary_rpc_method_handler(_export)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": export}),))
    address = f"{settings.STUDIO_OTLP_GRPC_HOST}:{port}"
    try:
        server.add_insecure_port(address)
    except RuntimeError:
        log.warning("OTLP/gRPC is off in this process: %s is taken (by another worker or program)", address)
        return None
    server.start()
    log.info("OTLP/gRPC listening on %s", address)
    _server = server
    return server


def _export(body, context):
    import grpc

    # A long-lived thread: drop a connection the database has closed, as each request does.
    close_old_connections()
    try:
        token = tokens.for_grpc(context.peer(), context.invocation_metadata())
    except Rejected as exc:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
    try:
        decoded = otlp.decode(body, otlp.PROTOBUF_CONTENT_TYPE, None, settings.OTLP_MAX_BODY_BYTES)
    except Rejected as exc:
        code = grpc.StatusCode.RESOURCE_EXHAUSTED if exc.status == 413 else grpc.StatusCode.INVALID_ARGUMENT
        context.abort(code, exc.message)
    try:
        ingest.store(decoded.spans, token.project if token is not None else None)
    except OperationalError:
        log.exception("storing %d spans failed", len(decoded.spans))
        context.abort(grpc.StatusCode.UNAVAILABLE, "The database is busy; try again")
    answer, _ = otlp.success_body(otlp.PROTOBUF, decoded.rejected)
    return answer
