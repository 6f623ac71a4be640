"""pushMessage latency, one agent, sequential calls on one keep-alive connection.

Three shapes, each repeated --reps times (a fresh run each repetition):
  new replies   every call opens a new reply (a captured message body, fresh ids)
  growing reply one reply growing to --reply-size messages (is the cost flat as it grows?)
  streamed      one message re-sent --stream-size times with the same id and growing content,
                as agentscope prints every streaming chunk

Latency is measured on the client around one POST /trpc/pushMessage (request written to
response read) with a minimal client (http.client); bodies are serialized beforehand.
Targets: p50 <= 1.7 ms, p99 <= 5 ms, flat as a reply grows.
"""

import time

from _common import (
    KeepAlive,
    Messages,
    Result,
    encode,
    main,
    median,
    ms,
    percentile,
    register_run,
    short_id,
    streamed_contents,
)

P50, P99 = 1.7, 5


def add_arguments(p):
    p.add_argument("--reps", type=int, default=5, help="repetitions of each shape (default 5)")
    p.add_argument("--calls", type=int, default=300, help="new-reply calls per repetition (default 300)")
    p.add_argument("--reply-size", type=int, default=1000, help="messages in the growing reply (default 1000)")
    p.add_argument("--stream-size", type=int, default=300, help="re-sends of the streamed message (default 300)")
    p.add_argument("--warmup", type=int, default=50)


def timed_calls(conn, bodies):
    out = []
    for body in bodies:
        t0 = time.perf_counter()
        status, data = conn.post_json("/trpc/pushMessage", body)
        out.append(ms(time.perf_counter() - t0))
        if status != 200:
            raise RuntimeError(f"pushMessage answered {status}: {data[:300]!r}")
    return out


def run(server, args):
    result = Result("pushMessage latency, sequential, keep-alive (1 agent)")
    conn = KeepAlive(server)
    warm_run = register_run(server, name="warmup")
    messages = Messages(warm_run)
    timed_calls(conn, [encode(messages.new_reply()) for _ in range(args.warmup)])

    shapes = {"new replies": [], "growing reply": [], "streamed message": []}
    reps = {name: [] for name in shapes}
    growth = []  # (p50 of the first 100 messages, p50 of the last 100) per repetition
    for rep in range(args.reps):
        run_id = register_run(server, name=f"latency-{rep}")
        messages = Messages(run_id)

        samples = timed_calls(conn, [encode(messages.new_reply()) for _ in range(args.calls)])
        shapes["new replies"] += samples
        reps["new replies"].append(median(samples))

        reply_id = short_id()
        samples = timed_calls(conn, [encode(messages.in_reply(reply_id)) for _ in range(args.reply_size)])
        shapes["growing reply"] += samples
        reps["growing reply"].append(median(samples))
        growth.append((median(samples[:100]), median(samples[-100:])))

        reply_id, msg_id = short_id(), short_id()
        bodies = [
            encode(messages.body(reply_id, msg_id, content=content)) for content in streamed_contents(args.stream_size)
        ]
        samples = timed_calls(conn, bodies)
        shapes["streamed message"] += samples
        reps["streamed message"].append(median(samples))
    conn.close()

    for name, samples in shapes.items():
        result.latency(name, samples, P50, P99, per_rep=reps[name])
    first = median([g[0] for g in growth])
    last = median([g[1] for g in growth])
    result.add(
        f"growing reply: p50 of messages 1-100 vs {args.reply_size - 99}-{args.reply_size}",
        last - first,
        "ms",
        detail=f"{first:.2f} -> {last:.2f} ms",
    )
    all_samples = [s for samples in shapes.values() for s in samples]
    result.add("sequential throughput (one connection)", 1000.0 / (sum(all_samples) / len(all_samples)), "calls/s")
    worst_p50 = max(percentile(s, 50) for s in shapes.values())
    worst_p99 = max(percentile(s, 99) for s in shapes.values())
    met = worst_p50 <= P50 and worst_p99 <= P99
    result.summary = (
        f"pushMessage sequential: p50 {worst_p50:.2f} ms, p99 {worst_p99:.2f} ms (worst shape); "
        f"{'meets' if met else 'misses'} the {P50}/{P99} ms targets; reply growth 1->{args.reply_size}: "
        f"{first:.2f} -> {last:.2f} ms"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
