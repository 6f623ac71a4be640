"""OTLP ingestion: spans per second through POST /v1/traces (OTLP/HTTP protobuf).

Batches of 512 spans, as agentscope's BatchSpanProcessor exports them, made from a real
agentscope 1.0.21 ExportTraceServiceRequest (tests/captures/otlp-agentscope-1.0.21-10spans.bin):
its span tree is replicated with fresh trace and span ids, its conversation id set to a
registered run. All bodies are built before the clock starts. Shapes:
  gzip          Content-Encoding: gzip (the exporter's Compression.Gzip), one connection
  plain         uncompressed protobuf, one connection
  gzip x4       four exporters posting at once
Every answer must be 200 with no rejected spans; the stored spans are counted in the database.
Target: >= 20,000 spans/s per worker process.
"""

import asyncio
import time

import aiohttp
from _common import (
    KeepAlive,
    Result,
    gzipped,
    main,
    median,
    ms,
    otlp_batches,
    otlp_response_rejected,
    percentile,
    register_run,
    traces_available,
)

TARGET = 20000


def add_arguments(p):
    p.add_argument("--batches", type=int, default=20, help="batches per shape and repetition (default 20)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=4)


def post_sequential(server, bodies, gzip):
    conn = KeepAlive(server, timeout=120)
    headers = {"Content-Type": "application/x-protobuf"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    latencies, rejected = [], 0
    t0 = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        status, data = conn.call("POST", "/v1/traces", body, headers)
        latencies.append(ms(time.perf_counter() - t))
        if status != 200:
            raise RuntimeError(f"/v1/traces answered {status}: {data[:300]!r}")
        rejected += otlp_response_rejected(data) or 0
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed, latencies, rejected


async def post_concurrent(server, bodies, concurrency):
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    queue = list(bodies)
    latencies, rejected = [], [0]

    async def exporter(session):
        while queue:
            body = queue.pop()
            t = time.perf_counter()
            async with session.post(server.url + "/v1/traces", data=body, headers=headers) as r:
                data = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"/v1/traces answered {r.status}: {data[:300]!r}")
                rejected[0] += otlp_response_rejected(data) or 0
            latencies.append(ms(time.perf_counter() - t))

    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=300))
        for _ in range(concurrency)
    ]
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(exporter(s) for s in sessions))
        elapsed = time.perf_counter() - t0
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return elapsed, latencies, rejected[0]


def run(server, args):
    result = Result(f"OTLP ingestion, POST /v1/traces, batches of {args.batch_size} agentscope spans")
    if not traces_available(server):
        result.notes.append("POST /v1/traces does not ingest on this server (no traces ingestion yet): skipped")
        result.summary = "OTLP ingestion: not available on this server"
        return result
    shapes = {"gzip": [], "plain": [], f"gzip x{args.concurrency}": []}
    latencies = {name: [] for name in shapes}
    cpu = {name: [] for name in shapes}
    sent = rejected = 0
    run_ids = []
    warm = register_run(server, project="bench-otlp", name="warmup")
    post_sequential(server, [gzipped(b) for b in otlp_batches(warm, 3, args.batch_size)], True)
    for rep in range(args.reps):
        for name in shapes:
            run_id = register_run(server, project="bench-otlp", name=f"otlp-{rep}-{name}")
            run_ids.append(run_id)
            bodies = otlp_batches(run_id, args.batches, args.batch_size)
            raw_size = sum(len(b) for b in bodies)
            if name != "plain":
                bodies = [gzipped(b) for b in bodies]
            cpu0 = server.cpu_seconds()
            if name.startswith("gzip x"):
                elapsed, lat, rej = asyncio.run(post_concurrent(server, bodies, args.concurrency))
            else:
                elapsed, lat, rej = post_sequential(server, bodies, name == "gzip")
            spans = args.batches * args.batch_size
            if cpu0 is not None:
                cpu[name].append(ms(server.cpu_seconds() - cpu0) / spans * 1000)
            shapes[name].append(spans / elapsed)
            latencies[name] += lat
            sent += spans
            rejected += rej
    for name, rates in shapes.items():
        result.add(
            f"{name}: spans/s (median of {args.reps})",
            median(rates),
            "spans/s",
            f">= {TARGET}",
            f"reps {min(rates):,.0f}-{max(rates):,.0f}",
        )
        result.latency(f"{name}: one {args.batch_size}-span batch", latencies[name])
        if cpu[name]:
            result.add(f"{name}: server CPU per 1,000 spans", median(cpu[name]), "ms")
    result.add(
        "body size of a batch (protobuf / gzip)",
        raw_size / args.batches / 1024,
        "KB",
        detail=f"gzip {sum(len(b) for b in bodies) / args.batches / 1024:.0f} KB",
    )
    result.add("spans rejected (partial success)", rejected, "spans", "<= 0")
    placeholders = ",".join("?" * len(run_ids))
    stored = server.count(f"SELECT COUNT(*) FROM traces_span WHERE run_id IN ({placeholders})", run_ids)
    if stored is not None:
        result.add(
            "spans lost (sent - stored, linked to their run)",
            sent - stored,
            "spans",
            "<= 0",
            f"sent {sent}, stored {stored}",
        )
    best = median(shapes["gzip"])
    result.summary = (
        f"OTLP: {best:,.0f} spans/s protobuf+gzip on one connection, {median(shapes['plain']):,.0f} plain, "
        f"{median(shapes[f'gzip x{args.concurrency}']):,.0f} with {args.concurrency} exporters "
        f"(target {TARGET:,} per worker); p50 {percentile(latencies['gzip'], 50):.0f} ms a batch"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
