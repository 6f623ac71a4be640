"""An agentscope 1.0.21 program whose spans fill a run's trace view.

usage: traced_react.py RUN_ID
A ReAct agent with a scripted model (no API key: two calls reporting 123/45 and 150/60 tokens),
one tool call (get_weather), then a @trace function that fails (an ERROR span with an exception
event). The exporter is agentscope's own (OTLP/HTTP protobuf; OTEL_EXPORTER_OTLP_COMPRESSION=gzip
compresses it); spans are flushed before exit.
"""

import asyncio
import os
import sys

import agentscope
from agentscope.agent import ReActAgent
from agentscope.formatter import OpenAIChatFormatter
from agentscope.memory import InMemoryMemory
from agentscope.message import Msg, TextBlock
from agentscope.model import ChatModelBase, ChatResponse
from agentscope.model._model_usage import ChatUsage
from agentscope.tool import Toolkit, ToolResponse
from agentscope.tracing import trace, trace_llm

SCRIPT = [
    (
        ChatResponse(
            content=[
                {"type": "text", "text": "Let me check the weather."},
                {"type": "tool_use", "id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}},
            ]
        ),
        123,
        45,
    ),
    (ChatResponse(content=[{"type": "text", "text": "It is sunny in Paris, 25°C."}]), 150, 60),
]


class ScriptedModel(ChatModelBase):
    def __init__(self):
        super().__init__("scripted-model-1", stream=False)
        self.calls = 0

    @trace_llm
    async def __call__(self, messages, tools=None, tool_choice=None, **kwargs):
        response, tokens_in, tokens_out = SCRIPT[min(self.calls, len(SCRIPT) - 1)]
        self.calls += 1
        response.usage = ChatUsage(input_tokens=tokens_in, output_tokens=tokens_out, time=0.01)
        return response


async def get_weather(city: str) -> ToolResponse:
    """Get the weather of a city.

    Args:
        city (str): The city.
    """
    return ToolResponse(content=[TextBlock(type="text", text=f"{city}: sunny, 25°C")])


@trace(name="failing_function")
async def failing_function():
    raise ValueError("boom: the intentional failure")


async def main(run_id):
    toolkit = Toolkit()
    toolkit.register_tool_function(get_weather)
    agent = ReActAgent(
        name="Friday",
        sys_prompt="You are a helpful assistant.",
        model=ScriptedModel(),
        formatter=OpenAIChatFormatter(),
        toolkit=toolkit,
        memory=InMemoryMemory(),
    )
    await agent(Msg("user", "What is the weather in Paris?", "user"))
    try:
        await failing_function()
    except ValueError:
        pass


if __name__ == "__main__":
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "TracedProject"),
        name="traced",
        run_id=sys.argv[1],
        studio_url=os.environ["STUDIO_URL"],
        tracing_url=os.environ.get("STUDIO_TRACING_URL"),
    )
    asyncio.run(main(sys.argv[1]))
    from opentelemetry import trace as otel_trace

    otel_trace.get_tracer_provider().force_flush()
