"""Studio against the floor: the agent path's figures as multiples of a bare ASGI app's.

The floor (_floor.py) is an ASGI app under uvicorn that only reads each body, parses it (JSON,
or OTLP protobuf) and answers. In each round a fresh floor and a fresh Studio of each kind asked
for (--servers: uvicorn, the README's team command, and runserver, its quick start) take the
same loads from the same client, one server at a time. The order turns each round, so that a
slow minute of the machine falls on each server in turn.
  pushMessage   push_latency.py: its three shapes, sequential on one keep-alive connection,
                and the server's CPU per call
  16 agents     push_throughput.py
  OTLP          otlp_ingest.py: 512-span batches, gzip, plain and four exporters
  live path     push_to_browser.py (Studio only: the floor has no page)
  memory        RSS idle (after start and one page) and after the loads
Every server runs on a venv of requirements.txt alone (.cache/runtime-venv, made on first use),
as a user installs Studio; --suite-venv: on the suite's, test tools and all.
A ratio is taken within a round (a Studio figure over the floor's of the same round); what is
printed and recorded is the median of those ratios over the rounds, and the median values.

Targets (issue 18):
  pushMessage p50 <= 2.0x the floor, every shape, on each server
  runserver's sequential calls/s and p50 within 1.2x of uvicorn's
  16 agents >= 820 calls/s (10x the original AgentScope-Studio's 82/s on this kind of machine)
  push -> page frame p50 <= 1.2x the POST's own p50 (the agent's answer, same calls)
  OTLP >= 25 % of the floor's spans/s (the floor decodes only)
  RSS <= 100 MB idle and <= 200 MB after the loads

Each Studio server is measured right beside a floor of its own (the floor first in one round,
second in the next), and its ratios are to that floor: a noisy minute of a shared machine, which
can slow everything twofold for a while, then falls on both of a pair.

--before DIR[:SERVERS] (repeatable) adds Studio servers run from DIR, a checkout of an older
commit made with `git worktree add DIR REV` (SERVERS: default --servers), named e.g.
"uvicorn@cf3c77c", in the same rounds: before and after, interleaved.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import otlp_ingest
import push_latency
import push_throughput
import push_to_browser
from _common import Result, Server, median, parser, request, runtime_python, write_figures

PUSH_FLOOR_RATIO = 2.0  # pushMessage p50 / the floor's
RUNSERVER_RATIO = 1.2  # runserver / uvicorn, rate and p50
AGENTS_TARGET = 820  # calls/s, 10x the original's 82
FRAME_RATIO = 1.2  # push -> page frame p50 / the POST's own p50
OTLP_SHARE = 0.25  # Studio's spans/s / the floor's
IDLE_MB, LOADED_MB = 100, 200

LOADS = {  # each benchmark's own options, sized so that a round takes about two minutes
    push_latency: ["--reps", "2"],
    push_throughput: ["--reps", "1"],
    otlp_ingest: ["--reps", "1"],
    push_to_browser: ["--reps", "1"],
}

# (short name, unit, the benchmark's figure name or prefix); "higher" figures are rates.
PICKED = [
    ("pushMessage p50, new replies", "ms", "new replies p50"),
    ("pushMessage p50, growing reply", "ms", "growing reply p50"),
    ("pushMessage p50, streamed message", "ms", "streamed message p50"),
    ("pushMessage p99, new replies", "ms", "new replies p99"),
    ("sequential pushMessage calls/s", "calls/s", "sequential throughput (one connection)"),
    ("16 agents calls/s", "calls/s", "throughput, "),
    ("16 agents: server CPU per call", "ms", "server CPU per call"),
    ("OTLP gzip spans/s", "spans/s", "gzip: spans/s"),
    ("OTLP plain spans/s", "spans/s", "plain: spans/s"),
    ("OTLP gzip x4 spans/s", "spans/s", "gzip x4: spans/s"),
    ("OTLP gzip: server CPU per 1,000 spans", "ms", "gzip: server CPU per 1,000 spans"),
    ("push -> page frame p50, new message", "ms", "new message: POST -> WebSocket frame p50"),
    ("push -> page frame p50, stream", "ms", "stream: POST -> WebSocket frame p50"),
    ("the POST itself p50 (page open)", "ms", "the POST itself (answer to the agent) p50"),
]
PUSH_SHAPES = ("new replies", "growing reply", "streamed message")


class Floor(Server):
    """_floor.py under uvicorn, one worker, as Studio's team command runs: nothing to migrate."""

    needs_database = False

    def __init__(self, access_log, python):
        super().__init__(app="_floor:application", access_log=access_log, python=python)


