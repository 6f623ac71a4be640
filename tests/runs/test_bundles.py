"""Run bundles in process: out, in again, twice, into another run of that id, and broken files."""

import gzip
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from projects.models import Project
from runs import bundles
from runs.models import InputRequest, Message, Reply, Run
from studio.rejected import Rejected
from tests.factories import make_message, make_question, make_reply, replay_capture
from tests.support.pages import assert_run_pages_render
from traces import ingest
from traces.models import Span, Trace

pytestmark = pytest.mark.django_db

PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture
def run(client):
    """A real client's run (replies, messages, spans), with media and an answered structured request."""
    run = replay_capture(client)
    reply = make_reply(run, "asker", name="user", role="user")
    make_message(reply, "with-media", [{"type": "text", "text": "look"}, PNG])
    question = make_question(run, "q-city", agent_name="booker", schema=SCHEMA)
    question.record_answer([{"type": "text", "text": "here"}], {"city": "Lisbon"}, "ada", timezone.now())
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FINISHED, finished_at=timezone.now())
    return Run.objects.select_related("project").get(pk=run.pk)


def bundle_bytes(run):
    out = io.BytesIO()
    bundles.write(run, out)
    return out.getvalue()


def lines_of(data):
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def gz(lines):
    return gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines))


def contents(run_id):
    """Everything a page shows of a run, as plain values (no local pks)."""
    run = Run.objects.get(pk=run_id)
    return {
        "run": (run.project.name, run.name, run.status, run.started_at, run.finished_at),
        "replies": list(Reply.objects.filter(run=run).order_by("pk").values_list("reply_id", "name", "role")),
        "messages": list(
            Message.objects.filter(run=run)
            .order_by("pk")
            .values_list("msg_id", "reply__reply_id", "content", "metadata", "tool_calls", "created_at")
        ),
        "requests": list(
            InputRequest.objects.filter(run=run)
            .order_by("pk")
            .values_list(
                "request_id", "status", "structured_input", "answer_blocks", "answer_structured", "answered_by"
            )
        ),
        "spans": list(
            Span.objects.filter(run=run)
            .order_by("start_time_ns", "span_id")
            .values_list("trace_id", "span_id", "parent_span_id", "name", "attributes", "start_time_ns", "operation")
        ),
        "traces": list(
            Trace.objects.filter(run=run)
            .order_by("trace_id")
            .values_list("trace_id", "name", "span_count", "input_tokens", "output_tokens")
        ),
    }


def move_away(run_id):
    """Forget the run here, as a fresh Studio would not have it."""
    before = contents(run_id)
    Run.objects.filter(pk=run_id).delete()
    Trace.objects.filter(run=None, project__runs=None).delete()
    return before


def test_a_bundle_holds_a_header_the_run_its_chat_requests_and_spans_and_an_end(run):
    lines = lines_of(bundle_bytes(run))
    assert lines[0]["format"] == "studio-run-bundle" and lines[0]["version"] == 1
    assert lines[1]["type"] == "run" and lines[1]["id"] == run.pk and lines[1]["project"] == run.project.name
    kinds = [line["type"] for line in lines[2:-1]]
    assert kinds == sorted(kinds, key=bundles.KINDS.index)  # replies, messages, requests, spans
    counts = lines[-1]["counts"]
    assert counts == {
        "reply": Reply.objects.filter(run=run).count(),
        "message": Message.objects.filter(run=run).count(),
        "input_request": InputRequest.objects.filter(run=run).count(),
        "span": Span.objects.filter(run=run).count(),
    }
    media = next(line for line in lines if line.get("msg_id") == "with-media")
    assert media["content"][1] == PNG  # base64 stays inline
    request = next(line for line in lines if line.get("request_id") == "q-city")
    assert request["answer_structured"] == {"city": "Lisbon"} and request["structured_input"] == SCHEMA


def test_a_span_line_carries_exactly_the_columns_ingest_stores():
    assert {*bundles.FIELDS["span"][1], "run_id", "project_id"} == set(ingest._row_fields())


def test_an_imported_bundle_gives_back_the_same_run_and_importing_it_again_adds_nothing(run, client):
    data = bundle_bytes(run)
    before = move_away(run.pk)
    imported = bundles.store(bundles.read(data))
    assert imported.created and imported.added["message"] == len(before["messages"])
    assert contents(run.pk) == before
    assert_run_pages_render(client, run.pk, latest=5)

    again = bundles.store(bundles.read(data))
    assert not again.created and again.added == {"reply": 0, "message": 0, "input_request": 0, "span": 0}
    assert contents(run.pk) == before


