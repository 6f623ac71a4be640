"""The results file, bench/results.jsonl: one JSON line per recorded run of a benchmark.

A line holds what was measured ("bench": the script's name, its options, the figures as in
`--json`), on which code ("commit", "dirty") and where ("machine": cores, CPU model, Python,
SQLite; never the host's name), and when ("time", UTC). Lines are only ever appended, so the
file is the history; `report.py` shows the latest against the targets.
"""

import json
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results.jsonl"


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def code():
    """The commit, and whether tracked files differ from it (the results file itself aside)."""
    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", f":!{RESULTS.relative_to(ROOT)}")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(changed.strip())}


def machine():
    """What the figures depend on besides the code; the same for two runs on one kind of machine."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu or platform.processor(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def entry(bench, result, argv):
    """The line for `result` (a `_common.Result`) of `bench` run with the options `argv`."""
    return {
        "bench": bench,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **code(),
        "machine": machine(),
        "argv": list(argv),
        **result.as_dict(),
    }


def measuring_options(argv, args):
    """argv without --json and --record: the options that made the figures, not where they went."""
    kept, skip = [], None
    for token in argv:
        if skip is not None:
            value, skip = skip, None
            if token == value:
                continue
        if token in ("--json", "--record"):
            skip = getattr(args, token[2:])
        elif not token.startswith(("--json=", "--record=")):
            kept.append(token)
    return kept


def append(line, path=RESULTS):
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def read(path=RESULTS):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
