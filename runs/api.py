"""The API's runs: the run list (filters, cursor pages), a run, its chat in order, its input
requests and their answers, and run bundles out and in (runs/bundles.py)."""

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Count
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from projects import access
from projects.models import Project
from studio.api import READ_ERRORS, ApiView, cursor, errors
from studio.rejected import Rejected

from . import answers, bundles, search
from .models import InputRequest, Message, Reply, Run
from .views import answer_of


class RunSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name", read_only=True)
    agents_connected = serializers.IntegerField(source="agent_sockets", read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "project",
            "project_name",
            "name",
            "status",
            "origin",
            "pid",
            "run_dir",
            "client_timestamp",
            "started_at",
            "last_activity_at",
            "finished_at",
            "agents_connected",
        ]


class RunFilters(serializers.Serializer):
    """The run list's query parameters; a bad one is a 400 naming it."""

    project = serializers.IntegerField(required=False, min_value=1, help_text="A project's id")
    status = serializers.ChoiceField(choices=Run.Status.choices, required=False)
    started_after = serializers.DateTimeField(required=False, help_text="ISO 8601; runs started at or after it")
    started_before = serializers.DateTimeField(required=False, help_text="ISO 8601; runs started before it")


def viewable_run(request, run_id, needed=access.VIEW):
    run = get_object_or_404(Run.objects.select_related("project"), pk=run_id)
    access.require(request, run.project_id, needed)
    return run


@extend_schema(
    tags=["runs"], parameters=[RunFilters], responses={200: RunSerializer(many=True), **errors(*READ_ERRORS)}
)
class RunList(ApiView, ListAPIView):
    """Runs you may see, newest first; by project, status and start time."""

    serializer_class = RunSerializer
    pagination_class = cursor("-started_at")

    def get_queryset(self):
        filters = RunFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        runs = Run.objects.select_related("project").filter(project__in=access.visible_to(self.request))
        if "project" in given:
            runs = runs.filter(project_id=given["project"])
        if "status" in given:
            runs = runs.filter(status=given["status"])
        if "started_after" in given:
            runs = runs.filter(started_at__gte=given["started_after"])
        if "started_before" in given:
            runs = runs.filter(started_at__lt=given["started_before"])
        return runs


@extend_schema(tags=["runs"], responses={200: RunSerializer, **errors(*READ_ERRORS)})
class RunDetail(ApiView):
    """One run."""

    def get(self, request, run_id):
        return Response(RunSerializer(viewable_run(request, run_id)).data)


class ReplySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="reply_id", help_text="The client's reply id")
    message_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Reply
        fields = ["id", "name", "role", "created_at", "updated_at", "message_count"]


class RunChild(ApiView, ListAPIView):
    """A list of one run's things (its chat, requests, spans), in the run's order."""

    def get_queryset(self):
        self.run = viewable_run(self.request, self.kwargs["run_id"])
        return self.rows(self.run)


@extend_schema(tags=["runs"], responses={200: ReplySerializer(many=True), **errors(*READ_ERRORS)})
class ReplyList(RunChild):
    """A run's replies in order (as its page shows them, oldest first)."""

    serializer_class = ReplySerializer
    pagination_class = cursor("pk")

    def rows(self, run):
        return Reply.objects.filter(run=run).annotate(message_count=Count("messages"))


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="msg_id", help_text="The client's msg.id")
    reply_id = serializers.CharField(source="reply.reply_id", read_only=True)
    content = serializers.JSONField(help_text="A string or a list of content blocks, media inline (base64)")
    metadata = serializers.JSONField(allow_null=True)
    usage = serializers.JSONField(allow_null=True)
    timestamp = serializers.CharField(source="client_timestamp")

    class Meta:
        model = Message
        fields = [
            "id",
            "reply_id",
            "name",
            "role",
            "content",
            "metadata",
            "usage",
            "timestamp",
            "created_at",
            "updated_at",
        ]


@extend_schema(
    tags=["runs"],
    parameters=[OpenApiParameter("reply", str, description="Only this reply's messages (its id)")],
    responses={200: MessageSerializer(many=True), **errors(*READ_ERRORS)},
)
class MessageList(RunChild):
    """A run's messages in order (a streaming message is there once, as last sent)."""

    serializer_class = MessageSerializer
    pagination_class = cursor("pk")

    def rows(self, run):
        messages = Message.objects.filter(run=run).select_related("reply")
        reply = self.request.query_params.get("reply")
        if reply is not None:
            messages = messages.filter(reply__reply_id=reply)
        return messages


class InputRequestSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="request_id", help_text="The agent's request id")
    run = serializers.CharField(source="run_id", read_only=True)
    structured_input = serializers.JSONField(allow_null=True, help_text="The JSON Schema of the form, or null")
    answer_blocks = serializers.JSONField(allow_null=True)
    answer_structured = serializers.JSONField(allow_null=True)

    class Meta:
        model = InputRequest
        fields = [
            "id",
            "run",
            "agent_id",
            "agent_name",
            "structured_input",
            "status",
            "created_at",
            "answered_at",
            "answered_by",
            "answer_blocks",
            "answer_structured",
            "delivered_at",
        ]


class InputFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=InputRequest.Status.choices, required=False)


