"""Input round trip: an agent asks (requestUserInput), the run page shows the request, the
person answers over the page's WebSocket, and the agent receives forwardUserInput.

The agent is a python-socketio client on namespace /python with auth {"run_id": ...} (as
agentscope 1.0.21 connects: polling, then the websocket upgrade, awaited before measuring);
its forwardUserInput handler returns, which acknowledges the emit. The page is a raw WebSocket
client on ws://host/ws/runs/<run_id>/ that answers as soon as a frame holds the request id
(docs/WEBSOCKET.md). Measured from just before the POST to the handler being called, and the two
halves: POST -> page sees the request, answer sent -> agent has it. Plain (text) requests and
structured ones (a JSON Schema, validated with jsonschema) alternate.
Target: p50 <= 20 ms.
"""

import asyncio
import json
import time

import aiohttp
import socketio
import websockets
from _common import Result, main, median, ms, percentile, register_run, short_id

TARGET = 20

SCHEMA = {
    "properties": {
        "confirm": {"description": "Book it?", "title": "Confirm", "type": "boolean"},
        "count": {
            "default": 1,
            "description": "How many",
            "maximum": 9,
            "minimum": 1,
            "title": "Count",
            "type": "integer",
        },
    },
    "required": ["confirm"],
    "title": "Booking",
    "type": "object",
}


def add_arguments(p):
    p.add_argument("--requests", type=int, default=100, help="requests per repetition (default 100)")
    p.add_argument("--reps", type=int, default=3)


async def one_rep(server, run_id, n):
    received = {}
    agent = socketio.AsyncClient(reconnection=False)

    @agent.on("forwardUserInput", namespace="/python")
    async def forward(request_id, blocks, structured):
        event = received.get(request_id)
        if event is not None:
            event["at"] = time.perf_counter()
            event["args"] = (blocks, structured)
            event["done"].set()
        return True

    await agent.connect(server.url, namespaces=["/python"], auth={"run_id": run_id}, socketio_path="socket.io")
    for _ in range(100):
        if agent.transport() == "websocket":
            break
        await asyncio.sleep(0.05)

    page = await websockets.connect(f"{server.ws_url}/ws/runs/{run_id}/?group=reply", origin=server.url, max_size=None)
    shown = {}

    async def reader():
        async for frame in page:
            now = time.perf_counter()
            for request_id, event in list(shown.items()):
                if request_id in frame and not event.is_set():
                    event.at = now
                    event.set()

    reader_task = asyncio.create_task(reader())
    totals, to_page, to_agent = {"plain": [], "structured": []}, [], []
    async with aiohttp.ClientSession() as session:
        for i in range(n):
            kind = "structured" if i % 2 else "plain"
            request_id = short_id()
            shown[request_id] = asyncio.Event()
            received[request_id] = {"done": asyncio.Event()}
            body = {
                "requestId": request_id,
                "runId": run_id,
                "agentId": short_id(),
                "agentName": "user",
                "structuredInput": SCHEMA if kind == "structured" else None,
            }
            t0 = time.perf_counter()
            async with session.post(server.url + "/trpc/requestUserInput", json=body) as r:
                await r.read()
                assert r.status == 200, r.status
            await asyncio.wait_for(shown[request_id].wait(), 10)
            t1 = shown[request_id].at
            answer = {
                "type": "answer",
                "requestId": request_id,
                "blocks": [{"type": "text", "text": "Yes, book it"}],
                "structured": {"confirm": True, "count": 2} if kind == "structured" else None,
            }
            t2 = time.perf_counter()
            await page.send(json.dumps(answer))
            await asyncio.wait_for(received[request_id]["done"].wait(), 10)
            t3 = received[request_id]["at"]
            totals[kind].append(ms(t3 - t0))
            to_page.append(ms(t1 - t0))
            to_agent.append(ms(t3 - t2))
            del shown[request_id]
    reader_task.cancel()
    await page.close()
    await agent.disconnect()
    return totals, to_page, to_agent


def run(server, args):
    result = Result("input round trip (requestUserInput -> page -> answer -> forwardUserInput)")
    totals, to_page, to_agent, reps = {"plain": [], "structured": []}, [], [], []
    for rep in range(args.reps):
        run_id = register_run(server, project="bench-input", name=f"input-{rep}")
        t, p, a = asyncio.run(one_rep(server, run_id, args.requests))
        for kind in totals:
            totals[kind] += t[kind][2:]
        to_page += p[2:]
        to_agent += a[2:]
        reps.append(median(t["plain"] + t["structured"]))
    everything = totals["plain"] + totals["structured"]
    result.latency("round trip, all", everything, TARGET, per_rep=reps)
    for kind, values in totals.items():
        result.latency(f"round trip, {kind}", values)
    result.latency("  POST requestUserInput -> page has the request", to_page)
    result.latency("  answer sent on the page -> agent has forwardUserInput", to_agent)
    p50 = percentile(everything, 50)
    result.summary = (
        f"input round trip: p50 {p50:.1f} ms, p99 {percentile(everything, 99):.1f} ms "
        f"({'meets' if p50 <= TARGET else 'misses'} the {TARGET} ms target); "
        f"to the page {percentile(to_page, 50):.1f} ms, answer to agent {percentile(to_agent, 50):.1f} ms"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
