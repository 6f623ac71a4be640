"""Push-to-browser latency: from an agent's POST /trpc/pushMessage to the run page's WebSocket
receiving the rendered update.

A run page's socket (ws://host/ws/runs/<run_id>/?group=reply, docs/LIVE.md) is opened with a
raw WebSocket client, which measures the server's delivery. Then, sequentially, an agent posts
  new message   a new message in the open reply
  stream        a re-send of one message with grown content (streaming)
each carrying a unique marker in its text; the time is taken from just before the POST to the
first frame holding the marker. With --browser, the same is measured in headless Chromium on the
real run page: until live.js has put the marker in the DOM (clock: the page's
performance.timeOrigin + now(), against the client's time.time()).
Targets: p50 <= 5 ms, p99 <= 20 ms.
"""

import asyncio
import json
import time

import aiohttp
import websockets
from _common import Messages, Result, main, median, ms, percentile, register_run, short_id, streamed_contents

P50, P99 = 5, 20


def add_arguments(p):
    p.add_argument("--pushes", type=int, default=200, help="pushes per shape and repetition (default 200)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--pages", type=int, default=1, help="run pages open on the run at once (default 1)")
    p.add_argument("--browser", action="store_true", help="also measure in headless Chromium (/usr/bin/chromium)")
    p.add_argument("--chromium", default="/usr/bin/chromium")


def marked_bodies(messages, reply_id, shape, n):
    """(marker, body) pairs: new messages in one reply, or one message re-sent with growing content."""
    out = []
    msg_id = short_id()
    contents = streamed_contents(n + 1)
    for i in range(n):
        marker = f"mark{short_id()}"
        if shape == "new message":
            body = messages.body(reply_id, short_id(), content=[{"type": "text", "text": f"{marker} tool said: done"}])
        else:
            content = contents[i]
            content[-1] = dict(content[-1])
            key = "text" if content[-1]["type"] == "text" else "thinking"
            content[-1][key] = content[-1][key] + " " + marker
            body = messages.body(reply_id, msg_id, content=content)
        out.append((marker, json.dumps(body)))
    return out


async def measure_ws(server, run_id, bodies, pages):
    url = f"{server.ws_url}/ws/runs/{run_id}/?group=reply"
    sockets = [await websockets.connect(url, origin=server.url, max_size=None) for _ in range(pages)]
    seen = [dict() for _ in sockets]

    async def reader(ws, seen_here):
        async for frame in ws:
            now = time.perf_counter()
            for marker in pending:
                if marker in frame and marker not in seen_here:
                    seen_here[marker] = now
                    if all(marker in s for s in seen):
                        done[marker].set()

    pending = {}
    done = {}
    readers = [asyncio.create_task(reader(ws, s)) for ws, s in zip(sockets, seen, strict=True)]
    delivery, post_times = [], []
    async with aiohttp.ClientSession() as session:
        for marker, body in bodies:
            pending[marker] = True
            done[marker] = asyncio.Event()
            t0 = time.perf_counter()
            async with session.post(
                server.url + "/trpc/pushMessage", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                await r.read()
                assert r.status == 200, r.status
            post_times.append(ms(time.perf_counter() - t0))
            await asyncio.wait_for(done[marker].wait(), 10)
            delivery.append(ms(max(s[marker] for s in seen) - t0))
            del pending[marker]
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    return delivery, post_times


async def measure_browser(server, args, project, run_id, bodies):
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=args.chromium, headless=True)
        page = await browser.new_page()
        await page.goto(f"{server.url}/projects/{project}/runs/{run_id}/?group=reply")
        await page.wait_for_load_state("networkidle")
        await page.evaluate("""() => {
            window.__seen = {};
            new MutationObserver(() => {
                const text = document.getElementById('chat')?.textContent || document.body.textContent;
                for (const m of window.__want || []) {
                    if (!(m in window.__seen) && text.includes(m)) window.__seen[m] = performance.timeOrigin + performance.now();
                }
            }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }""")
        out = []
        async with aiohttp.ClientSession() as session:
            for marker, body in bodies:
                await page.evaluate("m => { window.__want = [m]; }", marker)
                t0 = time.time()
                async with session.post(
                    server.url + "/trpc/pushMessage", data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                await page.wait_for_function("m => m in window.__seen", arg=marker, timeout=10000, polling=5)
                seen_at = await page.evaluate("m => window.__seen[m]", marker)
                out.append(seen_at - t0 * 1000)
        await browser.close()
    return out


def run(server, args):
    result = Result("push-to-browser latency (pushMessage POST -> run page WebSocket frame)")
    project = "bench-live"
    samples = {"new message": [], "stream": []}
    reps = {"new message": [], "stream": []}
    posts = []
    browser = {"new message": [], "stream": []}
    for rep in range(args.reps):
        run_id = register_run(server, project=project, name=f"live-{rep}")
        messages = Messages(run_id)
        reply_id = short_id()
        from _common import trpc

        trpc(server, "pushMessage", messages.in_reply(reply_id))  # the reply is on the page
        for shape in samples:
            bodies = marked_bodies(messages, reply_id, shape, args.pushes)
            delivery, post_times = asyncio.run(measure_ws(server, run_id, bodies, args.pages))
            samples[shape] += delivery[5:]
            reps[shape].append(median(delivery[5:]))
            posts += post_times
        if args.browser and rep == 0:
            for shape in browser:
                bodies = marked_bodies(messages, reply_id, shape, min(args.pushes, 100))
                browser[shape] = asyncio.run(measure_browser(server, args, project, run_id, bodies))[3:]
    pages = f", {args.pages} pages open" if args.pages > 1 else ""
    for shape in samples:
        result.latency(f"{shape}: POST -> WebSocket frame{pages}", samples[shape], P50, P99, per_rep=reps[shape])
    result.latency("the POST itself (answer to the agent)", posts)
    for shape, values in browser.items():
        if values:
            result.latency(f"{shape}: POST -> in the DOM (Chromium)", values)
    worst50 = max(percentile(s, 50) for s in samples.values())
    worst99 = max(percentile(s, 99) for s in samples.values())
    met = worst50 <= P50 and worst99 <= P99
    result.summary = (
        f"push-to-browser: p50 {worst50:.1f} ms, p99 {worst99:.1f} ms (worst shape); "
        f"{'meets' if met else 'misses'} the {P50}/{P99} ms targets"
    )
    if any(browser.values()):
        result.summary += f"; in Chromium's DOM p50 {max(percentile(v, 50) for v in browser.values() if v):.1f} ms"
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
