"""A `_common.Server` that can also be daphne (`manage.py runserver`), or serve another ASGI app
(a wrapper of studio.asgi, e.g. `_probe:application`), and a `main` that takes `--server`.

Used by load.py and soak.py; the other scripts keep `_common.main` (uvicorn only).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PYTHON, ROOT, Server, free_port, parser, request

BENCH = Path(__file__).resolve().parent


class StudioServer(Server):
    """kind "uvicorn": the README's team command, one worker (as `_common.Server`);
    kind "daphne": `manage.py runserver 127.0.0.1:<port> --noreload` (the one-command way).
    `app` replaces studio.asgi:application under uvicorn (modules of bench/ are importable)."""

    def __init__(self, kind="uvicorn", app="studio.asgi:application", **kwargs):
        super().__init__(**kwargs)
        self.kind = kind
        self.app = app

    def command(self, port):
        if self.kind == "daphne":
            # Studio's runserver is daphne's; --noreload keeps it one process (the one measured).
            return [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--no-migrate"]
        command = [
            PYTHON,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--lifespan",
            "off",
        ]
        if self.app != "studio.asgi:application":
            command += ["--app-dir", str(BENCH)]
        if not self.access_log:
            command.append("--no-access-log")
        return command

    def start(self, timeout=60):
        if self.external:
            return self
        self._tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
        self.data_dir = self._tmp
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "STUDIO_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1", **self.extra_env}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if self.app != "studio.asgi:application":
            # the wrapper imports studio.asgi: the project root must be importable too
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        command = os.environ.get("BENCH_SERVER_PREFIX", "").split() + self.command(port)
        self.log_path = self.data_dir / "server.log"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"studio exited early:\n{self.log()}")
            try:
                status, _, _ = request("GET", self.url + "/", timeout=1)
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"studio did not start in {timeout}s:\n{self.log()}")

    def describe(self):
        if self.external:
            return f"server: {self.url}, given with --url"
        if self.kind == "daphne":
            what = "daphne: manage.py runserver --noreload"
        else:
            what = f"uvicorn {self.app} --workers 1 --lifespan off"
        return f"server: {what}, SQLite and the in-memory channel layer in a temporary data dir"


def add_server_arguments(p, app=True):
    p.add_argument(
        "--server",
        choices=("uvicorn", "daphne"),
        default="uvicorn",
        help="uvicorn (the README's team command, one worker; the default, as _common.Server) "
        "or daphne (manage.py runserver)",
    )
    if app:
        p.add_argument(
            "--app",
            default="studio.asgi:application",
            help="under uvicorn: the ASGI app to serve (e.g. _probe:application, see _probe.py)",
        )


def make_server(args, env=None):
    return StudioServer(
        kind=args.server,
        app=getattr(args, "app", "studio.asgi:application"),
        url=args.url,
        pid=args.pid,
        data_dir=args.data_dir,
        access_log=not args.no_access_log,
        keep=args.keep,
        env=env,
    )


def code_version():
    """The commit and whether the working tree differs from it (others may be editing)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except OSError:
        return "unknown"
    return head + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def main(doc, add_arguments, run):
    """`_common.main` with --server: run(server, args) returns (Result, exit status)."""
    p = parser(doc, add_arguments)
    args = p.parse_args()
    server = make_server(args)
    with server:
        print(server.describe(), flush=True)
        print(f"code: {code_version()}", flush=True)
        try:
            result, status = run(server, args)
        except BaseException:
            if server.process is not None:
                alive = server.process.poll() is None
                print(
                    f"server {'still running' if alive else f'exited with {server.process.returncode}'}; "
                    f"its log ends:\n{server.log()}",
                    file=sys.stderr,
                )
            raise
        result.print()
        if server.pid and server.process is not None and server.process.poll() is None:
            print(f"server RSS after the run: {server.rss_mb():.0f} MB (peak {server.peak_rss_mb():.0f} MB)")
        if args.keep and server.data_dir:
            print(f"data kept in {server.data_dir}")
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2))
    sys.exit(status)
