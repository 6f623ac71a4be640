"""`manage.py runserver`: Studio (HTTP, WebSockets, Socket.IO) under uvicorn, on 127.0.0.1:3000.

The server is the team command's (uvicorn, `--lifespan off`), so the one-command way is as fast
as a team's worker (bench/findings.md#runserver-uvicorn); around it, Django's runserver: system
checks, the banner, and the autoreloader, which serves from a thread of a child process and
restarts that process on a code change (so the app's startup work, studio/asgi.py, runs again
in each). `--server daphne` gives channels' daphne runserver instead; only then is daphne, and
Twisted with it, loaded.

3000 is the port agentscope's examples use for studio_url; listening on loopback only keeps a
studio without logins off the network; given another address, it requires logins and tokens.
Pending migrations are applied first, so a fresh checkout starts with one command.
"""

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.commands.runserver import Command as DjangoRunserver
from django.utils import autoreload

from studio.auth_mode import is_loopback

SERVERS = ("uvicorn", "daphne")


class StudioRunserver:
    """What both servers' runserver add to their base command."""

    default_port = "3000"
    default_addr = "127.0.0.1"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--no-migrate", action="store_false", dest="migrate", help="Do not apply migrations first.")
        parser.add_argument(
            "--server",
            choices=SERVERS,
            default="uvicorn",
            help="uvicorn (the default, as a team's workers) or daphne (channels' runserver).",
        )

    def handle(self, *args, **options):
        if options.get("migrate", True):
            call_command("migrate", interactive=False, verbosity=0)
        super().handle(*args, **options)

    def inner_run(self, *args, **options):
        # Listening beyond loopback is serving a team: logins on (studio/auth_mode.py).
        if not is_loopback(self.addr):
            settings.STUDIO_AUTH = True
        super().inner_run(*args, **options)


# On a code change the autoreloader's child ends with sys.exit(3), and its parent starts a new
# child on that exit code. sys.exit first runs the interpreter's shutdown: it waits for every
# non-daemon thread (the thread pools' workers: pages, agents, gRPC), runs the exit hooks, and
# finalizes the modules. Something in it can hang, and the old process then keeps its port for
# ever while the parent waits (seen in CI and reproduced: the reload logged, then nothing). A
# daemon timer calling os._exit did not help: once finalizing has begun, no daemon thread runs
# again. Nothing of a development server needs that shutdown (what was committed is in the
# database), so a code change ends the process at once, from the reloader's own thread.
RELOAD_EXIT_CODE = 3


def _exit_at_once_on_a_change(sender, file_path, **kwargs):
    if Path(file_path).suffix != ".py":
        return None  # a template's change reloads no process (Django's own receiver says so)
    autoreload.logger.info("%s changed, reloading.", file_path)  # Django's line, as it would log it
    logging.shutdown()  # the log's last lines written out
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(RELOAD_EXIT_CODE)


def daphne_command():
    from daphne.management.commands.runserver import Command as DaphneRunserver  # loads Twisted

    class Command(StudioRunserver, DaphneRunserver):
        pass

    return Command()


class Command(StudioRunserver, DjangoRunserver):
    help = "Serves Studio under uvicorn (or daphne: --server daphne), reloading on code changes."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        # As daphne's and staticfiles' runserver: static files by Django's handler in DEBUG.
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static_handler",
            help="Do not serve static files at STATIC_URL with Django's handler (WhiteNoise still does).",
        )
        parser.add_argument(
            "--insecure", action="store_true", dest="insecure_serving", help="Serve them so even if DEBUG is False."
        )

    def run_from_argv(self, argv):
        # daphne's own options (--http_timeout, ...) are parsed by its command.
        chosen, _ = _server_option().parse_known_args(argv[2:])
        if chosen.server == "daphne":
            return daphne_command().run_from_argv(argv)
        return super().run_from_argv(argv)

    def handle(self, *args, **options):
        if options.get("server") == "daphne":  # call_command("runserver", server="daphne")
            return daphne_command().execute(*args, **options)
        return super().handle(*args, **options)

    def inner_run(self, *args, **options):
        import uvicorn

        # An exception the autoreloader's parent silenced is raised in the child, as Django's.
        autoreload.raise_last_exception()
        autoreload.file_changed.connect(_exit_at_once_on_a_change, dispatch_uid="studio-reload-exit")
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        config = uvicorn.Config(
            self.get_application(options),
            host=self.addr,
            port=int(self.port),
            # As the team command (README): the app starts its services on its first call.
            lifespan="off",
            # Django's LOGGING keeps its hands on uvicorn's loggers: no line per request
            # (bench/findings.md#no-access-log), failures still logged by django.request.
            log_config=None,
            access_log=False,
            ws_max_size=settings.STUDIO_MAX_ANSWER_FRAME_BYTES,
        )
        server = uvicorn.Server(config)
        self.banner(uvicorn.__version__)
        if threading.current_thread() is threading.main_thread():
            # --noreload: uvicorn stops gracefully on SIGTERM, then raises it again; exit 0 then,
            # as Django's autoreloader does. (In its child, uvicorn installs no signal handler.)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            server.run()
        except KeyboardInterrupt:
            sys.exit(0)
        except SystemExit:
            if server.started:
                raise
            # It could not listen (uvicorn logged why). A thread's SystemExit would leave the
            # autoreloader watching files without a server: end the process, as Django's does.
            os._exit(1)

    def get_application(self, options):
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from studio.asgi import application

        if options.get("use_static_handler", True) and (settings.DEBUG or options.get("insecure_serving")):
            return ASGIStaticFilesHandler(application)
        return application

    def banner(self, version):
        addr = f"[{self.addr}]" if self._raw_ipv6 else self.addr
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        self.stdout.write(
            f"{datetime.now().strftime('%B %d, %Y - %X')}\n"
            f"Django version {self.get_version()}, using settings {settings.SETTINGS_MODULE!r}\n"
            f"Starting ASGI/uvicorn version {version} development server at {self.protocol}://{addr}:{self.port}/\n"
            f"Quit the server with {quit_command}."
        )


def _server_option():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    return parser
