"""An agent program's project token: found in its request, checked, and the one project it may
write into.

Agents' surfaces (the /trpc/* procedures, OTLP over HTTP and gRPC, the /python socket) need a
token only where `studio.auth_mode` requires one (team mode). On the local default none is
needed and any sent is ignored: everyone on the machine may write anywhere anyway, and the push
path does no more work than it did.

The stock agentscope client has one setting, `studio_url`. Given as `http://studio:TOKEN@host:port`
(user-info with a colon), `requests` turns it into `Authorization: Basic base64("studio:TOKEN")`
on every POST it makes (the procedures, the OTLP exporter's, engine.io's polling handshake,
whose headers the /python connect sees); without the colon it sends nothing. The websocket
upgrade carries no header but joins the session that handshake opened. What each piece sends
is in docs/TOKENS.md. So these are read:
- `Authorization: Bearer <token>` (OTEL_EXPORTER_OTLP_HEADERS; a client of one's own);
- `Authorization: Basic …` whose password, or else whose user name, is the token.

A refusal says what is missing; no log line, message or answer ever holds the secret.
"""

import base64
import binascii
import logging

from django.utils import timezone

from studio import auth_mode
from studio.rejected import Rejected

from .models import ProjectToken

log = logging.getLogger(__name__)

FIELD = "Authorization"  # the field a refusal names: the header at fault
MISSING = (
    "This Studio requires a project token: put it in studio_url as http://studio:<token>@host:port "
    "(mind the colon), or send the header Authorization: Bearer <token>. A project admin makes tokens."
)
UNKNOWN = "This project token is unknown or revoked: ask a project admin for a new one"
# What a 401 answers in WWW-Authenticate (RFC 9110): the schemes taken here.
CHALLENGE = 'Bearer realm="Studio", Basic realm="Studio"'


def secret_in(authorization):
    """The token an Authorization header value carries, or None."""
    if not isinstance(authorization, str):
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # ValueError: not UTF-8
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    return None


def check(authorization, where):
    """The live token of this header value; else `Rejected` (401) saying what is missing.

    `where` ("POST /trpc/registerRun from 10.0.0.7") goes in the refusal's log line."""
    secret = secret_in(authorization)
    token = ProjectToken.objects.authenticate(secret) if secret is not None else None
    if token is None:
        reason = "no project token" if secret is None else "an unknown or revoked project token"
        log.warning("refused %s: %s", where, reason)
        raise Rejected(MISSING if secret is None else UNKNOWN, 401, FIELD)
    token.mark_used(timezone.now())
    return token


def for_request(request):
    """None where no token is required (the local default); else the request's live token."""
    if not auth_mode.required_for_request(request):
        return None
    where = f"{request.method} {request.path[:200]} from {request.META.get('REMOTE_ADDR', '?')}"
    return check(request.META.get("HTTP_AUTHORIZATION"), where)


def for_scope(scope, authorization):
    """As `for_request`, for an ASGI scope (the /python socket's handshake) and its header."""
    if not auth_mode.required_for_scope(scope):
        return None
    client = (scope.get("client") or ("?", 0))[0]
    return check(authorization, f"the /python socket from {client}")


def for_grpc(peer, metadata):
    """As `for_request`, for an OTLP/gRPC call: its peer ("ipv4:10.0.0.7:5000") and metadata."""
    metadata = [(key, value) for key, value in metadata if isinstance(value, str)]
    scope = {"client": (_peer_host(peer), 0), "headers": [(key.encode(), value.encode()) for key, value in metadata]}
    if not auth_mode.required_for_scope(scope):
        return None
    return check(dict(metadata).get("authorization"), f"OTLP/gRPC Export from {scope['client'][0]}")


def _peer_host(peer):
    # grpc's peer strings: "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path"
    kind, _, address = (peer or "").partition(":")
    if kind == "ipv4":
        return address.rpartition(":")[0]
    if kind == "ipv6":
        return address.rpartition(":")[0].strip("[]")
    return ""
