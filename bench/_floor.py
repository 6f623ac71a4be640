"""The floor: a bare ASGI app that does only what any server must do for an agent's calls.

floor.py serves it under uvicorn beside Studio and sends both the same calls, so that each of
Studio's figures can be read as a multiple of this one, measured in the same run:
  POST /trpc/*     read the body, parse the JSON, answer tRPC's empty success
  POST /v1/traces  read the body, gunzip it if it says so, parse the ExportTraceServiceRequest
                   (the opentelemetry-proto classes Studio decodes with), count its spans,
                   answer an empty ExportTraceServiceResponse
  anything else    200 with a short body (the benchmarks' connection warm-ups)
No database, no validation, no rendering, no live updates: what is left of a call here is the
HTTP server, the ASGI hop and the decoding.
"""

import gzip
import json

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

TRPC_SUCCESS = b'{"result":{}}'  # what Studio answers pushMessage and registerRun
OTLP_SUCCESS = ExportTraceServiceResponse().SerializeToString()


async def read_body(receive):
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def answer(send, status, body, content_type):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def spans_in(body, headers):
    if (b"content-encoding", b"gzip") in headers:
        body = gzip.decompress(body)
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


async def application(scope, receive, send):
    if scope["type"] != "http":
        return  # uvicorn runs with --lifespan off; no WebSockets here
    body = await read_body(receive)
    path = scope["path"]
    if path.startswith("/trpc/"):
        json.loads(body)
        await answer(send, 200, TRPC_SUCCESS, b"application/json")
    elif path == "/v1/traces":
        spans_in(body, scope["headers"])
        await answer(send, 200, OTLP_SUCCESS, b"application/x-protobuf")
    else:
        await answer(send, 200, b"floor", b"text/plain")