def test_a_run_that_grew_since_its_bundle_keeps_its_rows_and_gets_only_whats_missing(run):
    data = bundle_bytes(run)
    Message.objects.filter(run=run, msg_id="with-media").delete()
    newer = make_message(Reply.objects.get(run=run, reply_id="asker"), "after-export", ["later"])
    imported = bundles.store(bundles.read(data))
    assert imported.added == {"reply": 0, "message": 1, "input_request": 0, "span": 0}
    assert Message.objects.filter(run=run, msg_id="with-media").exists()
    assert Message.objects.get(pk=newer.pk).content == ["later"]


def test_a_live_run_comes_in_finished_as_no_agent_is_attached_to_the_copy(run):
    Run.objects.filter(pk=run.pk).update(status=Run.Status.WAITING, finished_at=None)
    data = bundle_bytes(Run.objects.get(pk=run.pk))
    move_away(run.pk)
    bundles.store(bundles.read(data))
    copy = Run.objects.get(pk=run.pk)
    assert copy.status == Run.Status.FINISHED and copy.finished_at == copy.last_activity_at


def test_a_run_of_that_id_in_another_project_is_refused_and_nothing_changes(run):
    lines = lines_of(bundle_bytes(run))
    lines[1]["project"] = "Elsewhere"
    with pytest.raises(Rejected) as refused:
        bundles.store(bundles.read(gz(lines)))
    assert refused.value.status == 409 and "already here, in project" in refused.value.message
    assert not Project.objects.filter(name="Elsewhere").exists()


def test_a_request_id_another_run_holds_is_refused_and_nothing_is_written(run):
    lines = lines_of(bundle_bytes(run))
    lines[1]["id"] = "a-copy"
    spans_before = Span.objects.count()
    with pytest.raises(Rejected) as refused:
        bundles.store(bundles.read(gz(lines)))
    assert refused.value.status == 409 and "belongs to another run here" in refused.value.message
    assert not Run.objects.filter(pk="a-copy").exists() and Span.objects.count() == spans_before


def broken(run, change):
    lines = lines_of(bundle_bytes(run))
    change(lines)
    return gz(lines)


def set_field(kind, name, value):
    def change(lines):
        next(line for line in lines if line.get("type") == kind)[name] = value

    return change


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda run: b"not a bundle at all", "not gzip-compressed"),
        (lambda run: bundle_bytes(run)[:-30], "cannot be read"),
        (lambda run: gzip.compress(gzip.decompress(bundle_bytes(run))[:-200]), "line"),
        (lambda run: broken(run, lambda lines: lines.pop()), "end line is missing"),
        (lambda run: broken(run, lambda lines: lines.pop(-2)), "the end line counts"),
        (lambda run: broken(run, lambda lines: lines[0].update(version=2)), "format version 2"),
        (lambda run: broken(run, lambda lines: lines[0].update(format="other")), "line 1"),
        (lambda run: broken(run, set_field("run", "status", "gone")), "status must be one of"),
        (lambda run: broken(run, set_field("run", "started_at", "yesterday")), "ISO 8601"),
        (lambda run: broken(run, set_field("message", "content", [{"type": "image"}])), "message:"),
        (lambda run: broken(run, set_field("message", "reply_id", "nobody")), "no reply before it"),
        (lambda run: broken(run, set_field("span", "span_id", "XYZ")), "16 lowercase hex"),
        (lambda run: broken(run, set_field("span", "start_time_ns", 2**64)), "start_time_ns must be from"),
        (lambda run: broken(run, set_field("reply", "name", "x" * 300)), "longer than 255"),
    ],
)
def test_a_broken_or_unknown_version_file_is_refused_saying_why_and_changes_nothing(run, make, says):
    data = make(run)
    move_away(run.pk)
    rows = (Run.objects.count(), Message.objects.count(), Span.objects.count(), InputRequest.objects.count())
    with pytest.raises(Rejected) as refused:
        bundles.store(bundles.read(data))
    assert refused.value.status == 400 and says in refused.value.message
    assert (Run.objects.count(), Message.objects.count(), Span.objects.count(), InputRequest.objects.count()) == rows


def test_the_management_commands_export_and_import_a_run(run, tmp_path, capsys):
    path = tmp_path / "run.jsonl.gz"
    call_command("export_run", run.pk, str(path))
    before = move_away(run.pk)
    call_command("import_run", str(path))
    assert contents(run.pk) == before
    call_command("import_run", str(path))
    out = capsys.readouterr().out
    assert "added nothing" in out


def test_an_export_reads_a_bounded_number_of_queries(run, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        bundle_bytes(run)
