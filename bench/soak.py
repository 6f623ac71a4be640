"""Memory soak: a steady pushMessage rate with pages watching, for --minutes; does RSS level off?

  agents  --agents (4) agents, each its own run and keep-alive connection, together --rate
          (100) pushMessage/s on a fixed schedule (late calls are not made up in a burst), as
          agentscope streams: replies of one message re-sent --min-chunks..--max-chunks times
          with the same msg.id and growing content (thinking, then text), then a tool call,
          its result and a final text with new msg.ids (captured agentscope 1.0.21 shapes).
  pages   --pages (2) run pages' WebSockets (/ws/runs/<run>/?group=reply) on the first runs,
          reading every frame.

Every --sample (10) s the server process's /proc/<pid>/status is read (VmRSS, and its split
into RssAnon / RssFile / RssShmem) with the database and write-ahead log sizes; a line a
minute is printed. Verdict: RSS at the end against RSS at minute 5 (or half-way, for runs
shorter than 10 minutes): pass if within --tolerance (10 %); exit status 1 if not.
`--app _probe:application` serves the same app with a thread that logs where the memory is
(see _probe.py; its lines go to --probe-log).
"""

import asyncio
import json
import os
import random
import time
from pathlib import Path

import aiohttp
import websockets
from _common import Messages, Result, ms, percentile, register_run, short_id, streamed_contents
from _servers import add_server_arguments, main


def add_arguments(p):
    add_server_arguments(p)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=100, help="pushMessage calls/s, all agents together (default 100)")
    p.add_argument("--agents", type=int, default=4)
    p.add_argument("--pages", type=int, default=2)
    p.add_argument("--min-chunks", type=int, default=20)
    p.add_argument("--max-chunks", type=int, default=200)
    p.add_argument("--sample", type=float, default=10, help="seconds between two RSS samples (default 10)")
    p.add_argument("--tolerance", type=float, default=10, help="percent RSS may differ from minute 5 (default 10)")
    p.add_argument("--probe-log", help="with --app _probe:application: the file its reports go to")
    p.add_argument("--seed", type=int, default=1)


def proc_status(pid):
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
            values[key] = int(rest.split()[0])
    return values


def file_mb(path):
    try:
        return os.path.getsize(path) / 1024 / 1024
    except OSError:
        return 0.0


class Stats:
    def __init__(self):
        self.calls = 0
        self.errors = 0
        self.latency = []  # since the last printed line
        self.all_latency = []
        self.frames = 0
        self.late = 0
        self.messages = set()


async def agent(session, url, run_id, interval, start, deadline, stats, rng, contents, args):
    messages = Messages(run_id)
    templates = messages.templates
    tail = [templates[1], templates[2], templates[3]]  # tool call, its result, the final text
    headers = {"Content-Type": "application/json"}
    at = start

    async def push(body):
        nonlocal at
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:  # more than a second late: skip the missed slots, no catch-up burst
            stats.late += int(-delay / interval)
            at = time.perf_counter()
        at += interval
        data = json.dumps(body, ensure_ascii=False)
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=data, headers=headers) as response:
                await response.read()
                ok = response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            ok = False
        latency = ms(time.perf_counter() - t0)
        stats.latency.append(latency)
        stats.all_latency.append(latency)
        stats.calls += 1
        if ok:
            stats.messages.add(body["msg"]["id"])
        else:
            stats.errors += 1

    while time.perf_counter() < deadline:
        reply_id = short_id()
        msg_id = short_id()
        for content in contents[: rng.randint(args.min_chunks, args.max_chunks)]:
            await push(messages.body(reply_id, msg_id, content=content))
            if time.perf_counter() >= deadline:
                return
        for template in tail:
            await push(messages.body(reply_id, short_id(), template=template))


async def page(server, run_id, stats, notes):
    url = f"{server.ws_url}/ws/runs/{run_id}/?group=reply"
    try:
        async with websockets.connect(url, origin=server.url, max_size=None) as ws:
            async for _ in ws:
                stats.frames += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001
        notes.append(f"a page socket ended: {type(exc).__name__}: {exc}")


def sample(server, t):
    status = proc_status(server.pid)
    db = server.data_dir / "studio.sqlite3"
    return {
        "t": t,
        "rss": status["VmRSS"] / 1024,
        "anon": status["RssAnon"] / 1024,
        "file": status["RssFile"] / 1024,
        "shmem": status["RssShmem"] / 1024,
        "threads": status["Threads"],
        "db": file_mb(db),
        "wal": file_mb(str(db) + "-wal"),
    }


