"""A `main` whose `_common.Server` can also be `manage.py runserver` (`--server runserver`, under
uvicorn) or its daphne (`--server daphne`), or serve another ASGI app (a wrapper of studio.asgi,
e.g. `--app _probe:application`).

Used by load.py and soak.py; the other scripts keep `_common.main` (uvicorn only).
"""

import subprocess
import sys

from _common import ROOT, Server, parser, write_figures


def describe(server):
    if server.external:
        return f"server: {server.url}, given with --url"
    if server.server == "daphne":
        what = "daphne: manage.py runserver --noreload --server daphne"
    elif server.server == "runserver":
        what = "manage.py runserver --noreload (uvicorn)"
    else:
        what = f"uvicorn {server.app} --workers 1 --lifespan off"
    return f"server: {what}, SQLite and the in-memory channel layer in a temporary data dir"


def add_server_arguments(p, app=True):
    p.add_argument(
        "--server",
        choices=("uvicorn", "runserver", "daphne"),
        default="uvicorn",
        help="uvicorn (the README's team command, one worker; the default, as _common.Server) "
        "manage.py runserver, or its daphne (runserver --server daphne)",
    )
    if app:
        p.add_argument(
            "--app",
            default="studio.asgi:application",
            help="under uvicorn: the ASGI app to serve (e.g. _probe:application, see _probe.py)",
        )


def make_server(args, env=None):
    return Server(
        server=args.server,
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
        print(describe(server), flush=True)
        print(f"code: {code_version()}", flush=True)
        try:
            result, status = run(server, args)
        except BaseException:
            if server.process is not None:
                alive = server.process.poll() is None
                print(
                    f"server {'still running' if alive else f'exited with {server.process.returncode}'}; "
                    f"its log ends:\n{server.log()[-5000:]}",
                    file=sys.stderr,
                )
            raise
        result.print()
        if server.pid and server.process is not None and server.process.poll() is None:
            print(f"server RSS after the run: {server.rss_mb():.0f} MB (peak {server.peak_rss_mb():.0f} MB)")
        if args.keep and server.data_dir:
            print(f"data kept in {server.data_dir}")
    write_figures(result, args)
    sys.exit(status)
