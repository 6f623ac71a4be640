"""The run page and the fragments htmx loads into it."""

import base64
import binascii

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from projects import access
from projects.models import Project
from studio import live, storable
from studio.db import writing
from studio.htmx import render_page
from studio.rejected import Rejected

from . import answers, chat, content, events, search
from .models import Message, Reply, Run

RUNS_PER_PAGE = 50
GROUP_COOKIE = "studio_group"


def run_url(run):
    return reverse("run", args=[run.project.name, run.pk])


def _group_mode(request):
    """?group= wins and is remembered in a cookie; else the cookie; else by reply."""
    mode = request.GET.get("group") or request.COOKIES.get(GROUP_COOKIE) or chat.GROUP_BY_REPLY
    return mode if mode in (chat.GROUP_BY_REPLY, chat.GROUP_BY_MESSAGE) else chat.GROUP_BY_REPLY


def _int_param(request, name):
    value = request.GET.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise Http404(f"{name} must be a number") from None


def project_runs(project, query="", before=None):
    runs = Run.objects.filter(project=project).select_related("project")
    if query:
        runs = runs.filter(name__icontains=query) | runs.filter(pk__icontains=query)
    if before is not None:
        runs = runs.filter(started_at__lt=before)
    runs = list(runs.order_by("-started_at")[: RUNS_PER_PAGE + 1])
    return runs[:RUNS_PER_PAGE], len(runs) > RUNS_PER_PAGE


def _may(request, project):
    """What the page offers this person: the buttons and forms they may use (the actions check
    again when used)."""
    required = access.login_required(request)
    return {
        "may_answer": access.may(request.user, project, access.ANSWER, required),
        "may_manage": access.may(request.user, project, access.MANAGE, required),
        "team_mode": required,
    }


def _viewable_run(request, run_id, queryset=Run.objects):
    run = get_object_or_404(queryset, pk=run_id)
    access.require(request, run.project_id, access.VIEW)
    return run


