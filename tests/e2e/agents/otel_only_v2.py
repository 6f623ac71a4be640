"""agentscope 2.x, which has no studio client: a ReAct agent with a scripted model and one tool,
traced by the OpenTelemetry SDK with an OTLP/HTTP exporter to Studio. Usage: otel_only_v2.py
<service name>; STUDIO_URL names the server."""

import asyncio
import json
import os
import sys

from agentscope.agent import Agent
from agentscope.credential import CredentialBase
from agentscope.formatter import OpenAIChatFormatter
from agentscope.message import TextBlock, ThinkingBlock, ToolCallBlock, UserMsg
from agentscope.middleware import TracingMiddleware
from agentscope.model import ChatModelBase, ChatResponse, ChatUsage
from agentscope.permission import PermissionBehavior, PermissionDecision
from agentscope.tool import FunctionTool, Toolkit
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import BaseModel


class ScriptedModel(ChatModelBase):
    """First call: think, then call the tool; second call: the final answer."""

    class Parameters(BaseModel):
        pass

    def __init__(self):
        super().__init__(credential=CredentialBase(), model="scripted-v2", parameters=self.Parameters(), stream=False)
        self.formatter = OpenAIChatFormatter()  # the agent asks it which media the model takes
        self.calls = 0

    async def _call_api(self, model_name, messages, tools=None, tool_choice=None, **kwargs):
        self.calls += 1
        usage = ChatUsage(input_tokens=10 * self.calls, output_tokens=5, time=0.01)
        if self.calls == 1:
            content = [
                ThinkingBlock(thinking="I should look the weather up"),
                ToolCallBlock(id="call_e2e_1", name="get_weather", input=json.dumps({"city": "Paris"})),
            ]
        else:
            content = [TextBlock(text="In Paris it is sunny and 25°C.")]
        return ChatResponse(content=content, is_last=True, usage=usage)


def get_weather(city: str) -> str:
    """Return the weather of a city.

    Args:
        city: the city
    """
    return f"{city}: sunny, 25°C"


async def main(service):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=os.environ["STUDIO_URL"] + "/v1/traces")))
    trace.set_tracer_provider(provider)
    allowed = PermissionDecision(behavior=PermissionBehavior.ALLOW, message="a test tool")
    toolkit = Toolkit(tools=[FunctionTool(get_weather, permission=allowed)])
    agent = Agent(
        name="Weatherman",
        system_prompt="You answer questions about the weather.",
        model=ScriptedModel(),
        toolkit=toolkit,
        middlewares=[TracingMiddleware()],
    )
    answer = await agent.reply(UserMsg(name="user", content="What is the weather in Paris?"))
    print("ANSWER", answer.get_text_content() if hasattr(answer, "get_text_content") else answer)
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
