"""A program with no agent framework: the OpenTelemetry SDK alone, GenAI attributes set by hand.

usage: genai_by_hand.py SERVICE_NAME    (STUDIO_URL in the environment)
One conversation, as the GenAI semantic conventions describe it: an `invoke_agent` span around
two `chat` calls and an `execute_tool` between them. The second call repeats the first's input
and output, as every LLM call repeats the conversation so far. Prints the conversation id.
"""

import json
import os
import sys
import uuid

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": sys.argv[1]}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["STUDIO_URL"] + "/v1/traces")))
tracer = provider.get_tracer("by-hand")
conversation = uuid.uuid4().hex

system = {"role": "system", "parts": [{"type": "text", "content": "You are a travel helper."}]}
question = {"role": "user", "parts": [{"type": "text", "content": "Is it warm in Lisbon?"}]}
call = {
    "role": "assistant",
    "parts": [
        {"type": "reasoning", "content": "I should look the weather up."},
        {"type": "tool_call", "id": "call-1", "name": "weather", "arguments": {"city": "Lisbon"}},
    ],
}
result = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call-1", "response": "Lisbon: 24°C, clear"}]}
answer = {"role": "assistant", "parts": [{"type": "text", "content": "Yes: 24°C and clear in Lisbon."}]}


def chat(inputs, outputs):
    with tracer.start_as_current_span("chat by-hand-model") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "by-hand-model")
        span.set_attribute("gen_ai.conversation.id", conversation)
        span.set_attribute("gen_ai.input.messages", json.dumps(inputs))
        span.set_attribute("gen_ai.output.messages", json.dumps(outputs))
        span.set_attribute("gen_ai.usage.input_tokens", 20)
        span.set_attribute("gen_ai.usage.output_tokens", 8)


with tracer.start_as_current_span("invoke_agent Guide") as agent:
    agent.set_attribute("gen_ai.operation.name", "invoke_agent")
    agent.set_attribute("gen_ai.agent.name", "Guide")
    agent.set_attribute("gen_ai.conversation.id", conversation)
    chat([system, question], [call])
    with tracer.start_as_current_span("execute_tool weather") as tool:
        tool.set_attribute("gen_ai.operation.name", "execute_tool")
        tool.set_attribute("gen_ai.conversation.id", conversation)
        tool.set_attribute("gen_ai.tool.name", "weather")
        tool.set_attribute("gen_ai.tool.call.id", "call-1")
        tool.set_attribute("gen_ai.tool.call.arguments", json.dumps({"city": "Lisbon"}))
        tool.set_attribute("gen_ai.tool.call.result", "Lisbon: 24°C, clear")
    chat([system, question, call, result], [answer])

provider.force_flush()
provider.shutdown()
print(conversation)
