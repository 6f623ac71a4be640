"""Shared by the benchmarks: a real server, realistic payloads, statistics and printing.

A benchmark script defines `add_arguments(parser)` and `run(server, args) -> Result`, and ends
with `main(__doc__, add_arguments, run)`. `Server` starts Studio the way a team runs it
(uvicorn, one worker, `--lifespan off`, see README "For a team") on a free port of 127.0.0.1 in
a temporary data directory, or wraps a running one given with `--url`; it is the tests' harness
(tests/support/server.py) with what a benchmark reads of the server (memory, CPU, the database).
"""

import argparse
import copy
import gzip
import http.client
import json
import os
import random
import shutil
import sqlite3
import statistics
import string
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import _results

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # for the server harness the tests use: tests/support/server.py

from tests.support.server import ASGI_APP, StudioServer  # noqa: E402

# The real clients' traffic the tests replay too (copies of the reference captures).
DATA = ROOT / "tests" / "captures"
CAPTURE = DATA / "agentscope-1.0.21-stream.jsonl"
OTLP_SAMPLE = DATA / "otlp-agentscope-1.0.21-10spans.bin"
PYTHON = sys.executable


# ---------------------------------------------------------------- the server


class Server(StudioServer):
    """Studio for a benchmark (tests/support/server.py's harness): under uvicorn, one worker, by
    default, in a temporary data dir with its static files collected; or a running one (`url`)."""

    def __init__(
        self,
        url=None,
        pid=None,
        data_dir=None,
        access_log=True,
        keep=False,
        env=None,
        server="uvicorn",
        app=ASGI_APP,
        root=ROOT,
        python=sys.executable,
    ):
        super().__init__(
            env=env,
            server=server,
            app=app,
            app_dir=None if app == ASGI_APP else BENCH,  # e.g. _probe:application
            access_log=access_log,
            collectstatic=True,
            # BENCH_SERVER_PREFIX: a command the server runs under, as its child (RSS figures include
            # it). Not for py-spy, which is stopped with the server before it writes: attach
            # `py-spy record --pid` instead (bench/findings.md#all-before-after).
            prefix=os.environ.get("BENCH_SERVER_PREFIX", "").split(),
            keep=keep,
            root=root,
            python=python,
        )
        self.external = url is not None
        if self.external:
            self.url = url.rstrip("/")
            self.pid = pid
            self.data_dir = Path(data_dir) if data_dir else None

    def start(self, timeout=60):
        return self if self.external else super().start(timeout)

    @property
    def host_port(self):
        parsed = urllib.parse.urlsplit(self.url)
        return parsed.hostname, parsed.port or 80

    @property
    def ws_url(self):
        return "ws" + self.url[len("http") :]

    # -- what it costs

    def rss_mb(self):
        """Resident memory of the server process (and its children: uvicorn with several workers)."""
        if not self.pid:
            return None
        return sum(_proc_status(pid, "VmRSS") for pid in _process_tree(self.pid)) / 1024

    def peak_rss_mb(self):
        if not self.pid:
            return None
        return max(_proc_status(pid, "VmHWM") for pid in _process_tree(self.pid)) / 1024

    def cpu_seconds(self):
        if not self.pid:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in _process_tree(self.pid):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    @property
    def db_path(self):
        if self.data_dir is None:
            return None
        path = self.data_dir / "studio.sqlite3"
        return path if path.exists() else None

    def db(self):
        """A read-only connection to the server's SQLite database, or None (PostgreSQL, --url)."""
        if self.db_path is None:
            return None
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)

    def table_bytes(self):
        """Bytes of each table with its indexes (SQLite dbstat), or {} if the database is not here."""
        db = self.db()
        if db is None:
            return {}
        try:
            owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
            sizes = {}
            for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                table = owner.get(name, name)
                sizes[table] = sizes.get(table, 0) + size
            return sizes
        finally:
            db.close()

    def count(self, sql, params=()):
        db = self.db()
        if db is None:
            return None
        try:
            return db.execute(sql, params).fetchone()[0]
        finally:
            db.close()


