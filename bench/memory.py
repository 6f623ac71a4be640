"""Server memory and database size: RSS of the server process idle and after each load, and
database bytes per 1,000 messages and per 1,000 spans.

One server (uvicorn, one worker) takes the loads of the other benchmarks in turn, with their
default sizes (--quick: smaller): pushMessage latency, 16-agent throughput, OTLP ingestion,
push-to-browser, input round trip, and the 10,000-message/10,000-span run and its page.
RSS (VmRSS from /proc) is read 1 s after each load; the peak (VmHWM) at the end.
Database bytes come from SQLite's dbstat (tables with their indexes), before and after the
big run is made: 10,000 captured-shape messages in replies of 20, 10,000 agentscope spans.
Targets: <= 100 MB idle, <= 200 MB after the loads, per worker.
"""

import time

from _common import Result, main, parser

IDLE_TARGET, LOADED_TARGET = 100, 200

import input_roundtrip  # noqa: E402
import otlp_ingest  # noqa: E402
import push_latency  # noqa: E402
import push_throughput  # noqa: E402
import push_to_browser  # noqa: E402
import run_page  # noqa: E402

BENCHES = [
    ("pushMessage latency", push_latency),
    ("16-agent throughput", push_throughput),
    ("OTLP ingestion", otlp_ingest),
    ("push-to-browser", push_to_browser),
    ("input round trip", input_roundtrip),
    ("10k/10k run and its page", run_page),
]

QUICK = {
    push_latency: ["--reps", "1"],
    push_throughput: ["--reps", "1"],
    otlp_ingest: ["--reps", "1"],
    push_to_browser: ["--reps", "1"],
    input_roundtrip: ["--reps", "1"],
    run_page: ["--reps", "3"],
}

MESSAGE_TABLES = ("runs_message", "runs_reply")
SPAN_TABLES = ("traces_span", "traces_trace")


def add_arguments(p):
    p.add_argument("--quick", action="store_true", help="fewer repetitions of each load")
    p.add_argument("--browser", action="store_true", help="push-to-browser also in Chromium")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading RSS")


def bench_args(module, args):
    argv = list(QUICK[module]) if args.quick else []
    if module is push_to_browser and args.browser:
        argv.append("--browser")
    return parser(module.__doc__, module.add_arguments).parse_args(argv)


def run_loads(server, args, on_result=None):
    """Run every load on `server`; returns (memory Result, [each load's Result])."""
    memory = Result("server memory (RSS) and database size")
    time.sleep(args.settle)
    idle = server.rss_mb()
    memory.add("RSS idle (after start and one page)", idle, "MB", f"<= {IDLE_TARGET}")
    results = []
    sizes_before_big = None
    big = None
    for label, module in BENCHES:
        if module is run_page:
            sizes_before_big = server.table_bytes()
        r = module.run(server, bench_args(module, args))
        results.append(r)
        if on_result:
            on_result(r)
        if module is run_page:
            sizes_after_big = server.table_bytes()
            big = bench_args(module, args)
        time.sleep(args.settle)
        rss = server.rss_mb()
        memory.add(f"RSS after {label}", rss, "MB", f"<= {LOADED_TARGET}")
    memory.add("RSS peak (VmHWM)", server.peak_rss_mb(), "MB", f"<= {LOADED_TARGET}")
    if sizes_before_big:

        def delta(tables):
            return sum(sizes_after_big.get(t, 0) - sizes_before_big.get(t, 0) for t in tables)

        memory.add(
            "database bytes per 1,000 messages (with replies, indexes)",
            delta(MESSAGE_TABLES) / big.messages * 1000 / 1024,
            "KB",
            detail=f"{', '.join(MESSAGE_TABLES)}; {big.messages} messages",
        )
        spans = server.count("SELECT COUNT(*) FROM traces_span")
        if spans:
            memory.add(
                "database bytes per 1,000 spans (with traces, indexes)",
                delta(SPAN_TABLES) / big.spans * 1000 / 1024,
                "KB",
                detail=f"{', '.join(SPAN_TABLES)}; {big.spans} spans",
            )
        total = sum(sizes_after_big.values())
        memory.add("database size at the end (all tables)", total / 1024 / 1024, "MB")
    else:
        memory.notes.append("database size not measured: no local SQLite database")
    worst = max(f.value for f in memory.figures if f.name.startswith("RSS after") or f.name.startswith("RSS peak"))
    memory.summary = (
        f"memory: {idle:.0f} MB idle (target {IDLE_TARGET}), up to {worst:.0f} MB under the loads "
        f"(target {LOADED_TARGET})"
    )
    return memory, results


def run(server, args):
    if not server.pid:
        raise SystemExit("memory needs the server's process id: start it here, or give --pid with --url")
    memory, results = run_loads(server, args, on_result=lambda r: print(f"  ({r.summary})", flush=True))
    return memory


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
