"""How HTTP requests reach Django: fast for agents, complete for browsers.

Agents POST every streaming chunk and wait for the answer, so their endpoints (/trpc/*,
/v1/traces) skip the browser middleware (sessions, CSRF, auth, messages): they use none of it,
and under ASGI each of those costs two thread hops per request; their handler departs from
Django's for it (`studio.django_bends.AgentEndpointsHandler`). Every request's sync work
(views, signal handlers) runs on a few long-lived threads instead of a new thread per request.
"""

import itertools
import re

from asgiref.sync import ThreadSensitiveContext

from studio.cpython_bends import OneDeepThread
from studio.db import AGENT_THREAD_PREFIX
from studio.django_bends import AgentEndpointsHandler

AGENT_PATHS = re.compile(r"^/*(trpc|v1)/")


class SyncThreads:
    """Run each request's sync work on one of a few long-lived threads.

    Django gives every ASGI request a thread of its own, started and joined per request, with a
    new database connection each time. Here a request still runs its sync work on one thread,
    but the thread (and its database connection) lives on for the next requests. Each thread
    keeps its frames in one chunk of CPython's frame stack deep enough for any page
    (studio/cpython_bends.py; bench/findings.md#frame-stack-chunks).
    """

    def __init__(self, threads, name):
        executors = [OneDeepThread(f"{name}_{i}") for i in range(threads)]
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