def run_page(request, project_name, run_id=None):
    """A project's runs on the left; the chosen run's chat in the centre, its details on the right."""
    project = get_object_or_404(Project, name=project_name)
    access.require(request, project, access.VIEW)
    run = None
    if run_id is not None:
        run = Run.objects.filter(pk=run_id).select_related("project").first()
        if run is None:
            raise Http404("No such run")
        if run.project_id != project.pk:
            return redirect(run_url(run))
    query = request.GET.get("q", "").strip()
    runs, more_runs = project_runs(project, query)
    group = _group_mode(request)
    context = {
        "project": project,
        "run": run,
        "runs": runs,
        "more_runs": more_runs,
        "q": query,
        "group": group,
        "current_run_id": run.pk if run else "",
        **_message_hits(project, query),
        **_may(request, project),
    }
    if run is not None:
        # A search result links to one message (?message=<pk>#msg-<pk>): the chat opens on it.
        found = _found_message(run, _int_param(request, "message"))
        # Beyond the newest page, the page that ends at it, and a way back to the newest.
        has_newer = found is not None and chat.has_newer(run, group, found)
        if group == chat.GROUP_BY_MESSAGE:
            context["messages"], context["has_older"] = chat.messages_page(run, found.pk + 1 if has_newer else None)
        else:
            before = found.reply_id + 1 if has_newer else None
            context["replies"], context["has_older"] = chat.replies_page(run, before)
        context["found"], context["has_newer"] = found, has_newer
        context["pending"] = chat.pending_requests(run)
    response = render_page(request, "runs/run.html", context)
    if "group" in request.GET:
        response.set_cookie(GROUP_COOKIE, group, max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _message_hits(project, query, cursor=None):
    """The messages of the project holding the words searched for (runs/search.py)."""
    if not query:
        return {}
    results = search.search(project, query, cursor=cursor)
    return {"hits": results.hits, "hits_next": results.next_cursor}


def _found_message(run, message_pk):
    """The message of this run a link points to, if any."""
    if message_pk is None:
        return None
    return Message.objects.filter(pk=message_pk, run=run).only("pk", "reply_id").first()


@require_GET
def message_hits_more(request, project_pk):
    """The next page of the sidebar's "Messages containing …"."""
    project = get_object_or_404(Project, pk=project_pk)
    access.require(request, project, access.VIEW)
    query = request.GET.get("q", "").strip()
    try:
        context = _message_hits(project, query, cursor=request.GET.get("cursor"))
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    return render(request, "runs/run.html#message-hits", {"project": project, "q": query, **context})


@require_GET
def run_list_more(request, project_pk):
    """The next page of the sidebar's run list."""
    project = get_object_or_404(Project, pk=project_pk)
    access.require(request, project, access.VIEW)
    before = request.GET.get("before")
    try:
        before = timezone.datetime.fromisoformat(before) if before else None
    except ValueError:
        return HttpResponseBadRequest("before must be an ISO time")
    runs, more_runs = project_runs(project, request.GET.get("q", "").strip(), before)
    current = request.GET.get("current", "")
    context = {
        "project": project,
        "runs": runs,
        "more_runs": more_runs,
        "q": request.GET.get("q", ""),
        "current_run_id": current,
        **_may(request, project),
    }
    return render(request, "runs/run.html#run-rows", context)


@require_GET
def older(request, run_id):
    """The chat page before the oldest one shown (loaded when the top comes into view)."""
    run = _viewable_run(request, run_id)
    before = _int_param(request, "before")
    group = _group_mode(request)
    context = {"run": run, "group": group}
    if group == chat.GROUP_BY_MESSAGE:
        context["messages"], context["has_older"] = chat.messages_page(run, before)
    else:
        context["replies"], context["has_older"] = chat.replies_page(run, before)
    return render(request, "runs/run.html#chat-page", context)


@require_GET
def earlier_messages(request, run_id, reply_pk):
    reply = get_object_or_404(Reply.objects.select_related("run"), pk=reply_pk, run_id=run_id)
    access.require(request, reply.run.project_id, access.VIEW)
    before = _int_param(request, "before")
    if before is None:
        return HttpResponseBadRequest("before (a message's id) is needed")
    messages, has_older = chat.earlier_messages(reply, before)
    return render(
        request,
        "runs/run.html#earlier-messages",
        {"reply": reply, "messages": messages, "has_older": has_older, "run": reply.run},
    )


@require_GET
def run_details(request, run_id):
    run = _viewable_run(request, run_id, Run.objects.select_related("project"))
    return render(request, "runs/run.html#run-details", {"run": run, "counts": chat.run_counts(run)})


@require_GET
def message_inspector(request, run_id, message_pk):
    message = get_object_or_404(Message.objects.select_related("reply", "run"), pk=message_pk, run_id=run_id)
    access.require(request, message.run.project_id, access.VIEW)
    return render(request, "runs/run.html#inspector", {"message": message})


@require_GET
def message_json(request, run_id, message_pk):
    """The whole message as stored, however long (the page cuts long text and JSON)."""
    message = get_object_or_404(Message.objects.select_related("reply", "run"), pk=message_pk, run_id=run_id)
    access.require(request, message.run.project_id, access.VIEW)
    body = {
        "id": message.msg_id,
        "name": message.name,
        "role": message.role,
        "content": message.content,
        "metadata": message.metadata,
        "usage": message.usage,
        "timestamp": message.client_timestamp,
        "replyId": message.reply.reply_id,
        "runId": message.run_id,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False, "indent": 1})
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="message-{message.pk}.json"'
    return response


# Served with their own type only when it is a media type; anything else is a download.
_INLINE_TYPES = ("image/", "audio/", "video/")


@require_GET
def message_media(request, run_id, message_pk, path):
    """A base64 media block of a message, served as a file so the page stays small."""
    message = get_object_or_404(Message.objects.select_related("run"), pk=message_pk, run_id=run_id)
    access.require(request, message.run.project_id, access.VIEW)
    block = _block_at(message.blocks, path)
    source = block.get("source") if isinstance(block, dict) else None
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise Http404("No base64 media at that place")
    try:
        data = base64.b64decode(source.get("data", ""), validate=False)
    except (binascii.Error, ValueError):
        raise Http404("The media data is not valid base64") from None
    media_type = str(source.get("media_type") or "application/octet-stream")
    if not media_type.startswith(_INLINE_TYPES) or media_type == "image/svg+xml":
        media_type = "application/octet-stream"
    response = HttpResponse(data, content_type=media_type)
    response["X-Content-Type-Options"] = "nosniff"
    # Whatever the bytes are, they never run as a document of this origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _block_at(blocks, path):
    """Block "3" or, inside a tool result or a hint, "3.1"."""
    try:
        indexes = [int(part) for part in path.split(".")]
        block = blocks[indexes[0]]
        for index in indexes[1:]:
            block = block[content.INNER_BLOCKS[block["type"]]][index]
        return block
    except (ValueError, IndexError, KeyError, TypeError):
        raise Http404("No block at that place") from None


