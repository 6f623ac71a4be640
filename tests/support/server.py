"""A real Studio server in a subprocess, on a free port of 127.0.0.1, with its own data directory.

The one harness of the tests and of the benchmarks (bench/_common.py builds its `Server` on
it), so that both start Studio the ways a person does: `manage.py runserver` (uvicorn, the
one-command way; or `--server daphne`) or the README's team command (uvicorn, one worker here).
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ASGI_APP = "studio.asgi:application"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StudioServer:
    """server "runserver": `manage.py runserver --noreload`, as a user starts it (the default);
    "daphne": the same with `--server daphne`; "uvicorn": the README's team command with one
    worker, after `manage.py migrate`. `reload`: runserver with its autoreloader on.

    data_dir None: a temporary directory, removed by `stop()` unless `keep`. `restart()` keeps
    the data and the port. The benchmarks also ask for `collectstatic` (static files served as
    a deployment serves them), another ASGI `app` from `app_dir`, no access log, and a `prefix`
    command (a profiler) the server runs under, and another checkout (`root`) to serve Studio
    from, e.g. a git worktree of an older commit to compare with, with another `python` (a venv
    of requirements.txt alone, as a user installs it).
    """

    needs_database = True  # False: an app that is not Studio (bench/_floor.py): nothing to migrate

    _redis_prefix = property(lambda self: f"{os.environ.get('STUDIO_REDIS_PREFIX', 'studio')}-{self.port}")

    def __init__(
        self,
        data_dir=None,
        port=None,
        env=None,
        server="runserver",
        app=ASGI_APP,
        app_dir=None,
        access_log=True,
        collectstatic=False,
        prefix=(),
        keep=False,
        reload=False,
        root=ROOT,
        python=sys.executable,
    ):
        self.data_dir = Path(data_dir) if data_dir else None
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.server = server
        self.app = app
        self.app_dir = app_dir
        self.access_log = access_log
        self.collectstatic = collectstatic
        self.prefix = list(prefix)
        self.keep = keep
        self.reload = reload
        self.root = Path(root)
        self.python = str(python)
        self.process = None
        self.pid = None
        self._tmp = None
        self._database = None

    @property
    def database_url(self):
        """The PostgreSQL database of this server (the team-mode suite), else None: SQLite."""
        return self.extra_env.get("DATABASE_URL") or self._database

    @property
    def log_path(self):
        return self.data_dir / "server.log" if self.data_dir else None

    def command(self):
        if self.server == "uvicorn":
            command = [
                self.python,
                "-m",
                "uvicorn",
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--lifespan",
                "off",
            ]  # as README's team command
            if self.app_dir:
                command += ["--app-dir", str(self.app_dir)]
            if not self.access_log:
                command.append("--no-access-log")
            return command
        # --noreload keeps it one process (the one measured).
        command = [self.python, "manage.py", "runserver", f"127.0.0.1:{self.port}"]
        if not self.reload:
            command.append("--noreload")
        if self.server == "daphne":
            command += ["--server", "daphne"]
        if self.collectstatic:
            command.append("--no-migrate")  # start() has migrated already
        return command

    def environment(self):
        """The server's environment: its data directory, its database and Redis prefix in the
        team-mode suite, and the test's own settings (made on first use, kept across restart())."""
        if self.data_dir is None:
            self._tmp = self.data_dir = Path(tempfile.mkdtemp(prefix="studio-bench-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # OTLP/gRPC off unless asked for: its default port is one for the whole machine, and the
        # default install (requirements.txt, what bench measures) has no grpcio.
        env = {
            **os.environ,
            "STUDIO_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            "STUDIO_OTLP_GRPC_PORT": "0",
            **self.extra_env,
        }
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if "DATABASE_URL" in os.environ and "DATABASE_URL" not in self.extra_env:
            # The suite on a team's database (make test-team): each server a database of its own,
            # as each has a data directory of its own on SQLite; kept across restart().
            from tests.support.team import create_database  # psycopg: only this suite loads it

            self._database = self._database or create_database(os.environ["DATABASE_URL"])
            env["DATABASE_URL"] = self._database
        if "REDIS_URL" in os.environ and "STUDIO_REDIS_PREFIX" not in self.extra_env:
            env["STUDIO_REDIS_PREFIX"] = self._redis_prefix
        if self.app_dir:
            # the other app imports studio.asgi: the project root must be importable too
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH", "")) if p)
        return env

    def manage(self, *args, env=None, timeout=120):
        """`manage.py ARGS` on this server's own database (SQLite file or PostgreSQL); its stdout.
        A failure raises, with the command's stderr."""
        done = subprocess.run(
            [self.python, "manage.py", *args],
            cwd=self.root,
            env={**self.environment(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args[:1])} failed:\n{done.stderr}")
        return done.stdout

    def start(self, timeout=60):
        env = self.environment()
        if self.needs_database and (self.server == "uvicorn" or self.collectstatic):
            subprocess.run([self.python, "manage.py", "migrate", "-v0"], cwd=self.root, env=env, check=True)
        if self.needs_database and self.collectstatic:
            subprocess.run(
                [self.python, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=self.root, env=env, check=True
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.prefix + self.command(), cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"studio exited early:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"studio did not start in {timeout}s:\n{self.log()}")

    def _answers(self):
        """Whether the server answers HTTP at all (one new connection, no redirects followed)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def _end_process(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self):
        self._end_process()
        if self._tmp is not None and not self.keep:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._database is not None and not self.keep:
            from tests.support.team import drop_database

            drop_database(self._database)
            self._database = None

    def restart(self):
        self._end_process()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        path = self.log_path
        return path.read_text(errors="replace") if path and path.exists() else ""

    def post(self, procedure, body, **kwargs):
        return requests.post(f"{self.url}/trpc/{procedure}", json=body, timeout=10, **kwargs)
