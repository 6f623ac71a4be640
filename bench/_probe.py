"""studio.asgi:application with a thread that logs where the server's memory is, for soak.py's
investigations (`soak.py --app _probe:application`, uvicorn only). Nothing of the server changes,
unless asked with the environment:

  STUDIO_PROBE_LOG          file to append to (default: stderr, i.e. the server's log)
  STUDIO_PROBE_INTERVAL     seconds between two reports (default 30)
  STUDIO_PROBE_TRACEMALLOC  frames to keep (e.g. 8): start tracemalloc at import and report the
                            allocations grown most since the first report (slows the server)
  STUDIO_PROBE_CACHE_KB     SQLite page cache of every connection, agents' thread included
                            (settings: 4,000 KB a connection; studio/db.py: 20,000 for agents)

A report line ("probe t=...") holds: RSS split from /proc/self/status (anonymous, file, shmem);
glibc malloc (mallinfo2, all arenas: bytes in use, free inside the heap, mmapped) and its arena
count; SQLite's heap (sqlite3_memory_used: page caches, schemas, statements of every connection)
and each open connection's page cache (sqlite3_db_status CACHE_USED); bytes traced by
tracemalloc; gc object counts (non-frozen) and the types grown most; the sizes of the
process-wide structures that could grow: runs.recording.recent, the in-memory channel layer's
channels/groups/queued messages, python-socketio's rooms and engine.io's sockets, live.py's loop
tasks.
"""

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
import time
from collections import Counter

_FRAMES = int(os.environ.get("STUDIO_PROBE_TRACEMALLOC", "0") or 0)
if _FRAMES:
    import tracemalloc

    tracemalloc.start(_FRAMES)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
_CACHE_KB = os.environ.get("STUDIO_PROBE_CACHE_KB")
if _CACHE_KB:
    import re

    from django.conf import settings

    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    options["init_command"] = re.sub(
        r"cache_size=-?\d+", f"cache_size=-{int(_CACHE_KB)}", options.get("init_command", "")
    )

from studio.asgi import application  # noqa: E402,F401

if _CACHE_KB:
    from studio import db as _studio_db

    _studio_db.AGENT_CACHE_KB = int(_CACHE_KB)

_libc = ctypes.CDLL(ctypes.util.find_library("c"))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_libc.mallinfo2.restype = _Mallinfo2
_sqlite = ctypes.CDLL("libsqlite3.so.0")
_sqlite.sqlite3_memory_used.restype = ctypes.c_int64
_sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
_sqlite.sqlite3_memory_highwater.argtypes = [ctypes.c_int]
_sqlite.sqlite3_db_status.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_int),
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_int,
]
SQLITE_DBSTATUS_CACHE_USED = 1
SQLITE_DBSTATUS_STMT_USED = 3
MB = 1024 * 1024


def _out(line):
    path = os.environ.get("STUDIO_PROBE_LOG")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
    else:
        print(line, file=sys.stderr, flush=True)


def _status():
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def _anon_mappings():
    """Resident KB of the anonymous mappings by kind (from /proc/self/smaps): the brk heap
    (glibc's main arena), glibc's thread arenas (64 MB-aligned reservations), CPython's 1 MB
    obmalloc arenas, 8 MB thread stacks, the rest."""
    kinds = Counter()
    kind = None
    with open("/proc/self/smaps") as f:
        for line in f:
            first = line.split(None, 1)[0]
            if "-" in first and not first.endswith(":"):
                parts = line.split()
                start, end = (int(x, 16) for x in parts[0].split("-"))
                path = parts[5] if len(parts) > 5 else ""
                size = end - start
                if path == "[heap]":
                    kind = "brk"
                elif path:
                    kind = None  # file-backed, [stack], [vdso]...
                elif size == 1 << 20:
                    kind = "obmalloc"
                elif start % (64 << 20) == 0 and size <= (64 << 20):
                    kind = "arenas"
                elif size in ((8 << 20), (8 << 20) + 4096):
                    kind = "stacks"
                else:
                    kind = "other"
            elif first == "Rss:" and kind:
                kinds[kind] += int(line.split()[1])
    return " ".join(f"{k}={kinds[k] / 1024:.1f}" for k in ("brk", "arenas", "obmalloc", "stacks", "other"))