def add_arguments(p):
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument(
        "--servers",
        default="uvicorn,runserver",
        help="Studio servers beside the floor: uvicorn, runserver, daphne (default uvicorn,runserver)",
    )
    p.add_argument(
        "--before",
        metavar="DIR[:SERVERS]",
        action="append",
        default=[],
        help="also these servers (default: --servers) run from this older checkout; repeatable",
    )
    p.add_argument(
        "--suite-venv",
        action="store_true",
        help="serve with the suite's venv (test tools installed) instead of one of requirements.txt alone",
    )
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading RSS (default 1)")


def load_args(module):
    return parser(module.__doc__, module.add_arguments).parse_args(LOADS[module])


def pick(results):
    """{short name: value} from the benchmarks' Results."""
    figures = [f for r in results for f in r.figures]
    out = {}
    for short, _, name in PICKED:
        for f in figures:
            if f.name == name or (name.endswith((", ", "spans/s")) and f.name.startswith(name)):
                out[short] = f.value
                break
    return out


def measure(server, args, studio):
    """One server's figures for one round."""
    request("GET", server.url + "/")  # one page, as memory.py's idle figure
    time.sleep(args.settle)  # RSS settles after the first page; a reading, not a wait for a condition
    figures = {"RSS idle": server.rss_mb()}
    results = []
    latency = load_args(push_latency)
    cpu0 = server.cpu_seconds()
    results.append(push_latency.run(server, latency))
    calls = latency.warmup + latency.reps * (latency.calls + latency.reply_size + latency.stream_size)
    figures["sequential pushMessage: server CPU per call"] = (server.cpu_seconds() - cpu0) * 1000 / calls
    results.append(push_throughput.run(server, load_args(push_throughput)))
    results.append(otlp_ingest.run(server, load_args(otlp_ingest)))
    if studio:
        results.append(push_to_browser.run(server, load_args(push_to_browser)))
    figures.update(pick(results))
    time.sleep(args.settle)
    figures["RSS after the loads"] = server.rss_mb()
    figures["RSS peak"] = server.peak_rss_mb()
    return figures


def servers_of(text):
    return [k.strip() for k in text.split(",") if k.strip()]


