"""Generated payloads against every surface a stranger reaches (hypothesis): valid, near-valid and
garbage bodies, with lone surrogates, NUL, invalid UTF-8, deep nesting, huge strings and wrong
types. Nothing answers 5xx, every page of the run they went to still renders, and what was stored
before is unchanged.

Bounded and deterministic (`derandomize`): the same examples on every run, so the suite stays
fast and never flakes; widen locally with STUDIO_FUZZ_EXAMPLES=2000.
"""

import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from websockets.sync.client import connect

from runs.models import InputRequest, Message, Reply, Run
from tests.factories import (
    call,
    input_body,
    msg,
    push_body,
    register,
    reply_body,
    run_body,
    served_question,
    served_run,
)
from tests.support.backends import through_async_views
from tests.support.captures import capture_spans
from tests.support.pages import assert_run_pages_render
from tests.traces.bodies import fresh_ids, protobuf_body, with_run_id
from traces.models import Span

EXAMPLES = int(os.environ.get("STUDIO_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
RUN = "fuzz-run"
KEPT = "kept-run"

# ---- what a hostile client sends ----

_odd_characters = st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udbff",
        "\udc00",
        "\udfff",
        "\ufffd",
        "\u2028",
        "\U0001f600",
        "<script>alert(1)</script>",
        "'\"",
        "\\",
        "{{ x }}",
        "%s",
        "\x1b[31m",
    ]
)
hostile_text = st.one_of(
    st.text(max_size=12),
    st.lists(st.one_of(st.characters(), _odd_characters), max_size=12).map("".join),
    st.tuples(st.sampled_from(["x", "\ud800", "\x00", "é"]), st.integers(20_000, 120_000)).map(lambda t: t[0] * t[1]),
)
# Ids and names: the same characters, without the huge strings (a URL or a log line of 100 KB says nothing).
short_text = st.one_of(
    st.text(max_size=12), st.lists(st.one_of(st.characters(), _odd_characters), max_size=12).map("".join)
)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=10,
)


def deeply_nested(depth, opener="[", closer="]"):
    return opener * depth + closer * depth


raw_garbage = st.one_of(
    st.binary(max_size=64),
    st.just(b"\xff\xfe\xfd{}"),
    st.integers(900, 60_000).map(lambda depth: deeply_nested(depth).encode()),
    st.integers(900, 60_000).map(lambda depth: ('{"a":' * depth + "1" + "}" * depth).encode()),
    json_value.map(lambda value: json.dumps(value).encode()),
)


def paths(value, prefix=()):
    """Every place in a JSON body (as key/index paths), the body itself included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    return [replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


@st.composite
def near(draw, valid):
    """`valid` with one place replaced by any JSON value, or a key added, or left as it is."""
    body = draw(valid)
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return body
    if choice == 1:
        places = list(paths(body))
        return replaced(body, draw(st.sampled_from(places)), draw(json_value))
    dicts = [p for p in paths(body) if isinstance(_at(body, p), dict)]
    place = draw(st.sampled_from(dicts))
    return replaced(body, place, {**_at(body, place), draw(hostile_text): draw(json_value)})


def _at(value, path):
    for step in path:
        value = value[step]
    return value


def encoded(strategy):
    """JSON as the client's `requests.post(json=...)` writes it (lone surrogates and NUL escaped)."""
    return strategy.map(lambda body: json.dumps(body).encode())


block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, hostile_text),
    st.builds(lambda t: {"type": "thinking", "thinking": t}, hostile_text),
    st.builds(
        lambda i, n, a: {"type": "tool_use", "id": i, "name": n, "input": a},
        hostile_text,
        hostile_text,
        st.dictionaries(hostile_text, json_value, max_size=3),
    ),
    st.builds(
        lambda i, o: {"type": "tool_result", "id": i, "name": "f", "output": o},
        hostile_text,
        hostile_text | st.lists(st.builds(lambda t: {"type": "text", "text": t}, hostile_text), max_size=2),
    ),
    st.builds(
        lambda d: {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": d}}, hostile_text
    ),
    st.builds(lambda u: {"type": "video", "source": {"type": "url", "url": u}}, hostile_text),
    st.builds(lambda t, x: {"type": t, "x": x}, hostile_text, json_value),
)
msg_ids = st.sampled_from(["m1", "m2", "m3"]) | hostile_text
valid_push = st.builds(
    lambda mid, content, name, meta, reply, rname: push_body(
        msg(mid, content, name=name, metadata=meta), run_id=RUN, reply_id=reply, replyName=rname
    ),
    msg_ids,
    hostile_text | st.lists(block, max_size=4),
    hostile_text,
    st.none() | st.dictionaries(hostile_text, json_value, max_size=3),
    st.none() | st.sampled_from(["r1", "r2"]) | hostile_text,
    hostile_text,
)
schema = (
    st.none()
    | st.just({"type": "object", "properties": {"a": {"type": "string"}}})
    | st.dictionaries(
        st.sampled_from(["title", "type", "properties", "$ref", "description", "required"]) | hostile_text,
        json_value,
        max_size=4,
    )
)
valid_bodies = {
    "registerRun": st.builds(
        lambda name, ts, pid: run_body(RUN, "Fuzz", name=name, timestamp=ts, pid=pid),
        hostile_text,
        hostile_text,
        st.integers(min_value=-(2**70), max_value=2**70),
    ),
    "pushMessage": valid_push,
    "requestUserInput": st.builds(
        lambda rid, name, s: {**input_body(rid, RUN, s), "agentName": name},
        hostile_text.filter(bool),
        hostile_text,
        schema,
    ),
    "registerReply": st.builds(
        lambda rid, name: reply_body(rid, RUN, replyName=name), hostile_text.filter(bool), hostile_text
    ),
}
trpc_calls = st.sampled_from(sorted(valid_bodies)).flatmap(
    lambda procedure: st.tuples(st.just(procedure), encoded(near(valid_bodies[procedure])) | raw_garbage)
)

