"""Bounded load: many agents streaming, OTLP exporters and watching pages at once, for --seconds;
then whether everything the server acknowledged is stored.

  agents     --agents (50) agents, each its own run (registerRun) and its own keep-alive
             connection (aiohttp, one connection each, all on one asyncio loop), pushing as fast as
             the server answers, as agentscope does (it waits for each pushMessage): replies of
             a message streamed --min-chunks..--max-chunks times (same msg.id, growing thinking
             then text, _common.streamed_contents), then a tool call, its result and a final
             text (new msg.ids, captured agentscope 1.0.21 shapes); --think-ms between calls.
  exporters  --exporters (5) OTLP/HTTP exporters, each linked to one of the first runs (its
             spans' gen_ai.conversation.id), posting a protobuf batch of --batch-size (512)
             agentscope spans every --export-interval (5 s: BatchSpanProcessor's schedule),
             staggered; --gzip for Content-Encoding: gzip.
  pages      --pages (5) run pages' WebSockets (/ws/runs/<run>/?group=reply, Origin: the
             server) on the exporters' runs, reading every frame (counted, not parsed).

At the end (after the calls under way have finished) the server's SQLite database is read:
distinct (run, msg.id) acknowledged with 200 must equal the rows of runs_message of those runs
(and each row hold the content last acknowledged), spans acknowledged (200, minus any rejected
in partial_success) must equal the rows of traces_span. Exit status 1 if either differs.
Latencies are taken on the client around each call; with ~55 tasks on one client loop sharing
the machine's 2 cores with the server, they include some client queueing.
"""

import asyncio
import json
import random
import time
from collections import Counter

import aiohttp
import websockets
from _common import (
    Messages,
    Result,
    ms,
    otlp_batches,
    otlp_response_rejected,
    percentile,
    register_run,
    short_id,
    streamed_contents,
)
from _servers import add_server_arguments, main


def add_arguments(p):
    add_server_arguments(p)
    p.add_argument("--seconds", type=float, default=60, help="how long the agents and exporters go on (default 60)")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--exporters", type=int, default=5)
    p.add_argument("--pages", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=512, help="spans per OTLP batch (default 512)")
    p.add_argument(
        "--export-interval", type=float, default=5.0, help="seconds between one exporter's batches (default 5)"
    )
    p.add_argument("--gzip", action="store_true", help="OTLP bodies gzip-compressed")
    p.add_argument("--min-chunks", type=int, default=20)
    p.add_argument("--max-chunks", type=int, default=80)
    p.add_argument("--think-ms", type=float, default=0, help="pause of each agent between its calls (default 0)")
    p.add_argument("--seed", type=int, default=1)


class Tally:
    def __init__(self):
        self.push_latency = []
        self.push_calls = 0
        self.acked = {}  # (run, msg.id) -> content of the last acknowledged push
        self.otlp_latency = []
        self.otlp_calls = 0
        self.spans_sent = 0
        self.spans_acked = 0
        self.spans_rejected = 0
        self.errors = Counter()  # "pushMessage 503", "OTLP ClientOSError", ...
        self.frames = Counter()  # page index -> frames
        self.frame_bytes = 0
        self.frames_after_stop = 0
        self.page_closed = []


async def agent(session, url, run_id, tally, deadline, args, rng, contents):
    messages = Messages(run_id)
    templates = messages.templates
    # a tool call, its result, a final text (captured shapes); the rest of the captured
    # messages are user/plain ones
    tail = [
        t
        for t in templates
        if any(
            isinstance(c, dict) and c.get("type") in ("tool_use", "tool_result")
            for c in (t["msg"]["content"] if isinstance(t["msg"]["content"], list) else [])
        )
    ]
    tail.append(templates[3])
    headers = {"Content-Type": "application/json"}

    async def push(body):
        data = json.dumps(body, ensure_ascii=False)
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=data, headers=headers) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            status = type(exc).__name__
        tally.push_latency.append(ms(time.perf_counter() - t0))
        tally.push_calls += 1
        if status == 200:
            tally.acked[(run_id, body["msg"]["id"])] = body["msg"]["content"]
        else:
            tally.errors[f"pushMessage {status}"] += 1
        if args.think_ms:
            await asyncio.sleep(args.think_ms / 1000)

    while time.perf_counter() < deadline:
        reply_id = short_id()
        msg_id = short_id()
        for content in contents[: rng.randint(args.min_chunks, args.max_chunks)]:
            await push(messages.body(reply_id, msg_id, content=content))
            if time.perf_counter() >= deadline:
                return
        for template in tail:
            await push(messages.body(reply_id, short_id(), template=template))
            if time.perf_counter() >= deadline:
                return