def older_checkouts(args):
    """{suffix: (checkout, servers)} of the --before options, the suffix "@<its commit>"."""
    out = {}
    for option in args.before:
        where, _, kinds = option.partition(":")
        commit = subprocess.run(
            ["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        out[f"@{commit}"] = (Path(where), servers_of(kinds or args.servers))
    return out


def make(kind, args, checkouts):
    name, at, commit = kind.partition("@")
    python = sys.executable if args.suite_venv else runtime_python()
    if name == "floor":
        return Floor(access_log=not args.no_access_log, python=python)
    root = {"root": checkouts[at + commit][0]} if at else {}
    return Server(server=name, access_log=not args.no_access_log, python=python, **root)


def measure_one(kind, args, checkouts, number):
    server = make(kind, args, checkouts)
    with server:
        print(f"round {number + 1}: {kind} on {server.url}", flush=True)
        try:
            return measure(server, args, studio=kind != "floor")
        except BaseException:
            print(f"{kind}'s log ends:\n{server.log()[-5000:]}", flush=True)
            raise


def one_round(studios, args, checkouts, number):
    """{kind: figures, "floor~kind": the figures of the floor measured beside it}."""
    out = {}
    turn = number % len(studios)
    for i, kind in enumerate(studios[turn:] + studios[:turn]):
        pair = [kind, "floor"] if (number + i) % 2 else ["floor", kind]
        for which in pair:
            out[which if which != "floor" else f"floor~{kind}"] = measure_one(which, args, checkouts, number)
    return out


def _floors(r):
    return [figures for key, figures in r.items() if key.startswith("floor~")]


def ratio_over_rounds(rounds, kind, name, base_kind, base_name=None):
    """The median over rounds of rounds[i][kind][name] / rounds[i][base_kind][base_name]; the
    base "floor" is the floor measured beside `kind`."""
    values = []
    for r in rounds:
        base_figures = r[f"floor~{kind}"] if base_kind == "floor" else r[base_kind]
        value, base = r[kind].get(name), base_figures.get(base_name or name)
        if value is not None and base:
            values.append(value / base)
    return median(values) if values else None


def value_over_rounds(rounds, kind, name):
    if kind == "floor":  # every floor of every round
        values = [f[name] for r in rounds for f in _floors(r) if f.get(name) is not None]
    else:
        values = [r[kind][name] for r in rounds if r[kind].get(name) is not None]
    return median(values) if values else None


def run(args):
    checkouts = older_checkouts(args)
    heads = servers_of(args.servers)
    studios = heads + [f"{k}{suffix}" for suffix, (_, kinds) in checkouts.items() for k in kinds]
    kinds = ["floor", *studios]
    rounds = []
    for number in range(args.rounds):
        rounds.append(one_round(studios, args, checkouts, number))

    result = Result(f"Studio against the floor, {args.rounds} interleaved rounds")
    names = [short for short, _, _ in PICKED] + [
        "sequential pushMessage: server CPU per call",
        "RSS idle",
        "RSS after the loads",
        "RSS peak",
    ]
    units = {short: unit for short, unit, _ in PICKED} | {
        "sequential pushMessage: server CPU per call": "ms",
        "RSS idle": "MB",
        "RSS after the loads": "MB",
        "RSS peak": "MB",
    }
    print("\n== medians over the rounds; in brackets: the median of the per-round ratios to the floor")
    print(f"  {'figure':<44}" + "".join(f"{k:>24}" for k in kinds))
    for name in names:
        cells = []
        for kind in kinds:
            value = value_over_rounds(rounds, kind, name)
            if value is None:
                cells.append(f"{'-':>24}")
                continue
            ratio = ratio_over_rounds(rounds, kind, name, "floor") if kind != "floor" else None
            cells.append(f"{value:>14,.2f}" + (f" ({ratio:5.2f}x)" if ratio else " " * 9) + " ")
        print(f"  {name:<44}" + "".join(cells))

    def add(name, value, unit, target="", detail=""):
        if value is not None:
            result.add(name, value, unit, target, detail)

    for kind in kinds:
        for name in names:
            add(f"{kind}: {name}", value_over_rounds(rounds, kind, name), units[name])
    for kind in studios:
        for shape in PUSH_SHAPES:
            name = f"pushMessage p50, {shape}"
            add(
                f"{kind}: {name} / floor", ratio_over_rounds(rounds, kind, name, "floor"), "x", f"<= {PUSH_FLOOR_RATIO}"
            )
        add(
            f"{kind}: 16 agents",
            value_over_rounds(rounds, kind, "16 agents calls/s"),
            "calls/s",
            f">= {AGENTS_TARGET}",
            f"{ratio_over_rounds(rounds, kind, '16 agents calls/s', 'floor'):.2f}x the floor",
        )
        for shape in ("new message", "stream"):
            add(
                f"{kind}: push -> page frame p50 / the POST's p50, {shape}",
                ratio_over_rounds(
                    rounds, kind, f"push -> page frame p50, {shape}", kind, "the POST itself p50 (page open)"
                ),
                "x",
                f"<= {FRAME_RATIO}",
            )
        for shape in ("gzip", "plain", "gzip x4"):
            name = f"OTLP {shape} spans/s"
            add(f"{kind}: {name} / floor", ratio_over_rounds(rounds, kind, name, "floor"), "x", f">= {OTLP_SHARE}")
        add(f"{kind}: RSS idle", value_over_rounds(rounds, kind, "RSS idle"), "MB", f"<= {IDLE_MB}")
        add(f"{kind}: RSS peak", value_over_rounds(rounds, kind, "RSS peak"), "MB", f"<= {LOADED_MB}")
    for suffix in ("", *checkouts):
        fast, quick = f"uvicorn{suffix}", f"runserver{suffix}"
        if fast in studios and quick in studios:
            add(
                f"{quick}: sequential calls/s, uvicorn's / runserver's",
                ratio_over_rounds(rounds, fast, "sequential pushMessage calls/s", quick),
                "x",
                f"<= {RUNSERVER_RATIO}",
            )
            for shape in PUSH_SHAPES:
                name = f"pushMessage p50, {shape}"
                add(
                    f"{quick}: {name} / uvicorn's",
                    ratio_over_rounds(rounds, quick, name, fast),
                    "x",
                    f"<= {RUNSERVER_RATIO}",
                )
    for suffix in checkouts:
        for kind in heads:
            if kind + suffix not in studios:
                continue
            for name in (
                "pushMessage p50, new replies",
                "pushMessage p50, streamed message",
                "sequential pushMessage: server CPU per call",
                "16 agents calls/s",
                "OTLP gzip spans/s",
                "push -> page frame p50, new message",
            ):
                add(f"{kind}: {name}, now / at {suffix[1:]}", ratio_over_rounds(rounds, kind, name, kind + suffix), "x")
    # Every round's figures too, so that the spread behind each median stays in the record.
    result.notes += [f"round {i + 1}: {json.dumps(r, sort_keys=True)}" for i, r in enumerate(rounds)]
    met = sum(1 for f in result.figures if f.target and f.met())
    total = sum(1 for f in result.figures if f.target)
    worst = max(
        (ratio_over_rounds(rounds, k, "pushMessage p50, new replies", "floor") or 0 for k in studios), default=0
    )
    result.summary = f"against the floor: {met} of {total} targets met; pushMessage p50 up to {worst:.2f}x the floor"
    return result


def main():
    p = parser(__doc__, add_arguments)
    args = p.parse_args()
    result = run(args)
    result.print()
    write_figures(result, args)


if __name__ == "__main__":
    main()