def runtime_python(venv=ROOT / ".cache" / "runtime-venv"):
    """The python of a venv holding requirements.txt alone, made on first use: the server as a
    user installs it. The suite's venv also has the test tools, and python-socketio imports
    whichever HTTP clients it finds installed (aiohttp, requests: about 20 MB of RSS)."""
    venv = Path(venv)
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = (ROOT / "requirements.txt").read_text()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"making {venv} from requirements.txt", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True)
        stamp.write_text(wanted)
    return python


def _process_tree(pid):
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        pids.extend(_process_tree(int(child)))
    return pids


def _proc_status(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # kB
    return 0


# ---------------------------------------------------------------- HTTP


def request(method, url, body=None, headers=None, timeout=30):
    """One request on a new connection: (status, headers, body bytes)."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
    try:
        path = parsed.path + (("?" + parsed.query) if parsed.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


class KeepAlive:
    """A keep-alive HTTP/1.1 connection with as little client work per call as possible."""

    def __init__(self, server, timeout=30):
        self.host, self.port = server.host_port
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def post_json(self, path, payload_bytes):
        return self.call("POST", path, payload_bytes, {"Content-Type": "application/json"})

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def trpc(server, procedure, payload):
    status, _, body = request(
        "POST", f"{server.url}/trpc/{procedure}", json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    if status != 200:
        raise RuntimeError(f"{procedure} answered {status}: {body[:500]!r}")
    return json.loads(body)


# ---------------------------------------------------------------- payloads

_ALPHABET = string.ascii_letters + string.digits


def short_id():
    """An id like the client's shortuuid (22 characters)."""
    return "".join(random.choices(_ALPHABET, k=22))


def client_timestamp():
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def capture_records(kind="http", path=None):
    with open(CAPTURE) as f:
        for line in f:
            record = json.loads(line)
            if record.get("kind") == kind and (path is None or record.get("path") == path):
                yield record


def register_run(server, project="bench", name="bench-run", run_id=None):
    """POST /trpc/registerRun with the body the client sends; returns the run id."""
    body = next(capture_records(path="/trpc/registerRun"))["body"]
    run_id = run_id or short_id()
    trpc(
        server,
        "registerRun",
        {**body, "id": run_id, "project": project, "name": name, "timestamp": client_timestamp(), "pid": os.getpid()},
    )
    return run_id


def captured_messages():
    """The final state of every message of the capture's agent replies (thinking, text, tool use, results)."""
    last = {}
    for record in capture_records(path="/trpc/pushMessage"):
        body = record["body"]
        last[body["msg"]["id"]] = body
    return list(last.values())


class Messages:
    """pushMessage bodies shaped like the captured ones, with fresh ids."""

    def __init__(self, run_id):
        self.run_id = run_id
        self.templates = captured_messages()
        self.i = 0

    def body(self, reply_id, msg_id, template=None, content=None, reply_name="Friday", reply_role="assistant"):
        template = template or self.templates[self.i % len(self.templates)]
        self.i += 1
        msg = template["msg"]
        return {
            "runId": self.run_id,
            "replyId": reply_id,
            "replyName": reply_name,
            "replyRole": reply_role,
            "msg": {
                "id": msg_id,
                "name": msg["name"] if msg["name"] != "user" else reply_name,
                "role": msg["role"] if msg["role"] != "user" else reply_role,
                "content": copy.deepcopy(msg["content"]) if content is None else content,
                "metadata": {},
                "timestamp": client_timestamp(),
            },
        }

    def new_reply(self):
        """A message opening a new reply."""
        return self.body(short_id(), short_id())

    def in_reply(self, reply_id):
        """A new message in an existing reply."""
        return self.body(reply_id, short_id())


WORDS = (
    "the weather in Paris is sunny and warm today, about twenty five degrees, with a light breeze "
    "from the west; tomorrow brings clouds and perhaps some rain in the afternoon, so take an umbrella "
    "if you plan to walk along the river. "
).split()


def streamed_contents(chunks=300, thinking_chunks=40):
    """The accumulated content of one message printed `chunks` times while a model streams:
    a thinking block first, then text growing a token or two at a time (about 12 bytes a chunk)."""
    thinking, text, out = [], [], []
    for i in range(chunks):
        if i < thinking_chunks:
            thinking.append(WORDS[i % len(WORDS)])
            blocks = [{"type": "thinking", "thinking": " ".join(thinking)}]
        else:
            text.extend(WORDS[(i + j) % len(WORDS)] for j in range(2))
            blocks = [{"type": "thinking", "thinking": " ".join(thinking)}, {"type": "text", "text": " ".join(text)}]
        out.append(blocks)
    return out


def encode(payload):
    return json.dumps(payload, ensure_ascii=False).encode()


# ---------------------------------------------------------------- OTLP


def otlp_batches(run_id, batches, spans_per_batch=512, service_name="unknown_service:python"):
    """`batches` ExportTraceServiceRequest protobufs of `spans_per_batch` real agentscope spans each.

    The captured request's spans are replicated, each copy a new trace with fresh span ids (the
    parent links kept inside the copy) and its conversation id set to `run_id`, as agentscope
    1.0.21's BatchSpanProcessor sends them. Returns a list of serialized bodies.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    sample = ExportTraceServiceRequest()
    sample.ParseFromString(OTLP_SAMPLE.read_bytes())
    resource_spans = sample.resource_spans[0]
    template = [span for scope in resource_spans.scope_spans for span in scope.spans]
    conversation = json.dumps(run_id)
    instance = str(random.getrandbits(64))
    bodies = []
    t_shift = time.time_ns() - min(span.start_time_unix_nano for span in template)
    for _ in range(batches):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.CopyFrom(resource_spans.resource)
        for attribute in rs.resource.attributes:
            if attribute.key == "service.instance.id":
                attribute.value.string_value = instance
            elif attribute.key == "service.name":
                attribute.value.string_value = service_name
        scope_spans = rs.scope_spans.add()
        scope_spans.scope.CopyFrom(resource_spans.scope_spans[0].scope)
        count = 0
        while count < spans_per_batch:
            trace_id = random.randbytes(16)
            ids = {span.span_id: random.randbytes(8) for span in template}
            for span in template:
                if count == spans_per_batch:
                    break
                copy_ = scope_spans.spans.add()
                copy_.CopyFrom(span)
                copy_.trace_id = trace_id
                copy_.span_id = ids[span.span_id]
                if span.parent_span_id:
                    copy_.parent_span_id = ids.get(span.parent_span_id, random.randbytes(8))
                copy_.start_time_unix_nano += t_shift
                copy_.end_time_unix_nano += t_shift
                for attribute in copy_.attributes:
                    if attribute.key == "gen_ai.conversation.id":
                        attribute.value.string_value = conversation
                count += 1
        bodies.append(request.SerializeToString())
    return bodies


def otlp_response_rejected(body):
    """Rejected spans reported in an ExportTraceServiceResponse (partial success), or None."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    try:
        response.ParseFromString(body)
    except Exception:
        return None
    return response.partial_success.rejected_spans


def traces_available(server):
    """Whether POST /v1/traces ingests (the endpoint answered 501 before traces landed)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    status, _, _ = request(
        "POST",
        server.url + "/v1/traces",
        ExportTraceServiceRequest().SerializeToString(),
        {"Content-Type": "application/x-protobuf"},
    )
    return status == 200


def gzipped(body, level=6):
    return gzip.compress(body, compresslevel=level)


# ---------------------------------------------------------------- statistics and printing


def percentile(samples, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Figure:
    """One line of a benchmark's output (and of the summary table)."""

    name: str
    value: float
    unit: str
    target: str = ""  # e.g. "<= 1.7"
    detail: str = ""

    def met(self):
        if not self.target:
            return None
        op, bound = self.target.split()
        bound = float(bound)
        return self.value <= bound if op == "<=" else self.value >= bound

    def line(self, width=58):
        verdict = {True: "met", False: "MISSED", None: ""}[self.met()]
        target = f"target {self.target} {self.unit}" if self.target else ""
        return f"  {self.name:<{width}} {fmt(self.value):>10} {self.unit:<7} {target:<22} {verdict:<6} {self.detail}".rstrip()


@dataclass
class Result:
    title: str
    figures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    summary: str = ""

    def add(self, *args, **kwargs):
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def latency(self, name, samples_ms, p50_target=None, p99_target=None, per_rep=None, detail=""):
        """p50 and p99 of all samples; per_rep: the medians of each repetition, shown as a spread."""
        spread = ""
        if per_rep and len(per_rep) > 1:
            spread = f"reps p50 {fmt(min(per_rep))}-{fmt(max(per_rep))}"
        extra = " ".join(x for x in (f"n={len(samples_ms)}", spread, detail) if x)
        self.add(f"{name} p50", percentile(samples_ms, 50), "ms", f"<= {p50_target}" if p50_target else "", extra)
        self.add(f"{name} p99", percentile(samples_ms, 99), "ms", f"<= {p99_target}" if p99_target else "")

    def print(self):
        print(f"\n== {self.title}")
        for figure in self.figures:
            print(figure.line())
        for note in self.notes:
            print(f"  note: {note}")
        if self.summary:
            print(f"summary: {self.summary}")
        sys.stdout.flush()

    def as_dict(self):
        return {
            "title": self.title,
            "summary": self.summary,
            "notes": self.notes,
            "figures": [figure.__dict__ for figure in self.figures],
        }


def fmt(value):
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ms(seconds):
    return seconds * 1000.0


# ---------------------------------------------------------------- command line


def parser(doc, add_arguments=None):
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="benchmark this running server instead of starting one (e.g. http://127.0.0.1:3000)")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to report its memory")
    p.add_argument("--data-dir", help="with --url: the server's STUDIO_DATA_DIR, to count stored rows (SQLite)")
    p.add_argument("--no-access-log", action="store_true", help="start uvicorn with --no-access-log")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory (its path is printed)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    p.add_argument(
        "--record",
        nargs="?",
        const=str(_results.RESULTS),
        metavar="FILE",
        help="append the figures, the commit and the machine as one JSON line to FILE (bench/results.jsonl)",
    )
    if add_arguments:
        add_arguments(p)
    return p


