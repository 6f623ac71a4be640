"""An agentscope 1.0.21 run with everything a bundle holds: a ReAct agent's chat and spans (as
traced_react.py: a scripted model, a tool call) and a UserAgent's structured question (as
input_user.py's Booking form), answered by the test.

usage: bundled_run.py RUN_ID
Prints READY once registered, ANSWER <json> once answered, then flushes its spans and exits.
"""

import asyncio
import json
import os
import sys

import agentscope
from agentscope.agent import ReActAgent, UserAgent
from agentscope.formatter import OpenAIChatFormatter
from agentscope.memory import InMemoryMemory
from agentscope.message import Msg
from agentscope.tool import Toolkit
from input_user import Booking
from traced_react import ScriptedModel, get_weather


async def main():
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
    answer = await UserAgent(name="booker")(structured_model=Booking)
    print("ANSWER " + json.dumps({"text": answer.get_text_content(), "metadata": answer.metadata}), flush=True)


if __name__ == "__main__":
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "BundledProject"),
        name="bundled",
        run_id=sys.argv[1],
        studio_url=os.environ["STUDIO_URL"],
    )
    print("READY", flush=True)
    asyncio.run(main())
    from opentelemetry import trace as otel_trace

    otel_trace.get_tracer_provider().force_flush()