@require_POST
def delete_run(request, run_id):
    run = get_object_or_404(Run.objects.select_related("project"), pk=run_id)
    project = run.project
    access.require(request, project, access.MANAGE)
    with writing():
        run.delete()
        live.publish_on_commit(events.run_deleted(run_id, project.pk))
    if request.htmx:
        response = HttpResponse("")
        if request.POST.get("current") == "1":
            response["HX-Redirect"] = reverse("project", args=[project.name])
        return response
    return redirect("project", project.name)


def _body_size(request):
    """The declared size of the body, else its size as read (a chunked request has no length)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit():
        return int(declared)
    try:
        return len(request.body)
    except RequestDataTooBig:  # past DATA_UPLOAD_MAX_MEMORY_SIZE, far past the answer limit
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1


def _answered_by_locally(body):
    return body.get("by") if isinstance(body.get("by"), str) else "http"


def _answering_refused(request, run_id):
    """(a JSON refusal or None, the person's username): may this person answer this run?"""
    project_id = Run.objects.filter(pk=run_id).values_list("project_id", flat=True).first()
    try:
        if project_id is None:
            raise Http404("No such run")
        access.require(request, project_id, access.ANSWER)
    except Http404:
        return JsonResponse({"error": f"No run '{run_id}'"}, status=404), None
    except PermissionDenied as exc:
        return JsonResponse({"error": str(exc) or "Your role may not answer"}, status=403), None
    return None, request.user.get_username()


@csrf_exempt
@require_POST
async def answer_input(request, run_id, request_id):
    """POST an answer as the page does (docs/WEBSOCKET.md): {"blocks": [...], "structured": {...}}.

    JSON only: a cross-site form cannot send application/json without a CORS preflight, which
    this server never grants, so no page elsewhere can answer an agent through a visitor.

    In team mode the answer needs the member role in the run's project (the middleware has sent
    an anonymous request its 401) and is recorded as the logged-in person's; locally, as before,
    as the body's "by" or "http".
    """
    answered_by = None
    if access.login_required(request):
        refusal, answered_by = await sync_to_async(_answering_refused)(request, run_id)
        if refusal is not None:
            return refusal
    try:
        blocks, structured, by = answer_of(request)
        await answers.answer(
            run_id, request_id, blocks, structured, answered_by=answered_by if answered_by is not None else by
        )
    except Rejected as exc:
        return JsonResponse({"error": exc.message, "errors": exc.errors}, status=exc.status)
    return JsonResponse({"ok": True, "requestId": request_id})


def answer_of(request):
    """(blocks, structured, who it says it is) of an answer's JSON body, or Rejected.

    The same for this endpoint and the API's (runs/api.py)."""
    if request.content_type != "application/json":
        raise Rejected("Content-Type must be application/json", 415)
    size = _body_size(request)
    if size > settings.STUDIO_MAX_ANSWER_FRAME_BYTES:
        raise Rejected(answers.too_large_message(size), 413, errors={"blocks": "too large"})
    try:
        body = storable.loads(request.body)
    except ValueError as exc:
        raise Rejected(f"Invalid JSON: {exc}") from None
    except RecursionError:
        raise Rejected("Invalid JSON: nested too deeply") from None
    if not isinstance(body, dict):
        raise Rejected("The body must be a JSON object", errors={"": "must be an object"})
    blocks = body.get("blocks")
    if blocks is None and isinstance(body.get("text"), str):
        blocks = [{"type": "text", "text": body["text"]}]
    return (blocks if blocks is not None else []), body.get("structured"), _answered_by_locally(body)
