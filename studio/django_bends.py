"""Where Studio departs from Django's own code paths, and why (Django 5.2).

Each departure saves something measured (bench/findings.md#library-bends) and leans on parts of Django that
are not its public API. tests/test_library_bends.py fails, naming the departure, when the
installed Django is not the one they were written for, or when what they lean on has changed:
read the Django code it names, update the departure, then the test.

1. `AgentEndpointsHandler` re-implements `ASGIHandler.handle` and replaces
   `BaseHandler.load_middleware`. Agents POST every streaming chunk and wait for the answer;
   Django's handler visits the sync thread several times per request (request_started, the
   view, closing the response) and runs the browser middleware, which costs thread hops and
   which these endpoints do not use. Here the body is read on the event loop, then everything
   sync happens in one visit, as under WSGI.
2. `rebuild_sqlite_table` calls the SQLite schema editor's private `_remake_table` once for
   several AlterFields of one table (`studio.fields.AlterFieldsInOneRebuild`): Django's
   AlterField copies the whole table once per field, and an upgrade would copy the span
   table, the biggest, six times over instead of once.
3. `sqlite_driver_execute` sends the span INSERTs (traces/ingest.py), each of many rows and
   thousands of placeholders, straight to the sqlite3 connection: Django's SQLite cursor
   rewrites every "%s" of a statement with a regular expression on every call. The statement
   is written with "?" placeholders for it; it is neither logged in `connection.queries` nor
   seen by `connection.execute_wrapper`, and its errors are sqlite3's, not django.db's.
"""

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix

# The Django version (major, minor) these were written for and checked against.
WRITTEN_FOR = (5, 2)


class AgentEndpointsHandler(ASGIHandler):
    """Django's ASGI handler for the agent-facing endpoints: no middleware, one thread visit."""

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware with an empty MIDDLEWARE, always the sync chain: the
        # view runs inside `respond`, already on the sync thread.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        scope = with_content_length(scope, body_file)
        set_script_prefix(get_script_prefix(scope))
        response = await sync_to_async(self.respond, thread_sensitive=True)(scope, body_file)
        await self.send_response(response, send)

    def respond(self, scope, body_file):
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
        finally:
            body_file.close()
        # The agent endpoints answer with small in-memory bodies, so the response can be
        # closed (which sends request_finished) before it is sent.
        response.close()
        return response


def with_content_length(scope, body_file):
    """A chunked request (no Content-Length) would read as empty in Django: give it its length,
    so its body is read, and the size limits apply to it."""
    if any(name == b"content-length" for name, _ in scope.get("headers", ())):
        return scope
    size = body_file.seek(0, 2)
    body_file.seek(0)
    return {**scope, "headers": [*scope.get("headers", ()), (b"content-length", str(size).encode())]}


def rebuild_sqlite_table(schema_editor, model):
    """Django's own SQLite table rebuild (create, copy, drop, rename, indexes), once, to the
    columns and indexes `model` has."""
    schema_editor._remake_table(model)


def sqlite_driver_execute(connection):
    """The `execute(sql, params)` of `connection`'s sqlite3 connection, which takes "?"
    placeholders and returns the sqlite3 cursor (its `rowcount`)."""
    connection.ensure_connection()
    return connection.connection.execute