hex_id = st.binary(min_size=8, max_size=8).map(bytes.hex)
otlp_attribute = st.builds(
    lambda k, v: {"key": k, "value": v},
    hostile_text,
    st.builds(lambda s: {"stringValue": s}, hostile_text)
    | st.builds(lambda i: {"intValue": i}, st.integers())
    | json_value,
)
valid_otlp_json = st.builds(
    lambda trace, span, name, attributes, start: {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "fuzz"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": name},
                        "spans": [
                            {
                                "traceId": trace,
                                "spanId": span,
                                "name": name,
                                "startTimeUnixNano": start,
                                "endTimeUnixNano": start,
                                "attributes": [
                                    {"key": "gen_ai.conversation.id", "value": {"stringValue": json.dumps(RUN)}},
                                    *attributes,
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    },
    st.tuples(hex_id, hex_id).map("".join),
    hex_id,
    hostile_text,
    st.lists(otlp_attribute, max_size=4),
    st.integers(0, 2**64).map(str) | json_value,
)
protobuf_sample = protobuf_body(with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), "fuzz"), RUN))


@st.composite
def protobuf_bodies(draw):
    """The captured batch with bytes flipped, cut or inserted, or a batch with hostile (valid UTF-8) text."""
    kind = draw(st.integers(0, 2))
    body = bytearray(protobuf_sample)
    if kind == 0:
        for _ in range(draw(st.integers(1, 8))):
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
        return bytes(body)
    if kind == 1:
        cut = draw(st.integers(0, len(body)))
        return bytes(body[:cut]) + draw(st.binary(max_size=16))
    request = ExportTraceServiceRequest.FromString(protobuf_sample)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.span_id = draw(st.binary(min_size=8, max_size=8))
    text = draw(hostile_text).encode("utf-8", "replace").decode("utf-8")  # protobuf strings are UTF-8
    span.name = text
    span.attributes.add(key=text).value.string_value = text
    return request.SerializeToString()


otlp_calls = st.one_of(
    st.tuples(st.just("application/json"), encoded(near(valid_otlp_json)) | raw_garbage),
    st.tuples(st.just("application/x-protobuf"), protobuf_bodies() | st.binary(max_size=64)),
)
answer_bodies = (
    encoded(
        near(
            st.builds(
                lambda blocks, structured: {"blocks": blocks, "structured": structured},
                st.lists(block, max_size=3),
                st.none() | st.dictionaries(hostile_text, json_value, max_size=3),
            )
        )
    )
    | raw_garbage
)

# ---- what must hold ----


def kept_data(client):
    """A run stored before the fuzzing, with every kind of row."""
    register(client, KEPT, "Kept")
    for index in range(3):
        body = push_body(msg(f"kept-{index}", [{"type": "text", "text": f"kept {index}"}]), run_id=KEPT)
        assert call(client, "pushMessage", body).status_code == 200
    assert call(client, "requestUserInput", input_body("kept-q", KEPT)).status_code == 200
    spans = protobuf_body(with_run_id(fresh_ids(capture_spans("agentscope-1.0.21.jsonl"), "kept"), KEPT))
    assert client.post("/v1/traces", spans, content_type="application/x-protobuf").status_code == 200


def snapshot(run_id):
    fields = {
        Run: ["id", "name", "project_id", "status"],
        Reply: ["reply_id", "name", "role"],
        Message: ["msg_id", "name", "role", "content", "metadata"],
        InputRequest: ["request_id", "status", "structured_input", "answer_blocks"],
        Span: ["trace_id", "span_id", "name", "attributes"],
    }
    key = {Run: "pk"}
    return {
        model.__name__: list(model.objects.filter(**{key.get(model, "run_id"): run_id}).order_by("pk").values(*names))
        for model, names in fields.items()
    }


