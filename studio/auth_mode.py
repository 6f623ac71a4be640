"""Whether people and agents must identify themselves: off on the local default, on for a team.

Off when Studio listens on loopback and STUDIO_AUTH is unset, exactly as a laptop's Studio has
always been. On with STUDIO_AUTH=1, and always when Studio listens on another address (the
settings read uvicorn's and gunicorn's command line; `runserver` sets it from its address).
A request is also held to it when it shows it came from elsewhere: a client address that is
not loopback, or a proxy's forwarding headers (nginx in front of a Studio that was started on
loopback without STUDIO_AUTH must not open it to everyone nginx serves).

What each role may do once someone is known is `projects.access`'s.
"""

import functools
import ipaddress

from django.conf import settings

_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
_FORWARDED_SCOPE = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


# Asked on every agent request (each streaming chunk): parsing the address each time was most of
# the check's cost (bench/findings.md#token-check-local). Clients' addresses are few.
@functools.lru_cache(maxsize=1024)
def is_loopback(host):
    """True for 127.0.0.0/8, ::1 and localhost; an unknown or unix-socket address is not."""
    if not isinstance(host, str) or not host:
        return False
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required_for_request(request):
    """For a Django request (its META: the ASGI scope's client and headers)."""
    if settings.STUDIO_AUTH:
        return True
    meta = request.META
    if any(meta.get(name) for name in _FORWARDED):
        return True
    return not is_loopback(meta.get("REMOTE_ADDR"))


def required_for_scope(scope):
    """For an ASGI scope (a page's WebSocket, a Socket.IO connection)."""
    if settings.STUDIO_AUTH:
        return True
    headers = dict(scope.get("headers") or ())
    if any(headers.get(name) for name in _FORWARDED_SCOPE):
        return True
    client = scope.get("client")
    return not (client and is_loopback(client[0]))


def listens_beyond_loopback(argv):
    """Whether an ASGI server's command line (uvicorn, gunicorn) binds more than loopback.

    uvicorn listens on 127.0.0.1 unless given --host; a unix socket or an inherited file
    descriptor is reached through a proxy, so it counts as beyond loopback. gunicorn binds
    127.0.0.1:8000 unless given --bind / -b.
    """
    args = list(argv[1:])
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in ("--uds", "--fd"):
            return True
        if name in ("--host", "--bind", "-b"):
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            if name == "--host":
                hosts = [value]
            else:
                if value.startswith(("unix:", "fd://")):
                    return True
                hosts = [value.rpartition(":")[0] if value.count(":") == 1 or value.startswith("[") else value]
            if not all(is_loopback(host) for host in hosts):
                return True
    return False
