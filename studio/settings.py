"""Settings, all read from environment variables.

With nothing set, Studio runs on SQLite in ./data and an in-memory channel layer, so a fresh
checkout needs only `pip install -r requirements.txt`. A team sets DATABASE_URL (PostgreSQL)
and REDIS_URL (Channels and Socket.IO across several workers).
"""

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    return int(os.environ.get(name, default))


DATA_DIR = Path(os.environ.get("STUDIO_DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """A key from the environment, else one generated once and kept in the data directory."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# Logins, roles and project tokens (studio/auth_mode.py, projects/access.py). Off on the local
# default; on with STUDIO_AUTH=1, and always when Studio listens beyond loopback.
STUDIO_AUTH = env_bool("STUDIO_AUTH")
# The role in every project of a logged-in person who is not a member of it: viewer, member,
# admin, or none (they see only the projects they were added to).
STUDIO_DEFAULT_ROLE = os.environ.get("STUDIO_DEFAULT_ROLE", "viewer").strip().lower()

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects"
LOGOUT_REDIRECT_URL = "login"
# Behind a TLS proxy (nginx): it says a request came over https in X-Forwarded-Proto; Django
# believes that header only when told to, since a client reaching Studio directly could send it.
if env_bool("STUDIO_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Session and CSRF cookies only over https: on by default behind a TLS proxy.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("STUDIO_SECURE_COOKIES", env_bool("STUDIO_PROXY_SSL_HEADER"))

# Repeated failed logins (django-axes): after STUDIO_LOGIN_FAILURES failures for one username from
# one address, that pair is locked out for STUDIO_LOGIN_LOCKOUT_MINUTES (superusers unlock sooner
# in the admin, Axes › Access attempts, or with `manage.py axes_reset`).
AXES_FAILURE_LIMIT = env_int("STUDIO_LOGIN_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("STUDIO_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "studio.login.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out pair before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# A process that another ASGI server runs (the team command: uvicorn, or gunicorn with uvicorn
# workers) is told by its command line; `manage.py runserver` serves under uvicorn itself
# (studio/management/commands/runserver.py). Neither loads the `daphne` app: it would load
# Twisted in every process (bench/findings.md#daphne-not-loaded); `runserver --server daphne`
# imports daphne only then.
_ENTRY_POINT = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
SERVED_BY_OTHER_ASGI_SERVER = bool({"uvicorn", "gunicorn", "hypercorn"} & {_ENTRY_POINT.stem, _ENTRY_POINT.parent.name})
if SERVED_BY_OTHER_ASGI_SERVER and not STUDIO_AUTH:
    from studio.auth_mode import listens_beyond_loopback

    STUDIO_AUTH = listens_beyond_loopback(sys.argv)

INSTALLED_APPS = [
    # studio first: its runserver (uvicorn, on port 3000) wins over staticfiles' and Django's.
    "studio",
    # Django's admin on Studio's site: who may use it in team mode (studio/admin.py).
    "studio.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "projects",
    "runs",
    "traces",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages and static files compressed (bench/findings.md#gzip-pages). Django's
    # GZip pads its output randomly against BREACH. The agent endpoints skip all middleware.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After auth and htmx: a login in team mode (a 401 for htmx and the API, else a redirect).
    "studio.login.TeamLoginRequired",
    # Turns a locked-out login into the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
    # Last on purpose: WhiteNoise is sync-only, and as the innermost middleware it puts the
    # whole chain in sync mode. Under ASGI an async-mode chain moves every middleware's
    # process_request/process_response to a thread and back, two hops each; a sync chain runs
    # in one thread with the view (bench/findings.md#sync-middleware-chain).
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "studio.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "studio.login.team_mode",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "studio.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'studio.sqlite3'}",
        # Agents push every streaming chunk: a new connection per request would double its cost.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 300),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the page read while an agent writes; IMMEDIATE transactions and a busy timeout
    # make concurrent writers wait for the lock instead of failing with "database is locked".
    # Checkpoints are the server's own thread's job (studio/db.py), not a commit's. The page
    # cache is per connection, one per sync thread: small for the page threads (a bigger one
    # costs RSS on every thread for no gain in page time), big for the agents' thread
    # (studio/db.py), where it speeds up concurrent pushes (bench/findings.md#sqlite-page-cache).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # A new database also gets auto_vacuum=INCREMENTAL (studio/db.py).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA cache_size=-4000; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=33554432;"
        ),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Redis pub/sub channels ignore the database number: studios sharing a Redis need their own prefix.
REDIS_PREFIX = os.environ.get("STUDIO_REDIS_PREFIX", "studio")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_PREFIX},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (plain runserver), WhiteNoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Agents send base64 media inline: a message can be megabytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("STUDIO_MAX_BODY_BYTES", 64 * 1024 * 1024)
# A run bundle (runs/bundles.py) is checked whole in memory before it is stored: its size at
# most, decompressed. The compressed upload is held to DATA_UPLOAD_MAX_MEMORY_SIZE.
STUDIO_BUNDLE_MAX_BYTES = env_int("STUDIO_BUNDLE_MAX_BYTES", 512 * 1024 * 1024)
OTLP_MAX_BODY_BYTES = env_int("STUDIO_OTLP_MAX_BODY_BYTES", 32 * 1024 * 1024)
# OTLP over gRPC (traces/otlp_grpc.py; needs requirements-grpc.txt): 0 turns it off.
STUDIO_OTLP_GRPC_PORT = env_int("STUDIO_OTLP_GRPC_PORT", 4317)
STUDIO_OTLP_GRPC_HOST = os.environ.get("STUDIO_OTLP_GRPC_HOST", "127.0.0.1")
# A person's answer (text, attachments as base64, the form's object): the UTF-8 bytes of its
# compact JSON, as the page measures it before sending and the server when it arrives.
STUDIO_MAX_ANSWER_BYTES = env_int("STUDIO_MAX_ANSWER_BYTES", 15 * 1024 * 1024)
# What carries an answer (a page socket frame, an HTTP body) may be this much larger: the server's
# frame limit, so that an answer over the limit is refused in words, not by a closed socket.
# 16 MiB by default, uvicorn's own --ws-max-size; runserver gives it to uvicorn or daphne.
STUDIO_MAX_ANSWER_FRAME_BYTES = STUDIO_MAX_ANSWER_BYTES + 1024 * 1024
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = STUDIO_MAX_ANSWER_FRAME_BYTES

# Seconds a run may have no agent socket before it counts as finished. A reconnect within it
# (network blip, server restart) keeps the run running and its input requests pending.
STUDIO_DISCONNECT_GRACE = float(os.environ.get("STUDIO_DISCONNECT_GRACE", "10"))

# Seconds a worker process may go without its heartbeat (written every third of it) before it
# counts as gone, and with it the agent sockets it held: their runs start their grace. Several
# workers only; the agent reconnects through nginx to a live one meanwhile.
STUDIO_WORKER_TIMEOUT = float(os.environ.get("STUDIO_WORKER_TIMEOUT", "20"))

# Seconds without spans after which a run made from a GenAI conversation (agentscope 2.x, which
# has no studio client and so no disconnect) counts as finished. Longer than an exporter's
# batch delay and a slow model call; a later span makes the run running again.
STUDIO_OTEL_QUIET_SECONDS = float(os.environ.get("STUDIO_OTEL_QUIET_SECONDS", "60"))


# Days after which a finished run (its last activity) is removed with all its data, and spans
# of no run with it; the leading worker's sweeper applies it every STUDIO_RETENTION_INTERVAL
# seconds (runs/retention.py; `manage.py prune` does it by hand). Unset: nothing is removed.
def _retention_days(value):
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        days = 0
    if not days > 0:
        raise ImproperlyConfigured(f"STUDIO_RETENTION_DAYS must be a number of days above 0, not {value!r}")
    return days


STUDIO_RETENTION_DAYS = _retention_days(os.environ.get("STUDIO_RETENTION_DAYS", "").strip())
STUDIO_RETENTION_INTERVAL = float(os.environ.get("STUDIO_RETENTION_INTERVAL", "3600"))

# Long-lived threads that run the sync part of HTTP requests (see studio/handlers.py): some for
# the agents' endpoints, the others for pages, so a slow page never holds up an agent. SQLite
# writes one transaction at a time, so one agent thread is fastest there (16 agents: 885
# pushMessage/s with one, 753 with four); PostgreSQL writes in parallel.
STUDIO_SYNC_THREADS = env_int("STUDIO_SYNC_THREADS", 4)
STUDIO_AGENT_THREADS = env_int(
    "STUDIO_AGENT_THREADS", 1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 4
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # The read API (/api/v1/, studio/api.py) sets its own authentication and permissions; the
    # agent endpoints above use DRF without any, for speed.
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The API's OpenAPI schema at /api/schema/, its docs at /api/docs/ (Swagger UI, from static files).
SPECTACULAR_SETTINGS = {
    "TITLE": "Studio API",
    "DESCRIPTION": (
        "Read a Studio's projects, runs, chats, input requests and spans; answer input requests; "
        "export and import run bundles. In team mode: a session (with its CSRF token for POST) or "
        "`Authorization: Bearer sst_…`, a project token, which reads its own project."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "PREPROCESSING_HOOKS": ["studio.api.only_the_api"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line goes through the one handler, whose filter blots out secrets (studio/redact.py).
    "filters": {"redact_secrets": {"()": "studio.redact.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # No line per request from the servers (uvicorn, runserver's daphne): agents POST every
    # streaming chunk, and writing that line is a real part of a pushMessage's CPU
    # (bench/findings.md#no-access-log).
    # Failed requests are still logged by django.request; nginx in front logs every request.
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        # uvicorn's own lines (its errors' tracebacks) through the same handler, not uvicorn's.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        # Its banner at every start; its lines about failed logins and lockouts stay.
        "axes.apps": {"level": "WARNING"},
    },
}