async def exporter(session, url, bodies, tally, start, deadline, args, spans_per_body):
    headers = {"Content-Type": "application/x-protobuf"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"
    at = start
    for body in bodies:
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if time.perf_counter() >= deadline:
            return
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                data = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, data = type(exc).__name__, b""
        tally.otlp_latency.append(ms(time.perf_counter() - t0))
        tally.otlp_calls += 1
        tally.spans_sent += spans_per_body
        if status == 200:
            rejected = otlp_response_rejected(data) or 0
            tally.spans_rejected += rejected
            tally.spans_acked += spans_per_body - rejected
        else:
            tally.errors[f"OTLP {status}"] += 1
        at += args.export_interval


async def page(server, index, run_id, tally, stopped):
    url = f"{server.ws_url}/ws/runs/{run_id}/?group=reply"
    try:
        async with websockets.connect(url, origin=server.url, max_size=None) as ws:
            async for frame in ws:
                tally.frames[index] += 1
                tally.frame_bytes += len(frame)
                if stopped.is_set():
                    tally.frames_after_stop += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a refused or dropped socket is a finding, not a crash
        tally.page_closed.append(f"page {index}: {type(exc).__name__}: {exc}")


async def drive(server, args, runs, span_bodies, spans_per_body):
    tally = Tally()
    rng = random.Random(args.seed)
    contents = streamed_contents(max(args.max_chunks, 1), thinking_chunks=min(10, args.max_chunks // 4))
    push_url = server.url + "/trpc/pushMessage"
    otlp_url = server.url + "/v1/traces"
    timeout = aiohttp.ClientTimeout(total=120)
    agent_sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout) for _ in runs]
    exporter_sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout) for _ in span_bodies
    ]
    stopped = asyncio.Event()
    try:
        # open every connection first
        await asyncio.gather(
            *(s.get(server.url + "/static/studio/live.js") for s in agent_sessions + exporter_sessions)
        )
        pages = [asyncio.create_task(page(server, i, runs[i % len(runs)], tally, stopped)) for i in range(args.pages)]
        await asyncio.sleep(1.0)  # the pages are connected and subscribed
        t0 = time.perf_counter()
        deadline = t0 + args.seconds
        cpu0 = server.cpu_seconds()
        client0 = time.process_time()
        tasks = [
            agent(s, push_url, run_id, tally, deadline, args, random.Random(rng.random()), contents)
            for s, run_id in zip(agent_sessions, runs, strict=True)
        ]
        tasks += [
            exporter(
                s,
                otlp_url,
                bodies,
                tally,
                t0 + 0.2 + k * args.export_interval / max(1, len(span_bodies)),
                deadline,
                args,
                spans_per_body,
            )
            for k, (s, bodies) in enumerate(zip(exporter_sessions, span_bodies, strict=True))
        ]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        cpu = server.cpu_seconds() - cpu0 if cpu0 is not None else None
        tally.client_cpu = time.process_time() - client0
        stopped.set()
        await asyncio.sleep(2.0)  # the pages' last renders (coalesced, details after 1 s)
        for task in pages:
            task.cancel()
        await asyncio.gather(*pages, return_exceptions=True)
    finally:
        await asyncio.gather(*(s.close() for s in agent_sessions + exporter_sessions))
    return tally, elapsed, cpu


def stored(server, runs):
    """{(run, msg.id): content} of the agents' runs and the count of traces_span; None if no db."""
    db = server.db()
    if db is None:
        return None, None
    try:
        rows = {}
        for run_id in runs:
            for msg_id, content in db.execute("SELECT msg_id, content FROM runs_message WHERE run_id = ?", (run_id,)):
                rows[(run_id, msg_id)] = content
        spans = db.execute("SELECT COUNT(*) FROM traces_span").fetchone()[0]
        return rows, spans
    finally:
        db.close()