def make_server(args):
    return Server(url=args.url, pid=args.pid, data_dir=args.data_dir, access_log=not args.no_access_log, keep=args.keep)


def describe(server):
    where = server.url + (f" (pid {server.pid})" if server.pid else "")
    if server.external:
        return f"server: {where}, given with --url"
    return f"server: uvicorn studio.asgi:application --workers 1 --lifespan off on {where}, data in {server.data_dir}"


def main(doc, add_arguments, run):
    args = parser(doc, add_arguments).parse_args()
    server = make_server(args)
    with server:
        print(describe(server), flush=True)
        try:
            result = run(server, args)
        except BaseException:
            if server.process is not None:
                alive = server.process.poll() is None
                print(
                    f"server {'still running' if alive else f'exited with {server.process.returncode}'}; its log ends:\n{server.log()[-5000:]}",
                    file=sys.stderr,
                )
            raise
        result.print()
        if server.pid:
            print(f"server RSS after the run: {server.rss_mb():.0f} MB (peak {server.peak_rss_mb():.0f} MB)")
    write_figures(result, args)
    return result


def write_figures(result, args):
    """--json FILE: the figures alone; --record: the figures as a line of the results file."""
    if args.json:
        Path(args.json).write_text(json.dumps(result.as_dict(), indent=2))
    if args.record:
        line = _results.entry(Path(sys.argv[0]).stem, result, _results.measuring_options(sys.argv[1:], args))
        _results.append(line, args.record)
        print(f"recorded in {args.record}: {line['commit']}{' (uncommitted changes)' if line['dirty'] else ''}")


def median(values):
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- instruction counts


def callgrind_instructions(argv, out_file):
    """The instructions valgrind's callgrind counts while `argv` runs (the same from run to run,
    whatever else the machine does; about 50x slower than running it)."""
    if not shutil.which("valgrind"):
        sys.exit("--callgrind needs valgrind (apt-get install valgrind)")
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *argv]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in finished.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise RuntimeError(f"no instruction count in valgrind's output:\n{finished.stderr[-2000:]}")
