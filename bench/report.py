"""The recorded figures (bench/results.jsonl, written by `--record`) as Markdown tables.

  report.py               the latest run of all.py: each figure with a target, against the run before
  report.py --bench load  the same for the latest run of another script (load, soak, push_latency ...)
  report.py --history     one line per recorded run, oldest first
  report.py --write       put the latest all.py table and the last runs into bench/README.md,
                          between its "report.py" markers (run it after `all.py --record`)

Targets are the ones each figure was recorded with (the scripts' own, e.g. push_latency.P50).
"""

import argparse
import re
import sys

import _results
from _common import Figure, fmt

README = _results.BENCH / "README.md"
BEGIN = "<!-- report.py --write: from here -->"
END = "<!-- report.py --write: to here -->"
RECENT = 10


def machine(entry):
    m = entry.get("machine") or {}
    parts = [
        f"{m['nproc']} cores" if m.get("nproc") else "",
        m.get("cpu", ""),
        m.get("python", "") and f"Python {m['python']}",
    ]
    return ", ".join(p for p in parts if p) or "not recorded"


def code(entry):
    if not entry.get("commit"):
        return "not recorded"
    return f"`{entry['commit']}`" + (" with uncommitted changes" if entry.get("dirty") else "")


def command(entry):
    env = [f"{key}={value}" for key, value in entry.get("env", {}).items()]
    return " ".join([*env, f"{entry['bench']}.py", *entry.get("argv", [])])


def verdict(figure):
    return {True: "met", False: "**missed**", None: ""}[Figure(**figure).met()]


def latest_table(entries, bench="all"):
    runs = [e for e in entries if e["bench"] == bench]
    if not runs:
        sys.exit(f"no run of {bench}.py recorded in {_results.RESULTS}")
    latest, previous = runs[-1], (runs[-2] if len(runs) > 1 else None)
    before = {f["name"]: f for f in previous["figures"]} if previous else {}
    # all.py has many figures: its table keeps those with a target; other scripts show all theirs
    figures = [f for f in latest["figures"] if f["target"] or bench != "all"]
    lines = [
        f"`{command(latest)}` at {code(latest)}, {latest['time'][:16].replace('T', ' ')} UTC "
        f"({machine(latest)}): {latest['summary']}.",
        "",
        f"| figure | value | target | verdict | run before{f' ({code(previous)})' if previous else ''} |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        old = before.get(f["name"])
        was = f"{fmt(old['value'])} {old['unit']}" if old else ""
        target = f"{f['target']} {f['unit']}" if f["target"] else ""
        lines.append(f"| {f['name'].strip()} | {fmt(f['value'])} {f['unit']} | {target} | {verdict(f)} | {was} |")
    return "\n".join(lines)


def history(entries):
    lines = ["| recorded (UTC) | run | code | machine | summary |", "|---|---|---|---|---|"]
    for e in entries:
        when = e["time"][:16].replace("T", " ")
        lines.append(f"| {when} | `{command(e)}` | {code(e)} | {machine(e)} | {e['summary']} |")
    return "\n".join(lines)


def write_readme(entries):
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{README} has no {BEGIN} ... {END} markers")
    block = "\n\n".join(
        [
            BEGIN,
            latest_table(entries),
            f"The last {RECENT} recorded runs (all of them: `report.py --history`):",
            history(entries[-RECENT:]),
            END,
        ]
    )
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    README.write_text(pattern.sub(lambda _: block, text))
    print(f"wrote the latest figures into {README}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", default=str(_results.RESULTS), help="the results file (bench/results.jsonl)")
    p.add_argument("--bench", default="all", help="the script whose latest run to show (default all)")
    p.add_argument("--history", action="store_true", help="one line per recorded run")
    p.add_argument("--write", action="store_true", help="update bench/README.md between its markers")
    args = p.parse_args()
    entries = _results.read(args.results)
    if args.write:
        write_readme(entries)
    elif args.history:
        print(history(entries))
    else:
        print(latest_table(entries, args.bench))


if __name__ == "__main__":
    main()
