"""Who may reach the surfaces Django's middleware does not guard: Host and Origin checks.

Pages, the admin and the answer endpoint have Django's own checks (CommonMiddleware's Host,
CSRF's Origin); /trpc/* checks its Host itself (studio/trpc.py), to answer in tRPC's shape. The
rest is checked here, before any of it runs:

- `/socket.io/` (agents' link, polling and websocket) and `/v1/traces` (OTLP): the Host must be
  one of ALLOWED_HOSTS, and an Origin, if sent, must be this server's own. A page that DNS
  rebinding points at 127.0.0.1 sends its own name as Host and Origin; agents and exporters send
  no Origin.
- every other WebSocket, `/ws/` (the pages' live sockets, which carry answers to agents): the Host as above, and an
  Origin that is this server's, port included, or one of CSRF_TRUSTED_ORIGINS. Browsers always
  send one; another local port's page is another origin.

Every refusal is logged once, with its reason and never the request's payload.
"""

import json
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

log = logging.getLogger(__name__)

# Agents' and exporters' paths; every other WebSocket is a page's (/ws/).
_AGENT_PATHS = re.compile(r"^/*(?:socket\.io|v1)/")
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_SECURE = {"https", "wss"}


def allowed_hosts():
    """ALLOWED_HOSTS as Django applies it (empty in DEBUG means local names only)."""
    if settings.ALLOWED_HOSTS or not settings.DEBUG:
        return settings.ALLOWED_HOSTS
    return [".localhost", "127.0.0.1", "[::1]"]


def host_refusal(host):
    """Why this Host header is refused, or None."""
    domain, _ = split_domain_port(host or "")
    if domain and validate_host(domain, allowed_hosts()):
        return None
    return f"Host {_shown(host)} is not in ALLOWED_HOSTS"


def origin_refusal(origin, host, scheme, required):
    """Why this Origin header is refused for a request to `host` over `scheme`, or None."""
    if origin is None:
        return "no Origin header" if required else None
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return None
    if _origin_address(origin) != _host_address(host, scheme):
        return f"Origin {_shown(origin)} is not this server's ({_shown(host)})"
    return None


def _origin_address(origin):
    try:
        parts = urlsplit(origin)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None  # "null" (a sandboxed or file: page), or not an origin at all
    return parts.scheme in _SECURE, parts.hostname.lower().strip("[]"), port


def _host_address(host, scheme):
    domain, port = split_domain_port(host or "")
    try:
        return scheme in _SECURE, domain.strip("[]"), int(port) if port else _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None


def _shown(value):
    return repr(value if value is None or len(value) <= 100 else value[:100] + "…")


def refusal(scope):
    """Why this ASGI request is refused, or None (also for the paths not checked here)."""
    agents = _AGENT_PATHS.match(scope.get("path", "")) is not None
    if not agents and scope["type"] != "websocket":
        return None
    headers = dict(scope.get("headers") or ())
    host = headers.get(b"host", b"").decode("latin-1")
    origin = headers.get(b"origin")
    origin = origin.decode("latin-1") if origin is not None else None
    return host_refusal(host) or origin_refusal(origin, host, scope.get("scheme", "http"), required=not agents)


def log_refusal(scope, reason):
    client = (scope.get("client") or ("?", 0))[0]
    log.warning("refused %s %s from %s: %s", scope["type"], scope.get("path", "")[:200], client, reason)


class HostAndOriginCheck:
    """ASGI middleware: refuses what `refusal` names, before the app sees it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        reason = refusal(scope) if scope["type"] in ("http", "websocket") else None
        if reason is None:
            await self.app(scope, receive, send)
            return
        log_refusal(scope, reason)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 4403})
            return
        status = 400 if reason.startswith("Host") else 403
        body = json.dumps({"error": reason}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
