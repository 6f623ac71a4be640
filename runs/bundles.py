"""Run bundles: one run, whole, as one portable file, and back into a Studio.

A bundle is gzip-compressed JSON Lines, one object a line:
1. the header: {"format": "studio-run-bundle", "version": 1, "exported_at": ...};
2. the run: {"type": "run", "id", "project" (its name), "name", "status", ...};
3. its replies, messages (content as sent: base64 media stays inline), input requests with
   their answers, and spans, each {"type": "reply" | "message" | "input_request" | "span", ...},
   in the order the run's pages show them;
4. the end: {"type": "end", "counts": {"reply": n, ...}}: a file cut short is told from a whole one.

Times are ISO 8601, span times integer nanoseconds. Fields are the models' own columns, named
as they are; `FIELDS` lists them.

Importing (`read`, then `store`) checks the whole file first (each line's fields, types and
lengths, as the models hold them, and content blocks as a push is checked), then writes it in
one `writing()` transaction: a broken or unknown-version file is refused with the line at
fault and changes nothing. Rows are matched on their natural keys (run id; reply id and msg id
in the run; request id; trace id and span id): a row already here is kept as it is and only the
missing ones are added, so importing twice adds nothing, and a bundle of a run that has grown
since adds what is new. A run of that id in another project, or a request id that another run
holds, is refused (409). A live run (running, waiting) comes in finished: no agent is attached
to the copy. Trace totals are recomputed from the spans (traces.ingest).
"""

import gzip
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.conf import settings
from django.db import models
from django.utils import timezone

from projects import events as project_events
from projects.models import Project
from studio import live, storable
from studio.db import writing
from studio.rejected import Rejected
from traces import events as span_events
from traces import ingest
from traces.models import Span
from traces.otlp import decompress

from . import events
from .content import validate_content
from .models import InputRequest, Message, Reply, Run, count_tool_calls

FORMAT = "studio-run-bundle"
VERSION = 1
CONTENT_TYPE = "application/gzip"
CONTENT_TYPES = {CONTENT_TYPE, "application/x-gzip", "application/octet-stream"}
IMPORT_REFUSED = "Importing a run needs the admin role in its project, or the right to make projects for a new one"
# A bundle is held in memory while it is checked: this is its size at most, decompressed.
MAX_BYTES = settings.STUDIO_BUNDLE_MAX_BYTES

# The columns each kind of line carries, as the model names them.
FIELDS = {
    "run": (
        Run,
        ["id", "name", "status", "origin", "pid", "run_dir", "client_timestamp"]
        + ["started_at", "last_activity_at", "finished_at"],
    ),
    "reply": (Reply, ["reply_id", "name", "role", "created_at", "updated_at"]),
    "message": (
        Message,
        ["msg_id", "name", "role", "content", "metadata", "usage", "client_timestamp", "created_at", "updated_at"],
    ),
    "input_request": (
        InputRequest,
        ["request_id", "agent_id", "agent_name", "structured_input", "status", "created_at", "answered_at"]
        + ["answered_by", "answer_blocks", "answer_structured", "delivered_at"],
    ),
    "span": (
        Span,
        ["trace_id", "span_id", "parent_span_id", "run_key", "service_name", "service_instance_id", "name", "kind"]
        + ["start_time_ns", "end_time_ns", "status_code", "status_message", "operation", "model", "input_tokens"]
        + ["output_tokens", "tool_name", "agent_name", "message_id", "attributes", "events", "links", "resource"]
        + ["scope", "trace_state", "flags", "dropped"],
    ),
}
KINDS = ("reply", "message", "input_request", "span")  # after the run, in this order


def filename(run):
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", run.name or run.pk).strip("-")[:60] or "run"
    return f"{safe}.studio-run.jsonl.gz"


# ---- export ----


def _dumps(record):
    try:
        return orjson.dumps(record)
    except TypeError:  # what orjson refuses (a lone surrogate stored before storable's rule)
        return orjson.dumps(storable.storable(record))


def records(run):
    """The bundle's lines (dicts) for this run, header and end included."""
    yield {"format": FORMAT, "version": VERSION, "exported_at": timezone.now()}
    yield {"type": "run", "project": run.project.name, **_values(run, FIELDS["run"][1])}
    counts = dict.fromkeys(KINDS, 0)
    reply_ids = {}
    for reply in Reply.objects.filter(run=run).order_by("pk").iterator(chunk_size=500):
        reply_ids[reply.pk] = reply.reply_id
        counts["reply"] += 1
        yield {"type": "reply", **_values(reply, FIELDS["reply"][1])}
    for message in Message.objects.filter(run=run).order_by("pk").iterator(chunk_size=200):
        counts["message"] += 1
        yield {"type": "message", "reply_id": reply_ids.get(message.reply_id), **_values(message, FIELDS["message"][1])}
    for request in InputRequest.objects.filter(run=run).order_by("pk").iterator(chunk_size=500):
        counts["input_request"] += 1
        yield {"type": "input_request", **_values(request, FIELDS["input_request"][1])}
    columns = FIELDS["span"][1]
    for span in Span.objects.filter(run=run).order_by("start_time_ns", "pk").values(*columns).iterator(chunk_size=500):
        counts["span"] += 1
        yield {"type": "span", **span}
    yield {"type": "end", "counts": counts}


