"""Bodies as the agentscope client sends them, and a way to post them like it does."""

import itertools
import json

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
    response = call(client, "registerRun", run_body(run_id, project, **fields))
    assert response.status_code == 200, response.content
    return response


def push(client, *args, **kwargs):
    response = call(client, "pushMessage", push_body(*args, **kwargs))
    assert response.status_code == 200, response.content
    return response


def assert_error(response, status, procedure, field=None, says=None):
    """A tRPC error envelope with this status, naming the procedure (and the field, if any)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["data"]["httpStatus"] == status
    assert error["data"]["path"] == procedure
    assert isinstance(error["code"], int) and error["message"]
    if field is not None:
        assert error["data"].get("field") == field, error
    if says is not None:
        assert says in error["message"], error
    return error
