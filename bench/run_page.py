"""The run page of a big run: 10,000 messages and 10,000 spans.

The run is made through the server's own API, as agents would: --messages pushMessage calls
(replies of 20 captured messages each, 16 at once) and --spans spans in 512-span OTLP batches
linked to the run. Then:
  server time   GET /projects/<project>/runs/<run>/ and the two fragments the page loads at
                once (run details, trace panel), timed on the client, bytes on the wire
                (as sent: the server does not compress pages)
  Chromium      headless, a new context (cold cache) each time: first paint and first
                contentful paint, DOMContentLoaded, load, and the bytes received before the
                first paint (Resource Timing transferSize of what finished by then) and in all
                (including WebSocket frames in the first 2 s)
Targets: first paint <= 1 s, <= 300 KB before the first paint.
"""

import asyncio
import json
import time

import aiohttp
from _common import (
    KeepAlive,
    Messages,
    Result,
    gzipped,
    main,
    median,
    ms,
    otlp_batches,
    percentile,
    register_run,
    short_id,
    traces_available,
)

PAINT_TARGET_MS = 1000
BYTES_TARGET_KB = 300
PROJECT = "bench-big"


def add_arguments(p):
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--spans", type=int, default=10000)
    p.add_argument("--reps", type=int, default=10, help="GETs of the page and Chromium loads (default 10)")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--no-browser", action="store_true")


async def push_all(server, bodies, concurrency=16):
    queue = list(reversed(bodies))
    errors = []

    async def worker(session):
        while queue:
            body = queue.pop()
            async with session.post(
                server.url + "/trpc/pushMessage", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                await r.read()
                if r.status != 200:
                    errors.append(r.status)

    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in range(concurrency)]
    try:
        await asyncio.gather(*(worker(s) for s in sessions))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    if errors:
        raise RuntimeError(f"{len(errors)} pushMessage calls failed: {errors[:5]}")


def make_big_run(server, messages, spans, name="big-run"):
    """A run with `messages` messages (replies of 20) and `spans` spans; returns (run id, seconds, spans stored)."""
    run_id = register_run(server, project=PROJECT, name=name)
    m = Messages(run_id)
    bodies = []
    reply_id = None
    for i in range(messages):
        if i % 20 == 0:
            reply_id = short_id()
        bodies.append(json.dumps(m.in_reply(reply_id)))
    t0 = time.perf_counter()
    asyncio.run(push_all(server, bodies))
    stored_spans = 0
    if spans and traces_available(server):
        full, rest = divmod(spans, 512)
        batches = otlp_batches(run_id, full, 512) + (otlp_batches(run_id, 1, rest) if rest else [])
        conn = KeepAlive(server, timeout=300)
        for body in batches:
            status, data = conn.call(
                "POST",
                "/v1/traces",
                gzipped(body),
                {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
            )
            if status != 200:
                raise RuntimeError(f"/v1/traces answered {status}: {data[:300]!r}")
        conn.close()
        stored_spans = spans
    return run_id, time.perf_counter() - t0, stored_spans


def time_get(server, path, reps):
    conn = KeepAlive(server, timeout=120)
    times, size = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        status, data = conn.call("GET", path, headers={"Accept-Encoding": "gzip"})
        times.append(ms(time.perf_counter() - t0))
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        size = len(data)
    conn.close()
    return times, size


PAINT_JS = """() => {
    const paint = {};
    for (const e of performance.getEntriesByType('paint')) paint[e.name] = e.startTime;
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = paint['first-contentful-paint'] ?? paint['first-paint'];
    const entries = [nav, ...performance.getEntriesByType('resource')];
    let before = 0, all = 0;
    for (const e of entries) {
        all += e.transferSize;
        if (e.responseEnd <= fcp) before += e.transferSize;
    }
    return {fp: paint['first-paint'], fcp, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
            before, all, resources: entries.length, doc: nav.transferSize, nodes: document.getElementsByTagName('*').length,
            older: entries.filter(e => e.name.includes('/older/')).length,
            olderBytes: entries.filter(e => e.name.includes('/older/')).reduce((a, e) => a + e.transferSize, 0)};
}"""


async def browser_loads(server, args, path, reps):
    from playwright.async_api import async_playwright

    out = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=args.chromium, headless=True)
        for _ in range(reps + 1):
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            page = await context.new_page()
            ws_bytes = [0]

            def count_frames(ws, counter=ws_bytes):
                ws.on("framereceived", lambda payload: counter.__setitem__(0, counter[0] + len(payload)))

            page.on("websocket", count_frames)
            await page.goto(server.url + path, wait_until="load")
            await page.wait_for_timeout(2000)
            figures = await page.evaluate(PAINT_JS)
            figures["ws"] = ws_bytes[0]
            out.append(figures)
            await context.close()
        await browser.close()
    return out[1:]  # the first load warms the server's caches and Chromium