def _values(instance, names):
    return {name: getattr(instance, name) for name in names}


def write(run, fileobj):
    """Write the run's bundle (gzip) to a binary file object."""
    with gzip.GzipFile(fileobj=fileobj, mode="wb", mtime=0) as out:
        for record in records(run):
            out.write(_dumps(record))
            out.write(b"\n")


def export_to_file(run):
    """The bundle in a temporary file (in memory while small), ready to be read from its start."""
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write(run, spooled)
    spooled.seek(0)
    return spooled


# ---- import: check everything, then store it ----


@dataclass
class Bundle:
    run: dict
    lines: dict = field(default_factory=lambda: {kind: [] for kind in KINDS})

    @property
    def project(self):
        return self.run["project"]


def read(data):
    """A checked Bundle from the file's bytes; Rejected (400, 413) saying what is wrong."""
    if not isinstance(data, (bytes, bytearray)) or not data.startswith(b"\x1f\x8b"):
        raise Rejected("This is not a Studio run bundle: the file is not gzip-compressed", errors={"file": "not gzip"})
    try:
        text = decompress(bytes(data), "gzip", MAX_BYTES)
    except Rejected as exc:
        raise Rejected(
            f"This run bundle cannot be read: {exc.message}", exc.status, errors={"file": "broken"}
        ) from None
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise _broken(1, "the file is empty")
    header = _line(lines[0], 1)
    if header.get("format") != FORMAT:
        raise _broken(1, f'the first line must be the header {{"format": "{FORMAT}", "version": {VERSION}, …}}')
    if header.get("version") != VERSION:
        raise Rejected(
            f"This run bundle has format version {header.get('version')!r}; this Studio reads version {VERSION}",
            errors={"version": "unknown"},
        )
    if len(lines) < 3:
        raise _broken(len(lines) + 1, "the file ends before its run and its end line (cut short?)")
    run = _line(lines[1], 2)
    if run.get("type") != "run":
        raise _broken(2, "the second line must be the run")
    bundle = Bundle(_checked("run", run, 2))
    if not isinstance(run.get("project"), str) or not 1 <= len(run["project"].strip()) <= 255:
        raise _broken(2, "project must be the project's name (1 to 255 characters)")
    bundle.run["project"] = run["project"].strip()
    seen = {kind: set() for kind in KINDS}
    end = None
    for number, raw in enumerate(lines[2:], start=3):
        if end is not None:
            raise _broken(number, "there is more after the end line")
        record = _line(raw, number)
        kind = record.get("type")
        if kind == "end":
            end = record
            continue
        if kind not in KINDS:
            raise _broken(number, f"type must be one of {', '.join(KINDS)} or end, not {kind!r}")
        checked = _checked(kind, record, number)
        key = _key(kind, checked)
        if key in seen[kind]:
            raise _broken(number, f"a second {kind} with the same id {key!r}")
        seen[kind].add(key)
        if kind == "message":
            reply_id = record.get("reply_id")
            if reply_id not in seen["reply"]:
                raise _broken(number, f"reply_id {reply_id!r} is no reply before it in the file")
            checked["reply_id"] = reply_id
        bundle.lines[kind].append(checked)
    if end is None:
        raise _broken(len(lines) + 1, "the end line is missing: the file was cut short")
    counts = {kind: len(bundle.lines[kind]) for kind in KINDS}
    if end.get("counts") != counts:
        raise _broken(len(lines), f"the end line counts {end.get('counts')!r}, the file holds {counts!r}")
    return bundle


def _broken(number, why):
    return Rejected(f"This run bundle is broken: line {number}: {why}", errors={f"line {number}": why})


