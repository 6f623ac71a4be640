"""A person's answer to an agent's input request: checked, recorded, then delivered.

The answer is stored first (so nothing is lost if the agent is away), then emitted as
forwardUserInput(requestId, blocks, structured) to the run's /python sockets with an ack.
The request counts as delivered only when the agent acknowledges; an agent that reconnects
gets every answered-but-unacknowledged request of its run again.
"""

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from studio import live
from studio.db import writing
from studio.rejected import Rejected

from . import events
from .agent_socket import NAMESPACE, run_room, sio
from .content import validate_content
from .models import InputRequest, Run

log = logging.getLogger(__name__)

MAX_ANSWER_BLOCKS = 32


def structured_errors(schema, value):
    """Field path ("address.city") -> first error message, for showing beside form fields."""
    errors = {}
    for error in Draft202012Validator(schema).iter_errors(value):
        path = list(error.absolute_path)
        if error.validator == "required":
            # "'x' is a required property" belongs to the missing field, not its parent.
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = [*path, missing]
        key = ".".join(str(p) for p in path)
        errors.setdefault(key, error.message)
    return errors


def answer_size(blocks, structured):
    """The UTF-8 bytes of the answer's compact JSON: what the page measures (app.js) before sending."""
    text = json.dumps([blocks, structured], ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def check_answer_size(size):
    if size > settings.STUDIO_MAX_ANSWER_BYTES:
        raise Rejected(too_large_message(size), status=413, errors={"blocks": "too large"})


def too_large_message(size):
    limit = settings.STUDIO_MAX_ANSWER_BYTES / 1048576
    return f"The answer is {size / 1048576:.1f} MB; at most {limit:g} MB can be sent to an agent"


def record_answer(run_id, request_id, blocks, structured, answered_by="", refusal=None):
    """Store the answer of a pending request of run `run_id`; raise Rejected if it cannot be taken.

    `refusal`, if given, says (sync, as the answer is taken) why its sender may not answer, or
    None. The pages are told by `answer`, after the agent has been sent the answer."""
    reason = refusal() if refusal is not None else None
    if reason:
        raise Rejected(reason, status=403)
    if not isinstance(blocks, list) or len(blocks) > MAX_ANSWER_BLOCKS:
        raise Rejected(
            f"blocks must be a list of at most {MAX_ANSWER_BLOCKS} content blocks", errors={"blocks": "invalid"}
        )
    check_answer_size(answer_size(blocks, structured))
    validate_content(blocks, "blocks")
    with writing():
        # The run's row is locked too: two answers to one run's requests decide its status in turn.
        try:
            request = (
                InputRequest.objects.select_for_update().select_related("run").get(request_id=request_id, run_id=run_id)
            )
        except InputRequest.DoesNotExist:
            raise Rejected(f"This run has no input request '{request_id}'", status=404) from None
        if request.status != InputRequest.Status.PENDING:
            raise Rejected("This request has already been answered", status=409)
        if request.structured_input is not None:
            if structured is None:
                raise Rejected("This request needs the form filled in", errors={"": "required"})
            try:
                errors = structured_errors(request.structured_input, structured)
            except (Unresolvable, SchemaError, RecursionError, ValueError) as exc:
                # Requests stored before their schemas were checked on arrival.
                raise Rejected(f"The agent's schema cannot be checked: {exc}", errors={"": "unchecked"}) from exc
            if errors:
                raise Rejected("Some fields need attention", errors=errors)
        else:
            structured = None
        request.record_answer(blocks, structured, answered_by, timezone.now())
        Run.objects.resume_if_answered(request.run)
    return request


async def deliver(request):
    """Emit the recorded answer to the run's agent sockets; the ack marks it delivered."""
    loop = asyncio.get_running_loop()

    def on_ack(*_):
        loop.create_task(database_sync_to_async(InputRequest.objects.acknowledged)(request.pk))

    args = (request.request_id, request.answer_blocks or [], request.answer_structured)
    await sio.emit("forwardUserInput", args, room=run_room(request.run_id), namespace=NAMESPACE, callback=on_ack)


# The page sockets' answers are recorded here, not on the one thread all pages render on: a
# person's answer must not queue behind renders. One thread, so one database connection.
_answer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-answers")


async def answer(run_id, request_id, blocks, structured, answered_by="", from_page_socket=False, refusal=None):
    """Record the answer, send it to the agent, then tell the pages.

    Shielded: once recorded, the answer reaches the agent and the pages even if the caller is
    cancelled (an HTTP client that went away).
    """
    if from_page_socket:
        record = database_sync_to_async(record_answer, thread_sensitive=False, executor=_answer_thread)
    else:
        record = database_sync_to_async(record_answer)
    return await asyncio.shield(
        _record_and_deliver(record, run_id, request_id, blocks, structured, answered_by, refusal)
    )


async def _record_and_deliver(record, *args):
    request = await record(*args)
    try:
        await deliver(request)
    finally:
        # After the emit: the agent waits for the answer, the pages' re-renders can follow. The
        # answer is recorded and sent: a failure to tell the pages is logged, not the caller's.
        for change in (events.input_changed(request.run, request.pk), events.run_changed(request.run)):
            try:
                await live.publish(change)
            except Exception:
                log.exception("telling the pages about answer %r failed", request.request_id)
    return request


# An answer not acknowledged this long after it was given is sent again to a connected agent.
# The client ignores a request id it no longer waits for, so a second copy is harmless.
REDELIVER_AFTER = timedelta(seconds=5)


async def redeliver_unacknowledged():
    def stale():
        return list(InputRequest.objects.unacknowledged(answered_before=timezone.now() - REDELIVER_AFTER)[:100])

    for request in await database_sync_to_async(stale)():
        log.info("answer %s to run %s not acknowledged; sending it again", request.request_id, request.run_id)
        await deliver(request)


async def redeliver_pending(run_id):
    requests = await database_sync_to_async(lambda: list(InputRequest.objects.unacknowledged(run_id=run_id)))()
    for request in requests:
        log.info("redelivering answer %s to run %s", request.request_id, run_id)
        await deliver(request)