def run(server, args):
    result = Result(f"run page of a run with {args.messages:,} messages and {args.spans:,} spans")
    run_id, seconds, spans = make_big_run(server, args.messages, args.spans)
    result.add(
        "making the run through the API (push + OTLP)",
        seconds,
        "s",
        detail=f"{args.messages} pushMessage at 16 at once, {spans} spans in 512-span batches",
    )
    if spans < args.spans:
        result.notes.append("no spans: POST /v1/traces does not ingest on this server")
    page = f"/projects/{PROJECT}/runs/{run_id}/"
    times, size = time_get(server, page, args.reps + 1)
    result.latency("GET run page (server time, keep-alive)", times[1:], detail=f"{size / 1024:.0f} KB")
    result.add("run page HTML size", size / 1024, "KB")
    for label, path in (
        ("GET run details fragment", f"/runs/{run_id}/details/"),
        ("GET trace panel fragment", f"/runs/{run_id}/trace/"),
    ):
        t, s = time_get(server, path, args.reps + 1)
        result.latency(label, t[1:], detail=f"{s / 1024:.0f} KB")
    if args.no_browser:
        result.summary = (
            f"big run page: server p50 {percentile(times[1:], 50):.0f} ms, {size / 1024:.0f} KB HTML (no browser)"
        )
        return result
    loads = asyncio.run(browser_loads(server, args, page, args.reps))
    fcp = [x["fcp"] for x in loads]
    before = [x["before"] / 1024 for x in loads]
    result.add(
        "Chromium first contentful paint (median)",
        median(fcp),
        "ms",
        f"<= {PAINT_TARGET_MS}",
        f"p99 {percentile(fcp, 99):.0f} ms, first paint {median([x['fp'] for x in loads]):.0f} ms, n={len(loads)}",
    )
    result.add(
        "bytes received before first paint (median)",
        median(before),
        "KB",
        f"<= {BYTES_TARGET_KB}",
        f"document {median([x['doc'] for x in loads]) / 1024:.0f} KB",
    )
    result.add("DOMContentLoaded (median)", median([x["dcl"] for x in loads]), "ms")
    result.add("load event (median)", median([x["load"] for x in loads]), "ms")
    result.add(
        "bytes received in all, first 2 s (HTTP + WebSocket)",
        median([(x["all"] + x["ws"]) / 1024 for x in loads]),
        "KB",
        detail=f"{loads[0]['resources']} resources, WebSocket {median([x['ws'] for x in loads]) / 1024:.0f} KB",
    )
    result.add("DOM elements after 2 s", median([x["nodes"] for x in loads]), "elements")
    result.add(
        "older chat pages loaded within 2 s, unscrolled",
        median([x["older"] for x in loads]),
        "requests",
        detail=f"{median([x['olderBytes'] for x in loads]) / 1024:.0f} KB; per load: {[x['older'] for x in loads]}",
    )
    ok = median(fcp) <= PAINT_TARGET_MS and median(before) <= BYTES_TARGET_KB
    result.summary = (
        f"{args.messages:,}-message/{spans:,}-span run: first paint {median(fcp):.0f} ms, "
        f"{median(before):.0f} KB before it ({'meets' if ok else 'misses'} {PAINT_TARGET_MS} ms / "
        f"{BYTES_TARGET_KB} KB); server {percentile(times[1:], 50):.0f} ms for {size / 1024:.0f} KB of HTML"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
