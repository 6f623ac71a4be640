"""What a decoded span means: the OpenTelemetry GenAI conventions agentscope 1.0.9+ follows, the
legacy format of agentscope 1.0.0 - 1.0.8, and what any other instrumented program sends.

Pure functions over the plain spans of `traces.otlp`; no database.
"""

import functools
import json
import re

# Operations that call a model and count as "LLM calls".
LLM_OPERATIONS = ("chat", "text_completion", "generate_content")
AGENT_OPERATION = "invoke_agent"
TOOL_OPERATION = "execute_tool"

# agentscope <= 1.0.8 says what a span is with `span.kind` (scope agentscope.tracing._trace).
LEGACY_OPERATIONS = {
    "AGENT": AGENT_OPERATION,
    "LLM": "chat",
    "TOOL": TOOL_OPERATION,
    "FORMATTER": "format",
    "EMBEDDING": "embeddings",
    "COMMON": "invoke_generic_function",
}

OPERATION_LABELS = {
    AGENT_OPERATION: "agent",
    "chat": "LLM",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "embed",
    TOOL_OPERATION: "tool",
    "format": "format",
    "invoke_generic_function": "function",
    "create_agent": "agent",
}

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
SPAN_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

# The denormalized columns are CharFields; the attributes keep the full values.
MAX_LABEL = 255
MAX_TOKENS = 2**63 - 1


def loads_or_value(value):
    """agentscope JSON-encodes most attribute values; anything else is returned as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def run_key(span):
    """(the run id the span names, whether it comes from an agentscope 1.x studio client).

    1.0.9+ puts the run id in `gen_ai.conversation.id`, JSON-encoded ('"dQC6..."'); 1.0.0 - 1.0.8
    in `project.run_id`, also JSON-encoded. agentscope 2.x and other programs write a plain
    conversation or session id there, which may or may not be a run's id.
    """
    attributes = span["attributes"]
    for name in ("gen_ai.conversation.id", "project.run_id"):
        value = attributes.get(name)
        if isinstance(value, str) and value:
            return _run_key_of(value)
    return "", False


@functools.lru_cache(maxsize=256)
def _run_key_of(value):
    # Every span of a run carries the same value: decode it once, not once a span.
    decoded = loads_or_value(value)
    if isinstance(decoded, str) and decoded != value:
        return decoded[:MAX_LABEL], True
    return value[:MAX_LABEL], False


def is_agentscope(span):
    return span["scope"].get("name", "").startswith("agentscope")


def operation(span):
    attributes = span["attributes"]
    name = attributes.get("gen_ai.operation.name")
    if isinstance(name, str) and name:
        return name[:64]
    legacy = loads_or_value(attributes.get("span.kind"))
    if isinstance(legacy, str) and legacy in LEGACY_OPERATIONS:
        return LEGACY_OPERATIONS[legacy]
    return ""


def _legacy_metadata(span):
    metadata = loads_or_value(span["attributes"].get("metadata"))
    return metadata if isinstance(metadata, dict) else {}


def _text(value):
    return value[:MAX_LABEL] if isinstance(value, str) else ""


def _count(value):
    """A token count: an int, or a string or float holding one; anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_TOKENS:
        return value
    return None


# agentscope writes an agent's reply as the repr of its Msg: "Msg(id='L8K8...', name='Friday', ...".
_REPLY_MSG_ID = re.compile(r"""^"?Msg\(id='([^']{1,255})'""")


def reply_message_id(attributes):
    """The id of the message an agentscope agent span returned (its reply's final message)."""
    for name in ("agentscope.function.output", "output"):
        value = attributes.get(name)
        if isinstance(value, str):
            found = _REPLY_MSG_ID.match(value)
            if found:
                return found.group(1)
    return ""


