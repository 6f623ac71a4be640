"""A prune while agents push: `manage.py prune --older-than 30` deletes most of a big project
(`_bulk.py`: runs over the last 12 months) while 20 agents push into live runs of the same
project for 30 s, each one pushMessage every 100 ms on its own keep-alive connection.

Figures: pushMessage latency before the prune and while it runs (p50, p99, max: the max is
the longest any push waited, the prune's batches included), the prune's duration and rows,
and acknowledged vs stored messages. Targets (issue 19): no push waits more than 200 ms behind
the prune, every message that got a 200 is stored.
"""

import json
import os
import subprocess
import sys
import threading
import time

import _bulk
from _common import ROOT, KeepAlive, Messages, Result, main, ms, percentile, register_run

MAX_WAIT_MS = 200


def add_arguments(parser):
    parser.add_argument("--messages", type=int, default=200_000, help="messages of the big project (most pruned)")
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30, help="how long the agents push")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between an agent's pushes")
    parser.add_argument("--batch-size", type=int, default=500)


def run(server, args):
    result = Result(f"prune while {args.agents} agents push for {args.seconds:.0f} s")
    data = _bulk.generate(server.db_path, args.messages, args.spans, say=lambda _: None)
    runs = [register_run(server, project="bench-big", name=f"live-{i}") for i in range(args.agents)]
    samples, acknowledged, failures, stop = [], {}, [], threading.Event()
    lock = threading.Lock()

    def agent(run_id):
        conn, messages = KeepAlive(server), Messages(run_id)
        next_at = time.monotonic()
        while not stop.is_set():
            body = messages.new_reply()
            t0 = time.perf_counter()
            status, _ = conn.post_json("/trpc/pushMessage", json.dumps(body).encode())
            t1 = time.perf_counter()
            with lock:
                samples.append((t0, ms(t1 - t0)))
                if status == 200:
                    acknowledged[(run_id, body["msg"]["id"])] = True
                else:
                    failures.append(status)
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        conn.close()

    threads = [threading.Thread(target=agent, args=(run_id,), daemon=True) for run_id in runs]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(min(5.0, args.seconds / 4))  # a phase without the prune, to compare with
    env = {**os.environ, "STUDIO_DATA_DIR": str(server.data_dir)}
    prune_started = time.perf_counter()
    prune = subprocess.run(
        [sys.executable, "manage.py", "prune", "--older-than", "30", "--batch-size", str(args.batch_size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    prune_ended = time.perf_counter()
    if prune.returncode:
        raise RuntimeError(prune.stderr)
    time.sleep(max(0.0, started + args.seconds - time.perf_counter()))
    stop.set()
    for thread in threads:
        thread.join()

    before = [latency for at, latency in samples if at < prune_started]
    during = [latency for at, latency in samples if prune_started <= at < prune_ended]
    result.latency("pushMessage before the prune", before)
    result.latency("pushMessage during the prune", during)
    result.add("pushMessage during the prune, longest", max(during, default=float("nan")), "ms", f"<= {MAX_WAIT_MS}")
    result.add("prune duration", prune_ended - prune_started, "s")
    db = server.db()
    stored = set(
        db.execute(f"SELECT run_id, msg_id FROM runs_message WHERE run_id IN ({','.join('?' * len(runs))})", runs)
    )
    old_left = db.execute(
        "SELECT count(*) FROM runs_run WHERE id LIKE 'big-%' AND last_activity_at < datetime('now', '-30 days')"
    ).fetchone()[0]
    db.close()
    lost = len([key for key in acknowledged if key not in stored])
    result.add("non-200 answers", len(failures), "calls", "<= 0")
    result.add("messages lost (acknowledged - stored)", lost, "msgs", "<= 0")
    result.add("old runs left after the prune", old_left, "runs", "<= 0")
    result.notes.append(prune.stdout.strip().replace("\n", " | "))
    result.notes.append(
        f"{len(acknowledged):,} pushes acknowledged; big project: {data['messages']:,} messages, {data['spans']:,} spans"
    )
    longest = max(during, default=float("nan"))
    result.summary = (
        f"prune of {data['messages']:,} messages/{data['spans']:,} spans took {prune_ended - prune_started:.1f} s while "
        f"{args.agents} agents pushed: p50 {percentile(during, 50):.1f} ms, p99 {percentile(during, 99):.1f} ms, "
        f"longest {longest:.0f} ms ({'meets' if longest <= MAX_WAIT_MS else 'misses'} the {MAX_WAIT_MS} ms target; "
        f"before: p99 {percentile(before, 99):.1f} ms); {lost} acknowledged messages lost"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
