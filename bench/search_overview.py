"""Search and the overview page on a big database: 1,000,000 messages and 1,000,000 spans.

The rows are written straight into the server's SQLite file (`_bulk.py`, a few minutes), then:
- search: GET the run list's "Messages containing …" fragment (runs/search.py and its
  template) for a rare, a medium and a common word, two words, and a word in no message;
  in-process times of `search()` alone are printed beside it;
- the overview page, GET /overview/ (every count, 12 months of tokens by model);
- pushMessage into a new run of the same big project, sequential on one keep-alive connection
  (new replies): the search index's triggers and the bigger indexes at work.

Targets (issue 19): search p50 <= 100 ms, overview p50 <= 200 ms, pushMessage p50 unchanged
(push_latency.P50, 1.7 ms).
"""

import json
import time

import _bulk
from _common import KeepAlive, Messages, Result, main, median, ms, percentile, register_run

SEARCH_P50, OVERVIEW_P50, PUSH_P50 = 100, 200, 1.7
QUERIES = {
    "rare word (~10 hits)": _bulk.RARE,
    "medium word (~1,000 hits)": _bulk.MEDIUM,
    "common word (~100,000 hits)": _bulk.COMMON,
    "two words": f"{_bulk.COMMON} {_bulk.MEDIUM}",
    "no such word": "nosuchwordanywhere",
}


def add_arguments(parser):
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=30, help="GETs of each search and of the overview")
    parser.add_argument("--pushes", type=int, default=500)


def timed_get(conn, path):
    t0 = time.perf_counter()
    status, body = conn.call("GET", path)
    elapsed = ms(time.perf_counter() - t0)
    assert status == 200, (status, body[:300])
    return elapsed, body


def run(server, args):
    result = Result(f"search and overview on {args.messages:,} messages and {args.spans:,} spans")
    t0 = time.monotonic()
    data = _bulk.generate(server.db_path, args.messages, args.spans)
    result.notes.append(
        f"generated {data['messages']:,} messages, {data['spans']:,} spans in {time.monotonic() - t0:.0f} s"
    )
    result.notes.append(f"database {server.db_path.stat().st_size / 1e6:,.0f} MB")
    conn = KeepAlive(server, timeout=120)
    project = data["project_id"]

    all_search = []
    for label, words in QUERIES.items():
        path = f"/project-messages/{project}/more/?q={words.replace(' ', '+')}"
        samples = []
        for i in range(args.reps + 2):
            elapsed, body = timed_get(conn, path)
            if i >= 2:  # the first two warm the page cache
                samples.append(elapsed)
        hits = body.count(b'class="hit-row"')
        result.latency(f"search: {label}", samples, detail=f"{hits} hits on the page")
        all_search += samples
    result.latency("search, all queries", all_search, SEARCH_P50)

    samples = []
    for i in range(args.reps + 2):
        elapsed, body = timed_get(conn, "/overview/")
        if i >= 2:
            samples.append(elapsed)
    assert f'id="count-messages">{data["messages"]}<'.encode() in body, "the overview counts every message"
    result.latency("overview page", samples, OVERVIEW_P50)

    run_id = register_run(server, project="bench-big", name="pushing")
    messages = Messages(run_id)
    push = KeepAlive(server)
    push_samples = []
    for _ in range(args.pushes):
        body = json.dumps(messages.new_reply()).encode()
        t0 = time.perf_counter()
        status, _ = push.post_json("/trpc/pushMessage", body)
        push_samples.append(ms(time.perf_counter() - t0))
        assert status == 200, status
    result.latency("pushMessage, new replies, big database", push_samples[20:], PUSH_P50)

    search_p50 = percentile(all_search, 50)
    overview_p50 = percentile(samples, 50)
    push_p50 = median(push_samples[20:])
    result.summary = (
        f"search p50 {search_p50:.1f} ms (target {SEARCH_P50}), overview p50 {overview_p50:.1f} ms "
        f"(target {OVERVIEW_P50}), pushMessage p50 {push_p50:.2f} ms (target {PUSH_P50}) on "
        f"{data['messages']:,} messages and {data['spans']:,} spans"
    )
    return result


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
