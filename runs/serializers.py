"""The bodies of the agent-facing tRPC procedures, checked at the edge.

Field names are the client's (camelCase); unknown keys are ignored so that newer clients keep
working. Both the 1.0.9+ fields (replyName/replyRole) and the legacy ones (name/role) pass.
"""

from django.core.validators import ProhibitNullCharactersValidator
from jsonschema import Draft202012Validator, SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from studio.rejected import Rejected

from .content import validate_content
from .models import Run


class Text(serializers.CharField):
    """DRF's CharField without its checks for NUL and lone surrogates: the edge's JSON parser has
    already stored those as U+FFFD (studio/storable.py), and DRF's checks loop over every
    character of eight text fields a pushMessage in Python (bench/push_cost.py --callgrind)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator))
        ]


ID = {"max_length": 255, "allow_blank": False, "trim_whitespace": False}
LABEL = {"max_length": 255, "allow_blank": True, "allow_null": True, "required": False}


class RegisterRunSerializer(serializers.Serializer):
    id = Text(**ID)
    project = Text(max_length=255)
    name = Text(**LABEL)
    timestamp = Text(max_length=64, **{k: v for k, v in LABEL.items() if k != "max_length"})
    # Stored in a 64-bit column: a larger number must be a 400, not an overflow in the database.
    pid = serializers.IntegerField(required=False, allow_null=True, min_value=-(2**63), max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=Run.Status.values, required=False)
    run_dir = Text(required=False, allow_blank=True, allow_null=True)


class MsgSerializer(serializers.Serializer):
    id = Text(**ID)
    name = Text(**LABEL)
    role = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
    content = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    timestamp = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
    # agentscope-java's token counts and time of the model call that made the message.
    usage = serializers.JSONField(required=False, allow_null=True)

    def validate_content(self, value):
        try:
            validate_content(value)
        except Rejected as exc:
            # Reported by the view as "msg.content[2].source: ...".
            raise serializers.ValidationError(exc.errors[exc.field], code=exc.field) from exc
        return value

    def validate_metadata(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("must be an object or null")
        return value

    def validate_usage(self, value):
        # Only shown, never acted on: a shape this server does not know is dropped, not refused.
        return value if isinstance(value, dict) else None


class PushMessageSerializer(serializers.Serializer):
    runId = Text(**ID)
    replyId = Text(max_length=255, allow_null=True, allow_blank=True, required=False)
    replyName = Text(**LABEL)
    replyRole = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
    # agentscope 1.0.0 - 1.0.8 send these instead of replyName / replyRole.
    name = Text(**LABEL)
    role = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
    msg = MsgSerializer()


class RequestUserInputSerializer(serializers.Serializer):
    requestId = Text(**ID)
    runId = Text(**ID)
    agentId = Text(max_length=255, allow_blank=True, required=False, default="")
    agentName = Text(**LABEL)
    structuredInput = serializers.JSONField(required=False, allow_null=True)

    def validate_structuredInput(self, value):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON Schema object or null")
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise serializers.ValidationError(f"is not a valid JSON Schema: {exc.message}") from exc
        # A $ref that leads nowhere would make every answer uncheckable, and the agent wait for ever.
        schema_uri = "urn:studio:structured-input"
        resolver = Registry().with_resource(schema_uri, DRAFT202012.create_resource(value)).resolver(schema_uri)
        for ref in _refs(value):
            try:
                resolver.lookup(ref)
            except (Unresolvable, ValueError) as exc:  # ValueError: a $ref that is not even a URL
                raise serializers.ValidationError(f"has a $ref that resolves to nothing in the schema: {ref}") from exc
        return value


# Keywords whose values are data, not schemas: a "$ref" key in them is no reference.
_DATA_KEYWORDS = {"default", "examples", "const", "enum"}


def _refs(schema):
    """Every "$ref" string in a JSON Schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in _DATA_KEYWORDS:
                yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


class RegisterReplySerializer(serializers.Serializer):
    runId = Text(**ID)
    replyId = Text(**ID)
    replyName = Text(**LABEL)
    replyRole = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
    name = Text(**LABEL)
    role = Text(max_length=64, allow_blank=True, allow_null=True, required=False)