def summary(span):
    """The few facts statistics and lists need, taken out of the attributes once, at ingestion."""
    attributes = span["attributes"]
    op = operation(span)
    legacy = "gen_ai.operation.name" not in attributes and "span.kind" in attributes
    model = _text(attributes.get("gen_ai.response.model")) or _text(attributes.get("gen_ai.request.model"))
    input_tokens = _count(attributes.get("gen_ai.usage.input_tokens"))
    if input_tokens is None:
        input_tokens = _count(attributes.get("gen_ai.usage.prompt_tokens"))
    output_tokens = _count(attributes.get("gen_ai.usage.output_tokens"))
    if output_tokens is None:
        output_tokens = _count(attributes.get("gen_ai.usage.completion_tokens"))
    tool_name = _text(attributes.get("gen_ai.tool.name"))
    agent_name = _text(attributes.get("gen_ai.agent.name"))
    if legacy:
        metadata = _legacy_metadata(span)
        if op == "chat":
            model = model or _text(metadata.get("model_name"))
            output = loads_or_value(attributes.get("output"))
            usage = output.get("usage") if isinstance(output, dict) else None
            if isinstance(usage, dict):
                input_tokens = _count(usage.get("input_tokens"))
                output_tokens = _count(usage.get("output_tokens"))
        elif op == TOOL_OPERATION:
            tool_name = tool_name or _text(metadata.get("name"))
        elif op == AGENT_OPERATION:
            agent_name = agent_name or _text(metadata.get("name"))
    return {
        "message_id": reply_message_id(attributes) if op == AGENT_OPERATION else "",
        "operation": op,
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "tool_name": tool_name,
        "agent_name": agent_name,
    }


def service(span):
    """(service.name, service.instance.id) of the span's resource."""
    resource = span["resource"]
    return _text(resource.get("service.name")) or "unknown_service", _text(resource.get("service.instance.id"))


# ---- showing a span's inputs and outputs ----

INPUT_ATTRIBUTES = (
    "gen_ai.input.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "agentscope.function.input",
    "input",
)
OUTPUT_ATTRIBUTES = ("gen_ai.output.messages", "gen_ai.tool.call.result", "agentscope.function.output", "output")
MESSAGE_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


def io_sections(attributes):
    """Inputs and outputs of a span, each {"title", "messages" or "value"}, in reading order.

    GenAI messages ([{role, parts: [{type, content | name/arguments | response}]}]) become
    chat-like messages; other values are shown as (pretty) JSON.
    """
    inputs, outputs = [], []
    for names, into in ((INPUT_ATTRIBUTES, inputs), (OUTPUT_ATTRIBUTES, outputs)):
        for name in names:
            if name not in attributes:
                continue
            value = loads_or_value(attributes[name])
            messages = genai_messages(value) if name in MESSAGE_ATTRIBUTES else None
            if messages is not None:
                into.append({"title": name, "messages": messages})
            else:
                into.append({"title": name, "value": value})
    return inputs, outputs


def genai_messages(value):
    """Normalize GenAI messages for display, or None if the value does not look like them."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return None
    messages = []
    for item in value:
        parts = item.get("parts")
        if parts is None and "content" in item:
            parts = [{"type": "text", "content": item["content"]}]
        if not isinstance(parts, list):
            return None
        messages.append(
            {
                "role": str(item.get("role") or ""),
                "name": str(item.get("name") or ""),
                "parts": [_part(part) for part in parts],
                "finish_reason": str(item.get("finish_reason") or ""),
            }
        )
    return messages


def _part(part):
    if not isinstance(part, dict):
        return {"type": "text", "text": part if isinstance(part, str) else json.dumps(part, ensure_ascii=False)}
    kind = str(part.get("type") or "")
    if kind in ("text", "reasoning"):
        content = part.get("content")
        return {"type": kind, "text": content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)}
    if kind == "tool_call":
        return {
            "type": kind,
            "id": str(part.get("id") or ""),
            "name": str(part.get("name") or ""),
            "arguments": part.get("arguments"),
        }
    if kind == "tool_call_response":
        return {"type": kind, "id": str(part.get("id") or ""), "response": loads_or_value(part.get("response"))}
    return {"type": "other", "value": part}
