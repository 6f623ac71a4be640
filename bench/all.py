"""Every benchmark on one server, in turn, then one summary table.

Runs the loads of memory.py (pushMessage latency, 16-agent throughput, OTLP ingestion,
push-to-browser, input round trip, the 10,000-message/10,000-span run page) with their default
sizes (--quick: fewer repetitions), prints each benchmark's figures as it ends, then the server's
memory after each load, the database bytes per 1,000 messages and spans, and a table of every
figure that has a target.
"""

import subprocess

import memory
from _common import ROOT, main


def add_arguments(p):
    memory.add_arguments(p)


def run(server, args):
    mem, results = memory.run_loads(server, args, on_result=lambda r: r.print())
    results.append(mem)
    mem.print()
    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"\n== summary (code at {commit[:90]})")
    print(f"  {'figure':<62} {'value':>10} {'unit':<8} {'target':<10} verdict")
    for r in results:
        for f in r.figures:
            if f.target:
                op, bound = f.target.split()
                print(
                    f"  {f.name[:62]:<62} {f.value:>10,.2f} {f.unit:<8} {op + ' ' + bound:<10} {'met' if f.met() else 'MISSED'}"
                )
    print()
    for r in results:
        print(f"summary: {r.summary}")
    met = sum(1 for r in results for f in r.figures if f.target and f.met())
    total = sum(1 for r in results for f in r.figures if f.target)
    from _common import Result

    combined = Result("all benchmarks")
    for r in results:
        combined.figures += r.figures
        combined.notes += r.notes
    combined.summary = f"{met} of {total} targets met"
    combined.title = "all benchmarks"
    print(f"summary: {met} of {total} targets met")
    combined.print = lambda: None  # already printed
    return combined


if __name__ == "__main__":
    main(__doc__, add_arguments, run)
