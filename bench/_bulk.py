"""A big database, fast: rows written straight into a migrated Studio SQLite file.

Not through the API (1,000,000 pushMessage calls would take an hour): plain INSERTs in large
transactions with the sqlite3 module. Each run's messages are then indexed for search as the
leader's sweep indexes pushed ones (runs/search.py). Texts are drawn from a Zipf-like vocabulary, plus marker
words at known frequencies for the searches: RARE in 1 message of 100,000, MEDIUM in 1 of
1,000, COMMON in 1 of 10.
"""

import json
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta

RARE, MEDIUM, COMMON = "zebraquartz", "otterlantern", "falconriver"
MODELS = ("gpt-4o", "qwen-max", "claude-sonnet")
VOCABULARY = [f"w{n}" for n in range(3000)] + "the weather in paris is sunny and warm today agent tool".split()
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]


def _text(rng, index):
    words = rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(8, 40))
    if index % 100_000 == 7:
        words.append(RARE)
    if index % 1_000 == 3:
        words.append(MEDIUM)
    if index % 10 == 1:
        words.append(COMMON)
    rng.shuffle(words)
    return " ".join(words)


def _iso(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def generate(db_path, messages=1_000_000, spans=1_000_000, runs=1000, project="bench-big", seed=1, say=print):
    """Write `runs` finished runs of one project holding `messages` messages (10 a reply) and
    `spans` spans (6 a trace, one in three an LLM call with tokens), over the last 12 months."""
    from runs import search  # here: the scripts put the checkout on sys.path once started

    # The messages above the search index's mark (none is queued: none was re-sent).
    index_new = f"""INSERT INTO runs_message_fts (rowid, text)
      SELECT id, t FROM (SELECT m.id AS id, {search.sqlite_text("m")} AS t FROM runs_message m
        WHERE m.id > (SELECT upto FROM {search.INDEXED})) WHERE t IS NOT NULL AND t != ''"""
    rng = random.Random(seed)
    db = sqlite3.connect(db_path, timeout=60)
    db.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC)
    started = time.monotonic()
    with db:
        db.execute(
            "INSERT OR IGNORE INTO projects_project (name, created_at, last_activity_at) VALUES (?, ?, ?)",
            (project, _iso(now), _iso(now)),
        )
    project_id = db.execute("SELECT id FROM projects_project WHERE name = ?", (project,)).fetchone()[0]
    run_ids, run_times = [], []
    with db:
        for r in range(runs):
            at = now - timedelta(days=365 * (runs - r) / runs)
            run_id = f"big-{seed}-{r:06d}"
            run_ids.append(run_id)
            run_times.append(at)
            db.execute(
                "INSERT INTO runs_run (id, name, status, pid, run_dir, client_timestamp, started_at, last_activity_at,"
                " finished_at, agent_sockets, project_id, origin) VALUES (?, ?, 'finished', 1, '', '', ?, ?, ?, 0, ?, 'studio')",
                (run_id, f"run {r}", _iso(at), _iso(at), _iso(at), project_id),
            )
    per_run = max(messages // runs, 1)
    reply_pk = db.execute("SELECT coalesce(max(id), 0) FROM runs_reply").fetchone()[0]
    index = 0
    for r, run_id in enumerate(run_ids):
        replies, rows = [], []
        for m in range(per_run):
            if m % 10 == 0:
                reply_pk += 1
                replies.append(
                    (reply_pk, f"reply-{m}", "Friday", "assistant", _iso(run_times[r]), _iso(run_times[r]), run_id)
                )
            content = json.dumps([{"type": "text", "text": _text(rng, index)}])
            at = _iso(run_times[r])
            rows.append((f"msg-{m}", "Friday", "assistant", content, "", at, at, reply_pk, run_id, 0))
            index += 1
        with db:
            db.executemany(
                "INSERT INTO runs_reply (id, reply_id, name, role, created_at, updated_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                replies,
            )
            db.executemany(
                "INSERT INTO runs_message (msg_id, name, role, content, client_timestamp, created_at, updated_at,"
                " reply_id, run_id, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute(index_new)
            db.execute(f"UPDATE {search.INDEXED} SET upto = (SELECT max(id) FROM runs_message)")
        if r % 100 == 99:
            say(f"  {index:,} messages ({time.monotonic() - started:.0f} s)")
    spans_per_run = max(spans // runs, 6)
    span_no = 0
    attributes = json.dumps({"gen_ai.operation.name": "chat", "gen_ai.request.model": "x"})
    for r, run_id in enumerate(run_ids):
        rows, traces = [], []
        base_ns = int(run_times[r].timestamp() * 1e9)
        for t in range(spans_per_run // 6):
            trace_id = f"{r:016x}{t:016x}"
            start = base_ns + t * 10_000_000_000
            tokens_in = tokens_out = 0
            for s in range(6):
                span_no += 1
                llm = s % 3 == 1
                model = MODELS[span_no % len(MODELS)] if llm else ""
                tin, tout = (rng.randint(100, 4000), rng.randint(10, 800)) if llm else (None, None)
                tokens_in += tin or 0
                tokens_out += tout or 0
                rows.append(
                    (
                        trace_id,
                        f"{span_no:016x}",
                        "" if s == 0 else f"{span_no - s:016x}",
                        "chat" if llm else "agent",
                        start + s * 1000,
                        start + s * 1000 + 500,
                        attributes,
                        project_id,
                        run_id,
                        "",
                        "{}",
                        "[]",
                        0,
                        tin,
                        1,
                        "[]",
                        "",
                        model,
                        "chat" if llm else "invoke_agent",
                        tout,
                        _iso(now),
                        "{}",
                        "",
                        "{}",
                        "",
                        "bench",
                        0,
                        "",
                        "",
                        "",
                    )
                )
            traces.append(
                (trace_id, "agent", 1, start, start + 6000, 6, 0, tokens_in, tokens_out, _iso(now), project_id, run_id)
            )
        with db:
            db.executemany(
                "INSERT INTO traces_span (trace_id, span_id, parent_span_id, name, start_time_ns, end_time_ns, attributes,"
                " project_id, run_id, agent_name, dropped, events, flags, input_tokens, kind, links, message_id, model,"
                " operation, output_tokens, received_at, resource, run_key, scope, service_instance_id, service_name,"
                " status_code, status_message, tool_name, trace_state)"
                " VALUES (" + ", ".join("?" * 30) + ")",
                rows,
            )
            db.executemany(
                "INSERT INTO traces_trace (trace_id, name, has_root, start_time_ns, end_time_ns, span_count, error_count,"
                " input_tokens, output_tokens, updated_at, project_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                traces,
            )
        if r % 100 == 99:
            say(f"  {span_no:,} spans ({time.monotonic() - started:.0f} s)")
    db.close()
    return {"project_id": project_id, "run_ids": run_ids, "messages": index, "spans": span_no}
