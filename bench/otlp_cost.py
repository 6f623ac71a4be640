"""OTLP ingestion's own cost, in process: what decoding and storing 1,000 spans costs, phase by phase.

No HTTP and no server: the same 512-span agentscope batches as otlp_ingest.py, decoded by
traces.otlp and stored by traces.ingest into a fresh SQLite database (the server's settings),
then the WAL checkpointed as the server's checkpoint thread does. Prints CPU ms per 1,000
spans for each phase (min and median over the batches).

On a shared machine CPU time varies from run to run (seen: 1.5x); `--callgrind` counts
instructions instead, which are the same from one run to the next: it runs the phases under
valgrind twice (1 and 3 batches) and prints the difference per 1,000 spans. Use it to compare
two versions of the code; it takes about a minute per phase.
"""

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
SPANS = 512
PHASES = ("decode", "store", "checkpoint")


def setup_django(data_dir):
    os.environ["STUDIO_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from projects.models import Project
    from runs.models import Run

    project, _ = Project.objects.get_or_create(name="bench-otlp")
    Run.objects.get_or_create(id="bench-run", defaults={"project": project, "name": "otlp cost"})


def timed_phases(bodies):
    """{phase: [CPU seconds of each batch]}"""
    from django.db import connection

    from traces import ingest, otlp

    times = {phase: [] for phase in PHASES}
    for body in bodies:
        t0 = time.process_time()
        spans = otlp.decode(body, "application/x-protobuf", None, 1 << 26).spans
        t1 = time.process_time()
        ingest.store(spans)
        t2 = time.process_time()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        t3 = time.process_time()
        for phase, seconds in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[phase].append(seconds)
    return times


def per_thousand(seconds):
    return seconds / SPANS * 1000 * 1000  # ms per 1,000 spans


def run_cpu(args):
    data_dir = tempfile.mkdtemp(prefix="studio-otlp-cost-")
    try:
        setup_django(data_dir)
        from _common import otlp_batches

        bodies = otlp_batches("bench-run", args.batches + 3, SPANS)
        timed_phases(bodies[:3])  # warm-up
        times = timed_phases(bodies[3:])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"== OTLP ingestion in process, {args.batches} batches of {SPANS} agentscope spans (CPU ms per 1,000 spans)")
    total_min = total_median = 0
    for phase in PHASES:
        low, mid = per_thousand(min(times[phase])), per_thousand(statistics.median(times[phase]))
        total_min, total_median = total_min + low, total_median + mid
        print(f"  {phase:12s} min {low:6.1f}   median {mid:6.1f}")
    print(
        f"summary: OTLP in process: {total_median:.1f} ms CPU per 1,000 spans (median; min {total_min:.1f}), "
        f"at most {1e6 / total_median:,.0f} spans/s on one core before HTTP"
    )


# ---- --callgrind: one phase, k batches, under valgrind (the parent subtracts k=1 from k=3)


def child(phase, count, batches_file):
    # A copy of the database the parent migrated: migrations under valgrind would take a minute.
    data_dir = tempfile.mkdtemp(prefix="studio-otlp-cost-")
    try:
        shutil.copy(Path(batches_file).with_name("studio.sqlite3"), data_dir)
        setup_django(data_dir)
        from django.db import connection

        from traces import ingest, otlp

        # Decoded up front whatever `count` is, so that only the phase's own work differs.
        bodies = pickle.loads(Path(batches_file).read_bytes())
        decoded = [otlp.decode(body, "application/x-protobuf", None, 1 << 26).spans for body in bodies]
        ingest.store(decoded[0])  # warm-up
        for body, spans in zip(bodies[1 : count + 1], decoded[1 : count + 1], strict=True):
            if phase == "decode":
                otlp.decode(body, "application/x-protobuf", None, 1 << 26)
            else:
                ingest.store(spans)
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def instructions(phase, count, batches_file, out_dir):
    from _common import callgrind_instructions

    argv = [sys.executable, __file__, "--child", phase, str(count), batches_file]
    return callgrind_instructions(argv, Path(out_dir) / f"callgrind.{phase}.{count}")


def run_callgrind(args):
    work = tempfile.mkdtemp(prefix="studio-otlp-callgrind-")
    try:
        setup_django(work)  # the database each child starts from: work/studio.sqlite3
        from django.db import connection

        connection.close()
        from _common import otlp_batches

        batches_file = str(Path(work) / "batches.pkl")
        Path(batches_file).write_bytes(pickle.dumps(otlp_batches("bench-run", 4, SPANS)))
        print(f"== OTLP ingestion in process, instructions (valgrind) per 1,000 spans, batches of {SPANS}")
        total = 0
        for phase in ("decode", "store"):
            extra = instructions(phase, 3, batches_file, work) - instructions(phase, 1, batches_file, work)
            per_1000 = extra / 2 / SPANS * 1000 / 1e6
            total += per_1000
            label = "store + checkpoint" if phase == "store" else phase
            print(f"  {label:20s} {per_1000:7.1f} M instructions")
        print(f"summary: OTLP in process: {total:.0f} M instructions per 1,000 spans (decode and store)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    if sys.argv[1:2] == ["--child"]:
        phase, count, batches_file = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        return child(phase, count, batches_file)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="batches to time (default 40)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead")
    args = parser.parse_args()
    if args.callgrind:
        run_callgrind(args)
    else:
        run_cpu(args)


if __name__ == "__main__":
    main()