def assert_no_server_error(response, what):
    assert response.status_code < 500, (what, response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/"), (what, response["Content-Type"])


@pytest.fixture
def fuzz_ground(client):
    kept_data(client)
    register(client, RUN, "Fuzz")
    for index in range(3):
        assert call(client, "requestUserInput", input_body(f"waiting-{index}", RUN)).status_code == 200
    before = snapshot(KEPT)
    yield client
    assert snapshot(KEPT) == before
    assert_run_pages_render(client, KEPT)


@pytest.mark.django_db
def test_generated_trpc_calls_never_fail_the_server_or_a_page(fuzz_ground):
    client = fuzz_ground

    @FUZZ
    @given(trpc_calls)
    def one(procedure_and_body):
        procedure, body = procedure_and_body
        response = call(client, procedure, body)
        assert_no_server_error(response, procedure)
        if Run.objects.filter(pk=RUN).exists():
            assert_run_pages_render(client, RUN, latest=3)

    one()


@pytest.mark.django_db
def test_generated_otlp_exports_never_fail_the_server_or_a_page(fuzz_ground):
    client = fuzz_ground

    @FUZZ
    @given(otlp_calls)
    def one(type_and_body):
        content_type, body = type_and_body
        assert_no_server_error(client.post("/v1/traces", body, content_type=content_type), content_type)
        assert_run_pages_render(client, RUN, latest=3)

    one()


@through_async_views
def test_generated_answers_over_http_never_fail_the_server_or_a_page(fuzz_ground):
    client = fuzz_ground

    @FUZZ
    @given(st.sampled_from(["waiting-0", "waiting-1", "waiting-2", "nope"]) | short_text.filter(bool), answer_bodies)
    def one(request_id, body):
        # A lone surrogate reaches a URL as the bytes a lax client would encode it to (%ED%A0%80).
        quoted = requests.utils.quote(request_id.encode("utf-8", "surrogatepass"), safe="")
        response = client.generic(
            "POST", f"/api/runs/{RUN}/inputs/{quoted}/answer", body, content_type="application/json"
        )
        assert_no_server_error(response, request_id)
        assert_run_pages_render(client, RUN, latest=3)

    one()


# ---- against a real server: the page socket and the agents' Socket.IO handshake ----

page_frames = st.one_of(
    encoded(
        near(
            st.builds(
                lambda rid, blocks, structured: {
                    "type": "answer",
                    "requestId": rid,
                    "blocks": blocks,
                    "structured": structured,
                },
                st.sampled_from(["w-0", "w-1", "nope"]) | hostile_text,
                st.lists(block, max_size=3) | json_value,
                st.none() | json_value,
            )
        )
    ).map(lambda body: body.decode()),
    raw_garbage.map(lambda body: body.decode("utf-8", "replace")),
    raw_garbage,
)


@pytest.mark.e2e
def test_generated_page_socket_frames_never_close_the_socket_or_fail_a_page(studio):
    run_id = served_run(studio, "FuzzSockets", name="f", pid=1)
    for _ in range(2):
        served_question(studio, run_id, agent_name="a")
    headers = {"Origin": studio.url}
    with connect(
        f"{studio.url.replace('http', 'ws', 1)}/ws/runs/{run_id}/",
        additional_headers=headers,
        open_timeout=10,
        max_size=None,
    ) as socket:

        @FUZZ
        @given(page_frames)
        def one(frame):
            socket.send(frame)
            while True:  # every frame is answered (live HTML updates may come first)
                reply = json.loads(socket.recv(timeout=30))
                if reply["type"] != "html":
                    break
            assert reply["type"] in ("error", "answer.rejected", "answer.accepted"), reply

        one()
    for path in (f"/projects/FuzzSockets/runs/{run_id}/", f"/runs/{run_id}/details/"):
        assert requests.get(studio.url + path, timeout=10).status_code == 200, path


socketio_auth = st.one_of(
    json_value, st.dictionaries(st.sampled_from(["run_id", "token"]) | hostile_text, json_value, max_size=3)
)


@pytest.mark.e2e
def test_generated_socketio_handshakes_never_fail_the_server(studio):
    polling = f"{studio.url}/socket.io/?EIO=4&transport=polling"

    @FUZZ
    @given(
        st.one_of(
            socketio_auth.map(json.dumps).map(lambda auth: ("40/python," + auth, auth[0] not in "-0123456789")),
            raw_garbage.map(lambda body: (body.decode("utf-8", "replace"), False)),
        )
    )
    def one(packet_and_answered):
        packet, answered = packet_and_answered
        opened = requests.get(polling, timeout=10)  # also: the server is still there after the last one
        assert opened.status_code == 200 and opened.text.startswith("0{"), opened.text[:200]
        sid = json.loads(opened.text[1:])["sid"]
        sent = requests.post(f"{polling}&sid={sid}", data=packet.encode("utf-8", "surrogatepass"), timeout=10)
        assert sent.status_code < 500, (packet[:200], sent.status_code)
        # A connect packet the server took (not one past max_http_buffer_size) is answered at once:
        # connected (40) or refused (44). Digits after the namespace are an ack id in Socket.IO's
        # packets, so a number as `auth` makes no connect packet at all, and gets no answer.
        if answered and sent.status_code == 200:
            answer = requests.get(f"{polling}&sid={sid}", timeout=10)
            assert answer.status_code == 200 and answer.text.startswith(("40/python", "44/python")), answer.text[:200]

    one()
    assert requests.get(studio.url + "/", timeout=10).status_code == 200
