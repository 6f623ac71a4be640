"""pushMessage throughput: 16 agents pushing at once, and whether every message is stored.

Each agent is its own run (registerRun) and its own keep-alive connection, pushing as fast as
the server answers. Each agent replays the captured agentscope 1.0.21 conversation (15
pushMessage calls: a user message, a streamed ReAct reply with a tool call and its result,
streaming re-sends of the same msg.id included) --turns times with fresh ids. Afterwards the
server's database is read: every msg.id sent must be there once, with the content last sent.
Target: >= 800 calls/s from 16 concurrent agents, nothing lost.
"""

import asyncio
import json
import time

import aiohttp
from _common import Result, capture_records, client_timestamp, main, median, ms, percentile, register_run, short_id

TARGET = 800


def add_arguments(p):
    p.add_argument("--agents", type=int, default=16)
    p.add_argument(
        "--turns", type=int, default=20, help="captured conversations replayed per agent and repetition (15 calls each)"
    )
    p.add_argument("--reps", type=int, default=3)


def conversation(run_id):
    """The captured pushMessage sequence with fresh reply and message ids (re-sends keep theirs)."""
    ids = {}
    out = []
    for record in capture_records(path="/trpc/pushMessage"):
        body = json.loads(json.dumps(record["body"]))
        body["runId"] = run_id
        if body.get("replyId"):
            body["replyId"] = ids.setdefault(body["replyId"], short_id())
        body["msg"]["id"] = ids.setdefault(body["msg"]["id"], short_id())
        body["msg"]["timestamp"] = client_timestamp()
        out.append(body)
    return out


async def agent(session, url, bodies, latencies, errors, last_sent):
    for body in bodies:
        data = json.dumps(body)
        t0 = time.perf_counter()
        async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as response:
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        latencies.append(ms(time.perf_counter() - t0))
        last_sent[(body["runId"], body["msg"]["id"])] = body["msg"]["content"]


async def one_rep(server, args, runs):
    plans = [[body for _ in range(args.turns) for body in conversation(run_id)] for run_id in runs]
    latencies, errors, last_sent = [], [], {}
    url = server.url + "/trpc/pushMessage"
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) for _ in runs]
    try:
        # open the connections first
        await asyncio.gather(*(s.get(server.url + "/static/studio/live.js") for s in sessions))
        t0 = time.perf_counter()
        await asyncio.gather(
            *(agent(s, url, plan, latencies, errors, last_sent) for s, plan in zip(sessions, plans, strict=True))
        )
        elapsed = time.perf_counter() - t0
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return sum(len(p) for p in plans) / elapsed, latencies, errors, last_sent


def check_stored(server, last_sent):
    """(distinct messages sent, stored, stored with the last content sent); None if the db is not here."""
    db = server.db()
    if db is None:
        return None
    try:
        runs = sorted({run for run, _ in last_sent})
        stored, same = 0, 0
        for run in runs:
            for msg_id, content in db.execute("SELECT msg_id, content FROM runs_message WHERE run_id = ?", (run,)):
                stored += 1
                sent = last_sent.get((run, msg_id))
                if sent is not None and json.loads(content) == sent:
                    same += 1
        return len(last_sent), stored, same
    finally:
        db.close()


def run(server, args):
    result = Result(f"pushMessage throughput, {args.agents} concurrent agents")
    rates, all_latencies, sent_total, stored_total, same_total, errors_total = [], [], 0, 0, 0, 0
    cpu = []
    asyncio.run(one_rep(server, type(args)(agents=2, turns=2), [register_run(server, name="warmup") for _ in range(2)]))
    for rep in range(args.reps):
        runs = [register_run(server, project="bench-throughput", name=f"agent-{rep}-{i}") for i in range(args.agents)]
        cpu0 = server.cpu_seconds()
        rate, latencies, errors, last_sent = asyncio.run(one_rep(server, args, runs))
        if cpu0 is not None:
            cpu.append(ms(server.cpu_seconds() - cpu0) / len(latencies))
        rates.append(rate)
        all_latencies += latencies
        errors_total += len(errors)
        checked = check_stored(server, last_sent)
        if checked:
            sent, stored, same = checked
            sent_total, stored_total, same_total = sent_total + sent, stored_total + stored, same_total + same
    calls = args.agents * args.turns * 15
    result.add(
        f"throughput, {args.agents} agents (median of {args.reps})",
        median(rates),
        "calls/s",
        f">= {TARGET}",
        f"reps {min(rates):.0f}-{max(rates):.0f}, {calls} calls each",
    )
    result.latency("per-call latency under load", all_latencies)
    if cpu:
        result.add("server CPU per call", median(cpu), "ms", detail="user+system time of the server process / calls")
    result.add("non-200 answers", errors_total, "calls", "<= 0")
    if sent_total:
        result.add("messages sent (distinct msg.id)", sent_total, "msgs")
        result.add(
            "messages lost (sent - stored with last content)",
            sent_total - same_total,
            "msgs",
            "<= 0",
            f"stored {stored_total}, with the last content {same_total}",
        )
        lost = sent_total - same_total
    else:
        result.notes.append("stored messages not checked: no local SQLite database (use --data-dir with --url)")
        lost = None
    result.summary = (
        f"{args.agents} agents: {median(rates):.0f} pushMessage calls/s (target {TARGET}), "
        f"p50 {percentile(all_latencies, 50):.1f} ms / p99 {percentile(all_latencies, 99):.1f} ms per call, "
        + (f"{lost} of {sent_total} messages lost" if lost is not None else "storage not checked")
        + (f", {errors_total} errors" if errors_total else "")
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
