"""bench/all.py's figures now and before a change, measured in turn on the same machine.

    git worktree add /tmp/before REV
    python bench/before_after.py --before /tmp/before [--rounds 2] [--quick] [--record]

Each round starts a fresh Studio from this checkout and one from the older checkout (uvicorn, one
worker, as README's team command, on a venv of requirements.txt alone as floor.py does), runs
all.py's loads against each, and stops it; which goes first turns each round, so that a slow
minute of this shared machine falls on each in turn. Prints every figure's median over the
rounds for both, now / before, and whether that is better or worse (by the figure's target, or
its unit where it has none). --record appends one line to the results file with every round's
figures of both.
"""

import statistics
import subprocess
import sys
from pathlib import Path

import all as all_benchmarks
import memory
from _common import Server, parser, runtime_python
from _results import append, entry

HIGHER_IS_BETTER_UNITS = ("/s", "calls/s", "spans/s", "frames/s")


def add_arguments(p):
    memory.add_arguments(p)
    p.add_argument("--before", required=True, metavar="DIR", help="a checkout of the older commit (git worktree add)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, each measuring both (default 2)")


def commit_of(where):
    return subprocess.run(
        ["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def measure(root, args):
    """{figure name: (value, unit, target)} of all.py's loads against a fresh server of `root`."""
    argv = [
        *(["--quick"] if args.quick else []),
        *(["--browser"] if args.browser else []),
        "--settle",
        str(args.settle),
    ]
    loads = parser(memory.__doc__, memory.add_arguments).parse_args(argv)
    with Server(root=root, python=runtime_python()) as server:
        print(f"== {commit_of(root)} on {server.url}", flush=True)
        result = all_benchmarks.run(server, loads)
    return {f.name: (f.value, f.unit, f.target) for f in result.figures}


def higher_is_better(unit, target):
    if target:
        return target.startswith(">")
    return unit.endswith(HIGHER_IS_BETTER_UNITS)


def compare(rounds, now, before):
    """Rows of (figure, unit, median now, median before, now/before, verdict)."""
    rows = []
    for name, (_, unit, target) in rounds[0][now].items():
        values = {
            side: [r[side][name][0] for r in rounds if name in r[side] and r[side][name][0] is not None]
            for side in (now, before)
        }
        if not values[now] or not values[before]:
            continue
        a, b = statistics.median(values[now]), statistics.median(values[before])
        ratio = a / b if b else float("nan")
        better = ratio >= 1 if higher_is_better(unit, target) else ratio <= 1
        rows.append((name, unit, a, b, ratio, "better or equal" if better else "worse"))
    return rows


def main():
    args = parser(__doc__, add_arguments).parse_args()
    here, before = Path(__file__).resolve().parents[1], Path(args.before).resolve()
    now, then = commit_of(here), commit_of(before)
    rounds = []
    for number in range(args.rounds):
        order = [(now, here), (then, before)]
        if number % 2:
            order.reverse()
        rounds.append({name: measure(root, args) for name, root in order})
    print(f"\n== now ({now}) and before ({then}), medians of {args.rounds} rounds")
    print(f"  {'figure':<62} {'unit':<8} {'now':>10} {'before':>10} {'now/before':>10}")
    for name, unit, a, b, ratio, verdict in compare(rounds, now, then):
        print(f"  {name[:62]:<62} {unit:<8} {a:>10,.2f} {b:>10,.2f} {ratio:>10.2f}  {verdict}")
    if args.record:
        from _common import Result

        result = Result(f"all.py now ({now}) and before ({then})")
        result.summary = f"{args.rounds} rounds, in turn"
        result.notes = [f"round {i + 1}: {r}" for i, r in enumerate(rounds)]
        options = ["--before", then, "--rounds", str(args.rounds), *(["--quick"] if args.quick else [])]
        append(entry("before_after", result, options), args.record)
        print(f"recorded in {args.record}")


if __name__ == "__main__":
    sys.exit(main())