async def drive(server, args, runs, samples, notes):
    stats = Stats()
    rng = random.Random(args.seed)
    contents = streamed_contents(args.max_chunks)
    url = server.url + "/trpc/pushMessage"
    interval = len(runs) / args.rate
    seconds = args.minutes * 60
    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=60))
        for _ in runs
    ]
    pages = [asyncio.create_task(page(server, runs[i % len(runs)], stats, notes)) for i in range(args.pages)]
    await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    agents = [
        asyncio.create_task(
            agent(
                s,
                url,
                run_id,
                interval,
                t0 + k * interval / len(runs),
                deadline,
                stats,
                random.Random(rng.random()),
                contents,
                args,
            )
        )
        for k, (s, run_id) in enumerate(zip(sessions, runs, strict=True))
    ]
    print(
        f"{'minute':>6} {'RSS MB':>7} {'anon':>6} {'file':>6} {'shmem':>6} {'db MB':>6} {'wal MB':>6} "
        f"{'calls/s':>7} {'p50 ms':>6} {'p99 ms':>6} {'frames':>7} {'errors':>6}",
        flush=True,
    )
    samples.append(sample(server, 0.0))
    next_sample, next_line, last_calls, last_line_t = args.sample, 60.0, 0, 0.0
    try:
        while time.perf_counter() < deadline + 0.5:
            await asyncio.sleep(min(1.0, max(0.0, t0 + next_sample - time.perf_counter())))
            t = time.perf_counter() - t0
            if t >= next_sample:
                samples.append(sample(server, min(t, seconds)))
                next_sample += args.sample
            if t >= next_line or t >= seconds:
                s = samples[-1]
                print(
                    f"{t / 60:>6.1f} {s['rss']:>7.1f} {s['anon']:>6.1f} {s['file']:>6.1f} {s['shmem']:>6.1f} "
                    f"{s['db']:>6.1f} {s['wal']:>6.1f} {(stats.calls - last_calls) / (t - last_line_t):>7.1f} "
                    f"{percentile(stats.latency, 50):>6.1f} {percentile(stats.latency, 99):>6.1f} "
                    f"{stats.frames:>7} {stats.errors:>6}",
                    flush=True,
                )
                stats.latency = []
                last_calls, last_line_t = stats.calls, t
                next_line += 60.0
                if t >= seconds:
                    break
        await asyncio.gather(*agents)
    finally:
        for task in pages:
            task.cancel()
        await asyncio.gather(*pages, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sessions))
    return stats, time.perf_counter() - t0


def at_time(samples, t):
    """The sample nearest to t seconds."""
    return min(samples, key=lambda s: abs(s["t"] - t))


def run(server, args):
    if not server.pid:
        raise SystemExit("soak needs the server's process id: start it here, or give --pid with --url")
    random.seed(args.seed)
    runs = [register_run(server, project="bench-soak", name=f"agent-{i}") for i in range(args.agents)]
    notes = []
    samples = []
    stats, elapsed = asyncio.run(drive(server, args, runs, samples, notes))
    seconds = args.minutes * 60
    ref_t = 300.0 if seconds >= 600 else seconds / 2
    ref, end = at_time(samples, ref_t), samples[-1]
    change = (end["rss"] - ref["rss"]) / ref["rss"] * 100
    passed = abs(change) <= args.tolerance
    last = [s for s in samples if s["t"] >= seconds - 300]
    slope = (
        (last[-1]["rss"] - last[0]["rss"]) / max(1e-9, (last[-1]["t"] - last[0]["t"]) / 60)
        if len(last) > 1
        else float("nan")
    )

    result = Result(
        f"memory soak: {args.rate:.0f} pushMessage/s over {args.agents} agents, {args.pages} pages, "
        f"{args.minutes:g} min ({args.server}{', ' + args.app if args.app != 'studio.asgi:application' else ''})"
    )
    result.add(
        "pushMessage calls",
        stats.calls,
        "calls",
        detail=f"{stats.calls / elapsed:.1f}/s, {len(stats.messages)} distinct msg.ids, "
        f"{stats.late} slots skipped (late)",
    )
    result.latency("pushMessage latency", stats.all_latency)
    result.add("non-200 answers", stats.errors, "calls")
    result.add("page frames received", stats.frames, "frames")
    result.add("RSS at the start of the load", samples[0]["rss"], "MB")
    result.add(
        f"RSS at minute {ref_t / 60:g}", ref["rss"], "MB", detail=f"anon {ref['anon']:.1f}, file {ref['file']:.1f}"
    )
    result.add(
        "RSS at the end",
        end["rss"],
        "MB",
        detail=f"anon {end['anon']:.1f}, file {end['file']:.1f}, db {end['db']:.1f} MB, wal {end['wal']:.1f} MB",
    )
    result.add(f"RSS change, end vs minute {ref_t / 60:g}", change, "%", f"<= {args.tolerance:g}")
    result.add("RSS slope over the last 5 minutes", slope, "MB/min")
    result.add("RSS peak (VmHWM)", server.peak_rss_mb(), "MB")
    result.notes.extend(notes)
    result.summary = (
        f"soak {'PASSED' if passed else 'FAILED'}: RSS {ref['rss']:.1f} MB at minute {ref_t / 60:g} -> "
        f"{end['rss']:.1f} MB at minute {seconds / 60:g} ({change:+.1f} %, tolerance {args.tolerance:g} %), "
        f"{slope:+.2f} MB/min over the last 5 minutes"
    )
    return result, 0 if passed else 1


if __name__ == "__main__":
    import sys

    # The probe's log file must be in the server's environment, which is made when it starts.
    if "--probe-log" in sys.argv:
        os.environ["STUDIO_PROBE_LOG"] = os.path.abspath(sys.argv[sys.argv.index("--probe-log") + 1])
    main(__doc__, add_arguments, run)
