"""bench/all.py's figures now and before a change, measured in turn on the same machine.

    git worktree add /tmp/before REV
    python bench/before_after.py --before /tmp/before [--rounds 2] [--quick] [--record]

Each round starts a fresh Studio from this checkout and one from the older checkout (uvicorn, one
worker, as README's team command, on a venv of requirements.txt alone as floor.py does), runs
all.py's loads against each, and stops it; which goes first turns each round, so that a slow
minute of this shared machine falls on each in turn. Prints every figure's median over the
rounds for both, the median of the rounds' now / before, and whether that is better or worse (by
the figure's target, or its unit where it has none). --record appends one line to the results file with every round's
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
    """Rows of (figure, unit, median now, median before, median of the rounds' now/before, verdict).

    The ratio is taken within each round (the two servers measured one after the other), then
    its median over the rounds: a slow spell of the machine spans a round more often than it
    spans a whole run."""
    rows = []
    for name, (_, unit, target) in rounds[0][now].items():
        pairs = [
            (r[now][name][0], r[before][name][0])
            for r in rounds
            if name in r[before] and r[now][name][0] is not None and r[before][name][0] is not None
        ]
        if not pairs:
            continue
        a, b = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        ratios = [x / y for x, y in pairs if y]
        ratio = statistics.median(ratios) if ratios else float("nan")
        if a == b:
            verdict = "same"
        elif ratio != ratio:
            verdict = "n/a"
        else:
            verdict = "better" if (ratio > 1) == higher_is_better(unit, target) else "worse"
        rows.append((name, unit, a, b, ratio, verdict))
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
    print(f"\n== now ({now}) and before ({then}), medians of {args.rounds} rounds; now/before: within a round")
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