def _line(raw, number):
    try:
        value = storable.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _broken(number, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _broken(number, "not a JSON object")
    return value


def _key(kind, values):
    if kind == "span":
        return values["trace_id"] + ":" + values["span_id"]
    return values[FIELDS[kind][1][0]]


_HEX = {"trace_id": re.compile(r"[0-9a-f]{32}"), "span_id": re.compile(r"[0-9a-f]{16}")}
_JSON_SHAPES = {"attributes": dict, "resource": dict, "scope": dict, "dropped": dict, "events": list, "links": list}
_INT_RANGES = {
    models.BigIntegerField: (-(2**63), 2**63 - 1),
    models.PositiveBigIntegerField: (0, 2**63 - 1),
    models.PositiveSmallIntegerField: (0, 32767),
    models.PositiveIntegerField: (0, 2**31 - 1),
}


def _checked(kind, record, number):
    """The record's columns, each checked against its model field as the database holds it."""
    model, names = FIELDS[kind]
    values = {}
    for name in names:
        model_field = model._meta.get_field(name)
        if name not in record:
            raise _broken(number, f"{kind}: {name} is missing")
        try:
            values[name] = _value(model_field, record[name])
        except ValueError as exc:
            raise _broken(number, f"{kind}: {name} {exc}") from None
    if kind == "message":
        try:
            validate_content(values["content"], "content")
        except Rejected as exc:
            raise _broken(number, f"message: {exc.message}") from None
    if kind == "span":
        for name, digits in (("trace_id", 32), ("span_id", 16)):
            if not _HEX[name].fullmatch(values[name]):
                raise _broken(number, f"span: {name} must be {digits} lowercase hex digits")
        if values["parent_span_id"] and not _HEX["span_id"].fullmatch(values["parent_span_id"]):
            raise _broken(number, "span: parent_span_id must be empty or 16 lowercase hex digits")
        for name, shape in _JSON_SHAPES.items():
            if not isinstance(values[name], shape):
                raise _broken(number, f"span: {name} must be a JSON {'object' if shape is dict else 'array'}")
    return values


def _value(model_field, value):
    """The value as the field stores it; ValueError saying why not."""
    if value is None:
        if model_field.null:
            return None
        raise ValueError("may not be null")
    if isinstance(model_field, models.JSONField):
        return value
    if isinstance(model_field, models.DateTimeField):
        if not isinstance(value, str):
            raise ValueError("must be an ISO 8601 time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ValueError("must have a time zone (…Z or …+00:00)")
        return moment
    if isinstance(model_field, models.IntegerField):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("must be a whole number")
        low, high = _INT_RANGES.get(type(model_field), (-(2**63), 2**63 - 1))
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}")
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if model_field.max_length and len(value) > model_field.max_length:
        raise ValueError(f"is longer than {model_field.max_length} characters")
    if model_field.choices and value not in {choice for choice, _ in model_field.choices}:
        raise ValueError(f"must be one of {', '.join(choice for choice, _ in model_field.choices)}")
    return value


@dataclass
class Imported:
    run: str
    project: str
    created: bool
    added: dict

    def as_dict(self):
        return {"run": self.run, "project": self.project, "created": self.created, "added": self.added}


def store(bundle):
    """Add what the bundle holds and this Studio does not (one transaction); an Imported."""
    values = bundle.run
    with writing():
        run = Run.objects.select_related("project").filter(pk=values["id"]).first()
        if run is not None and run.project.name != bundle.project:
            raise Rejected(
                f"A run with id {values['id']!r} is already here, in project {run.project.name!r}, "
                f"not {bundle.project!r}: nothing was imported",
                409,
                errors={"run": "exists in another project"},
            )
        project, project_created = Project.objects.get_or_create(name=bundle.project)
        created = run is None
        if created:
            run = _create_run(project, values)
        added = {
            "reply": _add_replies(run, bundle.lines["reply"]),
            "message": _add_messages(run, bundle.lines["message"]),
            "input_request": _add_requests(run, bundle.lines["input_request"]),
            "span": _add_spans(run, bundle.lines["span"]),
        }
        if project_created:
            live.publish_on_commit(project_events.project_changed(project.pk))
        if created or any(added.values()):
            live.publish_on_commit(events.run_changed(run))
        if added["span"]:
            live.publish_on_commit(span_events.spans_changed(run.pk, project.pk))
    return Imported(run.pk, project.name, created, added)


def _create_run(project, values):
    fields = {name: value for name, value in values.items() if name not in ("id", "project")}
    if fields["status"] in Run.LIVE:
        # No agent is attached to the copy: it would wait for one for ever.
        fields["status"] = Run.Status.FINISHED
        fields["finished_at"] = fields["finished_at"] or fields["last_activity_at"]
    return Run.objects.create(id=values["id"], project=project, agent_sockets=0, **fields)


def _add_replies(run, lines):
    have = set(Reply.objects.filter(run=run).values_list("reply_id", flat=True))
    new = [Reply(run=run, **line) for line in lines if line["reply_id"] not in have]
    Reply.objects.bulk_create(new, batch_size=500)
    return len(new)


def _add_messages(run, lines):
    have = set(Message.objects.filter(run=run).values_list("msg_id", flat=True))
    replies = dict(Reply.objects.filter(run=run).values_list("reply_id", "pk"))
    new = []
    for line in lines:
        if line["msg_id"] in have:
            continue
        fields = {name: value for name, value in line.items() if name != "reply_id"}
        new.append(
            Message(
                run=run, reply_id=replies[line["reply_id"]], tool_calls=count_tool_calls(fields["content"]), **fields
            )
        )
    Message.objects.bulk_create(new, batch_size=200)
    return len(new)


def _add_requests(run, lines):
    ids = [line["request_id"] for line in lines]
    owners = dict(InputRequest.objects.filter(request_id__in=ids).values_list("request_id", "run_id"))
    for request_id, owner in owners.items():
        if owner != run.pk:
            raise Rejected(
                f"The input request {request_id!r} belongs to another run here ({owner!r}): nothing was imported",
                409,
                errors={"input_request": "belongs to another run"},
            )
    new = [InputRequest(run=run, **line) for line in lines if line["request_id"] not in owners]
    InputRequest.objects.bulk_create(new, batch_size=500)
    return len(new)


def _add_spans(run, lines):
    rows = [{**line, "run_id": run.pk, "project_id": run.project_id} for line in lines]
    return ingest.store_columns(rows)
