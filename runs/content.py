"""Content blocks of a Msg: their JSON Schemas, and validation that names the bad field.

Known block types must carry their fields; extra keys (e.g. `raw_input`, or the `metadata` and
`state` of agentscope-java's blocks) are kept, and block types this server does not know yet
are stored and shown as JSON rather than refused.
"""

from jsonschema import Draft202012Validator

from studio.rejected import Rejected

_MEDIA_SOURCE = {
    "type": "object",
    "required": ["type"],
    "oneOf": [
        {
            "properties": {
                "type": {"const": "base64"},
                "media_type": {"type": "string"},
                "data": {"type": "string"},
            },
            "required": ["type", "media_type", "data"],
        },
        {
            "properties": {"type": {"const": "url"}, "url": {"type": "string"}},
            "required": ["type", "url"],
        },
    ],
}


# agentscope-java writes the fields it has no value for as null (Jackson's default).
_OPTIONAL_TEXT = {"type": ["string", "null"]}


def _block(required, properties):
    return {"type": "object", "required": ["type", *required], "properties": properties}


BLOCK_SCHEMAS = {
    "text": _block(["text"], {"text": {"type": "string"}}),
    "thinking": _block(["thinking"], {"thinking": {"type": "string"}}),
    "image": _block(["source"], {"source": _MEDIA_SOURCE}),
    "audio": _block(["source"], {"source": _MEDIA_SOURCE}),
    "video": _block(["source"], {"source": _MEDIA_SOURCE}),
    "tool_use": _block(
        ["id", "name", "input"],
        {"id": {"type": "string"}, "name": {"type": "string"}, "input": {"type": "object"}},
    ),
    # agentscope 2.x (Python and Java): a tool call whose input is the raw JSON text streamed so
    # far, and where the permission system has it (pending, asking, allowed, submitted, finished).
    "tool_call": _block(
        ["id", "name", "input"],
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "input": {"type": ["string", "object"]},
            "state": _OPTIONAL_TEXT,
        },
    ),
    "tool_result": _block(
        ["id", "name", "output"],
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            # A string, or a list of blocks checked one by one below.
            "output": {"type": ["string", "array"]},
            # agentscope 2.x: success, error, interrupted, denied, running.
            "state": _OPTIONAL_TEXT,
        },
    ),
    # agentscope 2.x: text a middleware or retrieval gave the model, and who gave it.
    "hint": _block(
        ["hint"],
        {
            # A string, or (Python 2.x) a list of text/data blocks checked one by one below.
            "hint": {"type": ["string", "array"]},
            "source": _OPTIONAL_TEXT,
            "id": _OPTIONAL_TEXT,
        },
    ),
    # agentscope 2.x: the one media block, whatever the media (image, audio, video, a file).
    "data": _block(["source"], {"source": _MEDIA_SOURCE, "name": _OPTIONAL_TEXT, "id": _OPTIONAL_TEXT}),
}
# Blocks that may hold blocks, and the key that holds them (a string there is plain text).
INNER_BLOCKS = {"tool_result": "output", "hint": "hint"}
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in BLOCK_SCHEMAS.items()}


def invalid(field, message):
    return Rejected(f"{field}: {message}", field=field, errors={field: message})


def validate_content(content, field="msg.content"):
    """Check a message's content (a string or a list of blocks); raise Rejected."""
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid(field, "must be a string or a list of content blocks")
    for index, block in enumerate(content):
        validate_block(block, f"{field}[{index}]")


def validate_block(block, field):
    if not isinstance(block, dict):
        raise invalid(field, "a content block must be an object")
    block_type = block.get("type")
    if not isinstance(block_type, str):
        raise invalid(f"{field}.type", "a content block needs a string 'type'")
    validator = _VALIDATORS.get(block_type)
    if validator is None:
        return
    error = next(validator.iter_errors(block), None)
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        message = error.message
        if error.validator == "oneOf" and "source" in error.absolute_path:
            message = "source must be {type: 'base64', media_type, data} or {type: 'url', url}"
        raise invalid(f"{field}{path}", message)
    inner_key = INNER_BLOCKS.get(block_type)
    if inner_key is not None and isinstance(block[inner_key], list):
        for index, inner in enumerate(block[inner_key]):
            validate_block(inner, f"{field}.{inner_key}[{index}]")
