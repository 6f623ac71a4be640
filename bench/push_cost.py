"""pushMessage's own cost, in process: CPU time or instructions per call, no sockets.

The real ASGI application (studio.asgi.application: the agent endpoints' handler, its sync
thread, the DRF view, validation, the SQLite writes, the live update's hand-off) is called with
pushMessage bodies shaped like the captured agentscope ones, in a fresh database with the
server's settings, in three shapes as push_latency.py: each message a new reply; one reply
growing by a message a call; one message streamed (same id, growing content). Only the
network and HTTP parsing (uvicorn) are left out.

On a shared machine CPU time varies from run to run; `--callgrind` counts instructions, which
are the same from one run to the next: each shape runs under valgrind with N and 3N calls and
the difference is divided by 2N. Use it to compare two versions of the code (~1 min a shape).
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SHAPES = ("new replies", "growing reply", "streamed message")
RUN_ID = "bench-push-cost"


def setup_django(data_dir):
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()


def bodies(shape, count):
    """`count` pushMessage bodies of one shape (encoded), after 20 of warm-up."""
    from _common import Messages, encode, short_id, streamed_contents

    messages = Messages(RUN_ID)
    reply_id, msg_id = short_id(), short_id()
    if shape == "new replies":
        made = [messages.new_reply() for _ in range(count + 20)]
    elif shape == "growing reply":
        made = [messages.in_reply(reply_id) for _ in range(count + 20)]
    else:
        made = [messages.body(reply_id, msg_id, content=content) for content in streamed_contents(count + 20)]
    return [encode(body) for body in made]


async def call(application, path, body):
    """One POST through the ASGI application; returns the status."""
    sent, pending = [], [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:3000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }
    await application(scope, receive, send)
    return sent[0]["status"]


async def push_all(shapes, count):
    """{shape: CPU seconds of each of its `count` pushMessage calls (after the warm-up)}.

    One event loop for all of them, as in the server (the first call starts the app's tasks).
    """
    from studio.asgi import application

    run = {"id": RUN_ID, "project": "bench-push-cost", "name": "push cost", "pid": 1, "status": "running"}
    assert await call(application, "/trpc/registerRun", json.dumps(run).encode()) == 200
    times = {}
    for shape in shapes:
        made = bodies(shape, count)
        for body in made[:20]:
            assert await call(application, "/trpc/pushMessage", body) == 200
        times[shape] = []
        for body in made[20:]:
            t0 = time.process_time()
            status = await call(application, "/trpc/pushMessage", body)
            times[shape].append(time.process_time() - t0)
            assert status == 200, status
    return times


def migrated_database(without_search_index=False):
    """A data dir with the migrated database (migrations under valgrind would take minutes);
    `without_search_index`: its full-text search triggers dropped, to see what they cost."""
    from django.core.management import call_command

    data_dir = tempfile.mkdtemp(prefix="studio-push-cost-")
    setup_django(data_dir)
    call_command("migrate", verbosity=0)
    from django.db import connection

    if without_search_index:
        with connection.cursor() as cursor:
            for trigger in ("insert", "update", "delete"):
                cursor.execute(f"DROP TRIGGER runs_message_fts_{trigger}")
    connection.close()
    return data_dir


def run_cpu(args):
    data_dir = migrated_database(args.without_search_index)
    try:
        print(f"== pushMessage in process, {args.calls} calls a shape (CPU ms per call, all threads)")
        medians = {}
        for shape, times in asyncio.run(push_all(SHAPES, args.calls)).items():
            ms = sorted(t * 1000 for t in times)
            medians[shape] = statistics.median(ms)
            print(f"  {shape:18s} median {medians[shape]:6.3f}   p90 {ms[int(len(ms) * 0.9)]:6.3f}")
        worst = max(medians, key=medians.get)
        print(
            f"summary: pushMessage in process: {medians[worst]:.2f} ms CPU a call ({worst}, the dearest shape), "
            f"before HTTP"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def child(shape, count, database):
    data_dir = tempfile.mkdtemp(prefix="studio-push-cost-")
    try:
        shutil.copy(database, data_dir)
        setup_django(data_dir)
        asyncio.run(push_all([shape], count))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run_callgrind(args):
    from _common import callgrind_instructions

    data_dir = migrated_database(args.without_search_index)
    database = str(Path(data_dir) / "studio.sqlite3")
    try:
        n = args.calls
        print(f"== pushMessage in process, instructions (valgrind) per call, {n} and {3 * n} calls a shape")
        per_call = {}
        for shape in SHAPES:
            counts = [
                callgrind_instructions(
                    [sys.executable, __file__, "--child", shape, str(calls), database],
                    Path(data_dir) / f"callgrind.{calls}",
                )
                for calls in (n, 3 * n)
            ]
            per_call[shape] = (counts[1] - counts[0]) / (2 * n) / 1e6
            print(f"  {shape:18s} {per_call[shape]:6.2f} M instructions")
        print(
            "summary: pushMessage in process: "
            + ", ".join(f"{shape} {m:.2f} M" for shape, m in per_call.items())
            + " instructions a call"
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    if sys.argv[1:2] == ["--child"]:
        shape, count, database = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        return child(shape, count, database)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--calls", type=int, default=None, help="calls a shape (default 1000; with --callgrind 100, run as 100 and 300)"
    )
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument(
        "--without-search-index",
        action="store_true",
        help="drop the message search's FTS5 triggers first: what keeping the index costs a push",
    )
    args = parser.parse_args()
    if args.callgrind:
        args.calls = args.calls or 100
        run_callgrind(args)
    else:
        args.calls = args.calls or 1000
        run_cpu(args)


if __name__ == "__main__":
    main()