def _sqlite_connections():
    """(cache bytes, statement bytes) of each open sqlite3.Connection of the process.

    The sqlite3* handle is the first field after the object header of CPython 3.11's
    pysqlite_Connection (Modules/_sqlite/connection.h)."""
    out = []
    import sqlite3

    for obj in gc.get_objects():
        if isinstance(obj, sqlite3.Connection):
            handle = ctypes.c_void_p.from_address(id(obj) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
            if not handle:
                continue  # closed
            cur, hi = ctypes.c_int(), ctypes.c_int()
            _sqlite.sqlite3_db_status(handle, SQLITE_DBSTATUS_CACHE_USED, ctypes.byref(cur), ctypes.byref(hi), 0)
            stmt = ctypes.c_int()
            _sqlite.sqlite3_db_status(handle, SQLITE_DBSTATUS_STMT_USED, ctypes.byref(stmt), ctypes.byref(hi), 0)
            out.append((cur.value, stmt.value))
    return sorted(out, reverse=True)


def _structures():
    parts = []
    try:
        from runs.recording import recent

        parts.append(f"recent.runs={len(recent.runs)} recent.replies={len(recent.replies)}")
    except Exception as exc:  # noqa: BLE001
        parts.append(f"recent=? ({exc})")
    try:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        channels = getattr(layer, "channels", {})
        queued = sum(queue.qsize() for queue in channels.values())
        groups = getattr(layer, "groups", {})
        parts.append(
            f"layer.channels={len(channels)} queued={queued} groups={len(groups)} "
            f"members={sum(len(m) for m in groups.values())}"
        )
    except Exception as exc:  # noqa: BLE001
        parts.append(f"layer=? ({exc})")
    try:
        from runs import agent_socket

        sio = agent_socket.sio
        rooms = sum(len(r) for r in getattr(sio.manager, "rooms", {}).values())
        parts.append(f"sio.rooms={rooms} eio.sockets={len(getattr(sio.eio, 'sockets', {}))}")
    except Exception as exc:  # noqa: BLE001
        parts.append(f"sio=? ({exc})")
    try:
        from studio import live

        loop = live._loop
        if loop is not None:
            import asyncio

            parts.append(f"loop.tasks={len(asyncio.all_tasks(loop))}")
    except Exception as exc:  # noqa: BLE001
        parts.append(f"loop=? ({exc})")
    return " ".join(parts)


def _report(t0, first_types, first_snapshot):
    status = _status()
    info = _libc.mallinfo2()
    conns = _sqlite_connections()
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    grown = sorted(((counts[k] - first_types.get(k, 0), k) for k in counts), reverse=True)[:6]
    line = (
        f"probe t={time.monotonic() - t0:.0f}s rss={status['VmRSS'] / 1024:.1f}MB "
        f"anon={status['RssAnon'] / 1024:.1f} file={status['RssFile'] / 1024:.1f} shmem={status['RssShmem'] / 1024:.1f} "
        f"threads={status['Threads']} | anon: {_anon_mappings()} pyblocks={sys.getallocatedblocks()} | malloc inuse={(info.uordblks + info.hblkhd) / MB:.1f}MB "
        f"free_in_heap={info.fordblks / MB:.1f} heap={info.arena / MB:.1f} mmapped={info.hblkhd / MB:.1f} "
        f"releasable_top={info.keepcost / MB:.1f} | sqlite used={_sqlite.sqlite3_memory_used() / MB:.1f}MB "
        f"hi={_sqlite.sqlite3_memory_highwater(0) / MB:.1f} conns(cache MB)="
        f"[{', '.join(f'{c / MB:.1f}' for c, _ in conns)}] stmts={sum(s for _, s in conns) / MB:.1f}MB"
    )
    if _FRAMES:
        traced, peak = tracemalloc.get_traced_memory()
        line += f" | traced={traced / MB:.1f}MB"
    line += f" | gc.objects={sum(counts.values())} grown={[(k, d) for d, k in grown if d > 0]} | {_structures()}"
    _out(line)
    if _FRAMES and first_snapshot is not None:
        snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
        for stat in snapshot.compare_to(first_snapshot, "traceback")[:8]:
            frames = " < ".join(
                f"{os.path.relpath(f.filename, sys.prefix) if 'site-packages' in f.filename else os.path.basename(f.filename)}:{f.lineno}"
                for f in stat.traceback[:_FRAMES]
            )
            _out(f"probe   +{stat.size_diff / 1024:.0f} KB ({stat.count_diff:+d} blocks) {frames}")
    return counts


def _probe_forever():
    interval = float(os.environ.get("STUDIO_PROBE_INTERVAL", "30"))
    t0 = time.monotonic()
    time.sleep(min(interval, 10))
    first_types = _report(t0, {}, None)
    first_snapshot = tracemalloc.take_snapshot() if _FRAMES else None
    while True:
        time.sleep(interval)
        try:
            _report(t0, first_types, first_snapshot)
        except Exception as exc:  # noqa: BLE001
            _out(f"probe failed: {exc!r}")


_out(
    f"probe: started (tracemalloc frames {_FRAMES or 'off'}, SQLite cache "
    f"{_CACHE_KB + ' KB a connection' if _CACHE_KB else 'as configured'})"
)
threading.Thread(target=_probe_forever, name="studio-probe", daemon=True).start()
