"""The one place tests make their data, with plain functions.

Two ways, and each function says which:

- Through the real code path, as an agent does: `register`, `push` and `call` POST the
  client's bodies (`run_body`, `push_body`, ...) to /trpc/* with the Django test client;
  `replay_trpc` and `replay_capture` post a recorded session; `served_run` and
  `served_question` post to a real server. For tests of what agents send, or of what follows.
- Through the ORM (`make_*`): rows written directly, for tests about what reads them (pages,
  answers, the admin), where the API would be noise, or too slow for 10,000 messages.
"""

import itertools
import json
import uuid

from projects.models import Project
from runs.models import InputRequest, Message, Reply, Run
from tests.support.captures import capture_spans, trpc_calls
from tests.traces.bodies import protobuf_body

_ids = itertools.count(1)


def new_id(prefix):
    return f"{prefix}-{next(_ids)}"


def call(client, procedure, body, path=None):
    """POST a JSON body to /trpc/<procedure> as the client's `requests.post(json=...)` does."""
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.generic("POST", path or f"/trpc/{procedure}", payload, content_type="application/json")


def run_body(run_id="run-1", project="Project", **fields):
    return {
        "id": run_id,
        "project": project,
        "name": "fake_run",
        "timestamp": "2026-11-23 18:49:34.683",
        "pid": 20663,
        "status": "running",
        "run_dir": "",
        **fields,
    }


def msg(msg_id=None, content="Hello", name="Friday", role="assistant", **fields):
    return {
        "id": msg_id or new_id("msg"),
        "name": name,
        "role": role,
        "content": content,
        "metadata": {},
        "timestamp": "2026-11-23 18:49:36.145",
        **fields,
    }


def push_body(message=None, run_id="run-1", reply_id="reply-1", **fields):
    message = message or msg()
    return {
        "runId": run_id,
        "replyId": reply_id,
        "replyName": message["name"],
        "replyRole": message["role"],
        "msg": message,
        **fields,
    }


def legacy_push_body(message, run_id="run-1", reply_id="reply-1"):
    """agentscope 1.0.0 - 1.0.8: name/role instead of replyName/replyRole, metadata null."""
    return {
        "runId": run_id,
        "replyId": reply_id,
        "name": message["name"],
        "role": message["role"],
        "msg": {**message, "metadata": None},
    }


def input_body(request_id="q-1", run_id="run-1", schema=None):
    return {
        "requestId": request_id,
        "runId": run_id,
        "agentId": "agent-1",
        "agentName": "user",
        "structuredInput": schema,
    }


def reply_body(reply_id="reply-1", run_id="run-1", **fields):
    return {"runId": run_id, "replyId": reply_id, "replyName": "Friday", "replyRole": "assistant", **fields}


def register(client, run_id="run-1", project="Project", **fields):
    """The run, registered through registerRun as agentscope.init() does; its row."""
    response = call(client, "registerRun", run_body(run_id, project, **fields))
    assert response.status_code == 200, response.content
    return Run.objects.get(pk=run_id)


def push(client, *args, **kwargs):
    response = call(client, "pushMessage", push_body(*args, **kwargs))
    assert response.status_code == 200, response.content
    return response


def assert_error(response, status, procedure, field=None, says=None):
    """A tRPC error envelope with this status, naming the procedure (and the field, if any).

    `response` is the Django test client's or, from a real server, requests'."""
    assert response.status_code == status, response.content
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["data"]["httpStatus"] == status
    assert error["data"]["path"] == procedure
    assert isinstance(error["code"], int) and error["message"]
    if field is not None:
        assert error["data"].get("field") == field, error
    if says is not None:
        assert says in error["message"], error
    return error


def replay_trpc(client, name):
    """A real client's recorded tRPC calls, posted in order, each answered as it was then; the calls."""
    calls = trpc_calls(name)
    for record in calls:
        response = client.generic("POST", record["path"], json.dumps(record["body"]), content_type="application/json")
        assert response.status_code == record["answered"] == 200, (record["path"], response.content)
        assert response.json() == {"result": {}}
    return calls


def replay_capture(client, name="agentscope-1.0.21.jsonl"):
    """A real client's session, through the API: its recorded tRPC calls, then its spans; the run."""
    [run_id] = [record["body"]["id"] for record in replay_trpc(client, name) if record["path"].endswith("/registerRun")]
    client.post("/v1/traces", data=protobuf_body(capture_spans(name)), content_type="application/x-protobuf")
    return Run.objects.get(pk=run_id)


# ---- on a real server (tests/support/server.py), through its /trpc endpoints ----


def served_run(server, project="Project", **fields):
    """A new run registered on a real server, as an agent registers it; its id."""
    run_id = uuid.uuid4().hex[:16]
    response = server.post("registerRun", run_body(run_id, project, **fields))
    assert response.status_code == 200 and response.json() == {"result": {}}, response.text
    return run_id


def served_question(server, run_id, agent_name="alice", schema=None):
    """A question asked on a real server by a user agent of the run; its request id."""
    request_id = uuid.uuid4().hex[:12]
    body = {**input_body(request_id, run_id, schema), "agentId": "a", "agentName": agent_name}
    response = server.post("requestUserInput", body)
    assert response.status_code == 200 and response.json() == {"result": {}}, response.text
    return request_id


# ---- through the ORM ----


def make_project(name="Project", **runs_by_status):
    """A project, with `count` runs of each status given (`running=2, finished=1`)."""
    project, _ = Project.objects.get_or_create(name=name)
    for status, count in runs_by_status.items():
        for i in range(count):
            make_run(f"{name}-{status}-{i}", project, status=status)
    return project


def make_run(run_id="run-1", project="Project", **fields):
    """A run in `project` (a Project, or the name of one, made if new)."""
    if not isinstance(project, Project):
        project = make_project(project)
    return Run.objects.create(id=run_id, project=project, **fields)


def make_reply(run, reply_id="r", name="Friday", role="assistant"):
    return Reply.objects.create(run=run, reply_id=reply_id, name=name, role=role)


def make_message(reply, msg_id="m", content=(), name=None, role=None, **fields):
    """A message of the reply, by the reply's agent unless `name` and `role` say otherwise."""
    return Message.objects.create(
        run=reply.run,
        reply=reply,
        msg_id=msg_id,
        name=reply.name if name is None else name,
        role=reply.role if role is None else role,
        content=list(content),
        **fields,
    )


def make_question(run, request_id="q1", agent_name="user", schema=None):
    """A pending input request of the run."""
    return InputRequest.objects.create(request_id=request_id, run=run, agent_name=agent_name, structured_input=schema)