def run(server, args):
    random.seed(args.seed)
    runs = [register_run(server, project="bench-load", name=f"agent-{i}") for i in range(args.agents)]
    batches = int(args.seconds // args.export_interval) + 1
    span_bodies = [otlp_batches(runs[k % len(runs)], batches, args.batch_size) for k in range(args.exporters)]
    if args.gzip:
        from _common import gzipped

        span_bodies = [[gzipped(b) for b in bodies] for bodies in span_bodies]
    spans_before = server.count("SELECT COUNT(*) FROM traces_span") or 0
    rss0 = server.rss_mb()

    tally, elapsed, cpu = asyncio.run(drive(server, args, runs, span_bodies, args.batch_size))
    time.sleep(0.5)
    rows, spans = stored(server, runs)

    result = Result(
        f"bounded load: {args.agents} agents, {args.exporters} OTLP exporters, {args.pages} pages, "
        f"{args.seconds:.0f} s ({args.server})"
    )
    failed = []
    result.add("pushMessage calls", tally.push_calls, "calls", detail=f"in {elapsed:.1f} s")
    result.add("pushMessage rate", tally.push_calls / elapsed, "calls/s")
    result.latency("pushMessage latency", tally.push_latency)
    result.add("messages acknowledged (distinct run, msg.id with 200)", len(tally.acked), "msgs")
    if rows is not None:
        missing = [key for key in tally.acked if key not in rows]
        stale = [key for key, content in tally.acked.items() if key in rows and json.loads(rows[key]) != content]
        result.add(
            "messages stored (runs_message rows of those runs)",
            len(rows),
            "msgs",
            detail=f"acknowledged but missing {len(missing)}, with other than the last acknowledged content "
            f"{len(stale)}",
        )
        if len(rows) != len(tally.acked) or missing or stale:
            failed.append(
                f"messages: {len(tally.acked)} acknowledged, {len(rows)} stored, {len(missing)} missing, "
                f"{len(stale)} stale"
            )
    result.add(
        "OTLP export calls",
        tally.otlp_calls,
        "calls",
        detail=f"{args.batch_size} spans each" + (", gzip" if args.gzip else ", plain protobuf"),
    )
    result.add("spans rate", tally.spans_acked / elapsed, "spans/s")
    result.latency("OTLP export latency", tally.otlp_latency)
    result.add(
        "spans acknowledged (200, minus rejected)",
        tally.spans_acked,
        "spans",
        detail=f"sent {tally.spans_sent}, rejected {tally.spans_rejected}",
    )
    if spans is not None:
        spans -= spans_before
        result.add("spans stored (traces_span rows)", spans, "spans")
        if spans != tally.spans_acked:
            failed.append(f"spans: {tally.spans_acked} acknowledged, {spans} stored")
    result.add(
        "non-200 answers",
        sum(tally.errors.values()),
        "calls",
        detail=", ".join(f"{k}: {v}" for k, v in sorted(tally.errors.items())),
    )
    result.add(
        "page frames received",
        sum(tally.frames.values()),
        "frames",
        detail=f"per page {sorted(tally.frames.values())}, {tally.frame_bytes / 1e6:.1f} MB, "
        f"{tally.frames_after_stop} in the 2 s after the load",
    )
    if cpu is not None:
        result.add("server CPU", cpu / elapsed * 100, "%", detail=f"{cpu:.1f} s user+system in {elapsed:.1f} s")
        result.add("client CPU (this process: agents, exporters, pages)", tally.client_cpu / elapsed * 100, "%")
        result.add("server RSS before / after", server.rss_mb(), "MB", detail=f"before the load {rss0:.0f} MB")
    for closed in tally.page_closed:
        result.notes.append(closed)
    if rows is None:
        result.notes.append("stored rows not counted: no local SQLite database (give --data-dir with --url)")
    if failed:
        result.summary = "FAILED: " + "; ".join(failed)
    else:
        result.summary = (
            f"{tally.push_calls / elapsed:.0f} pushMessage/s (p50 {percentile(tally.push_latency, 50):.1f}, "
            f"p99 {percentile(tally.push_latency, 99):.1f} ms), {tally.spans_acked / elapsed:.0f} spans/s; "
            f"everything acknowledged is stored ({len(tally.acked)} messages, {tally.spans_acked} spans); "
            f"{sum(tally.errors.values())} non-200; {sum(tally.frames.values())} page frames"
        )
    result.notes.append(
        f"load average at the end (1/5/15 min): {' '.join(open('/proc/loadavg').read().split()[:3])}"
        " on 2 cores: other work on the machine competes with the server and the client"
    )
    return result, 1 if failed else 0


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