@extend_schema(
    tags=["runs"], parameters=[InputFilters], responses={200: InputRequestSerializer(many=True), **errors(*READ_ERRORS)}
)
class InputRequestList(RunChild):
    """A run's input requests in order, with their answers."""

    serializer_class = InputRequestSerializer
    pagination_class = cursor("pk")

    def rows(self, run):
        filters = InputFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        requests = InputRequest.objects.filter(run=run)
        if "status" in filters.validated_data:
            requests = requests.filter(status=filters.validated_data["status"])
        return requests


class AnswerSerializer(serializers.Serializer):
    blocks = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Content blocks (text, image, ...)"
    )
    text = serializers.CharField(required=False, help_text="A plain answer: one text block")
    structured = serializers.JSONField(required=False, help_text="The form's object, for a structured request")


@extend_schema(
    tags=["runs"],
    request={"application/json": AnswerSerializer},
    responses={
        200: inline_serializer("Answered", {"ok": serializers.BooleanField(), "requestId": serializers.CharField()}),
        **errors(400, 401, 403, 404, 409, 413, 415),
    },
)
class AnswerInput(ApiView):
    """Answer a pending input request (the member role). The answer goes to the agent at once;
    it is the same endpoint as `POST /api/runs/<run>/inputs/<request>/answer`."""

    def post(self, request, run_id, request_id):
        viewable_run(request, run_id, access.ANSWER)
        blocks, structured, by = answer_of(request)
        if access.login_required(request):
            by = request.user.get_username()
        async_to_sync(answers.answer)(run_id, request_id, blocks, structured, answered_by=by)
        return Response({"ok": True, "requestId": request_id})


@extend_schema(
    tags=["bundles"],
    responses={
        (200, bundles.CONTENT_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The run bundle"),
        **errors(*READ_ERRORS),
    },
)
class RunBundle(ApiView):
    """The run as one file: gzip-compressed JSON Lines (see the README, "Run bundles")."""

    def get(self, request, run_id):
        run = viewable_run(request, run_id)
        return FileResponse(
            bundles.export_to_file(run),
            as_attachment=True,
            filename=bundles.filename(run),
            content_type=bundles.CONTENT_TYPE,
        )


class ImportedSerializer(serializers.Serializer):
    run = serializers.CharField()
    project = serializers.CharField()
    created = serializers.BooleanField(help_text="Whether the run was new here")
    added = serializers.DictField(child=serializers.IntegerField(), help_text="New rows of each kind")


@extend_schema(
    tags=["bundles"],
    request={bundles.CONTENT_TYPE: OpenApiTypes.BINARY},
    responses={200: ImportedSerializer, **errors(400, 401, 403, 404, 409, 413, 415)},
)
class ImportBundle(ApiView):
    """Import a run bundle (the body: the file as downloaded). Rows already here are kept;
    importing twice adds nothing."""

    def post(self, request):
        if request.content_type not in bundles.CONTENT_TYPES:
            raise Rejected(f"Content-Type must be {bundles.CONTENT_TYPE}: send the bundle file as the body", 415)
        try:
            data = request.body
        except RequestDataTooBig:
            raise Rejected(f"A bundle upload is at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", 413) from None
        bundle = bundles.read(data)
        if access.token_of(request) or not access.may_import_into(
            request.user, bundle.project, access.login_required(request)
        ):
            raise Rejected(bundles.IMPORT_REFUSED, 403)
        return Response(bundles.store(bundle).as_dict())


class SearchQuery(serializers.Serializer):
    """The search's query parameters; a bad one is a 400 naming it."""

    project = serializers.IntegerField(min_value=1, help_text="The project's id")
    q = serializers.CharField(max_length=1000, help_text="Words; a message matches when it holds every one")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=search.MAX_LIMIT, default=search.DEFAULT_LIMIT
    )
    cursor = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="From a page's `next`"
    )


class HitSerializer(serializers.Serializer):
    message = serializers.CharField(source="msg_id", help_text="The client's msg.id")
    reply_id = serializers.CharField()
    run = serializers.CharField(source="run_id")
    run_name = serializers.CharField()
    name = serializers.CharField(help_text="Who sent the message")
    role = serializers.CharField()
    created_at = serializers.DateTimeField()
    snippet = serializers.CharField(help_text="Escaped HTML: the matching words in <mark>")
    url = serializers.CharField(help_text="The run page, opened on this message")


class SearchPage(serializers.Serializer):
    next = serializers.CharField(allow_null=True, help_text="The next page's address; null: no more")
    results = HitSerializer(many=True)


@extend_schema(tags=["search"], parameters=[SearchQuery], responses={200: SearchPage, **errors(*READ_ERRORS)})
class SearchMessages(ApiView):
    """Full-text search over one project's messages (what was said, thought, or which tool was
    called), newest first; the same search as the run list's search box."""

    def get(self, request):
        query = SearchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        given = query.validated_data
        project = get_object_or_404(access.visible_to(request, Project.objects.all()), pk=given["project"])
        found = search.search(project, given["q"], given["limit"], given.get("cursor"))
        results = [{**vars(hit), "url": request.build_absolute_uri(_hit_page(project, hit))} for hit in found.hits]
        return Response(
            {"next": self._next(request, found.next_cursor), "results": HitSerializer(results, many=True).data}
        )

    @staticmethod
    def _next(request, next_cursor):
        if next_cursor is None:
            return None
        params = request.query_params.copy()
        params["cursor"] = next_cursor
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def _hit_page(project, hit):
    return f"{reverse('run', args=[project.name, hit.run_id])}?message={hit.message_pk}#msg-{hit.message_pk}"
