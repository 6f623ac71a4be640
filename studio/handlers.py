"""How HTTP requests reach Django: fast for agents, complete for browsers.

Agents POST every streaming chunk and wait for the answer, so their endpoints (/trpc/*,
/v1/traces) skip the browser middleware (sessions, CSRF, auth, messages): they use none of it,
and under ASGI each of those costs two thread hops per request. Every request's sync work
(views, signal handlers) runs on a few long-lived threads instead of a new thread per request.
"""

import itertools
import re
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix

from studio.db import AGENT_THREAD_PREFIX

AGENT_PATHS = re.compile(r"^/*(trpc|v1)/")


class AgentEndpointsHandler(ASGIHandler):
    """Django's ASGI handler for the agent-facing endpoints: no middleware, one thread visit.

    Django's own handler visits the sync thread several times per request (request_started,
    the view, closing the response); here the body is read on the event loop, then everything
    sync happens in a single visit, as under WSGI.
    """

    def load_middleware(self, is_async=False):
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


class SyncThreads:
    """Run each request's sync work on one of a few long-lived threads.

    Django gives every ASGI request a thread of its own, started and joined per request, with a
    new database connection each time. Here a request still runs its sync work on one thread,
    but the thread (and its database connection) lives on for the next requests.
    """

    def __init__(self, threads, name):
        executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) for _ in range(threads)]
        self.turn = itertools.cycle(executors)

    def context(self):
        return ThreadSensitiveContext(executor=next(self.turn))


def http_application(browser_app, page_threads, agent_threads):
    agent_app = AgentEndpointsHandler()
    pages = SyncThreads(page_threads, "studio-pages")
    agents = SyncThreads(agent_threads, AGENT_THREAD_PREFIX)

    async def route(scope, receive, send):
        if AGENT_PATHS.match(scope["path"]):
            async with agents.context():
                await agent_app(scope, receive, send)
        else:
            async with pages.context():
                await browser_app(scope, receive, send)

    return route
