"""A real agentscope ReActAgent with a scripted model (no API key): one reply with a tool call.

usage: react_weather.py RUN_ID [stream|plain]
agentscope.init() against STUDIO_URL, then the agent "Friday" answers one question: first a
thinking + text + tool_use message (streamed chunk by chunk when "stream"), the registered
get_weather tool runs, then a final text answer (streamed too). Works with agentscope 1.0.8 and
1.0.21. Prints INIT_OK, PID <pid> and REPLY <final message JSON> for the test.
"""

import asyncio
import json
import os
import sys

import agentscope
from agentscope.agent import ReActAgent
from agentscope.formatter import OpenAIChatFormatter
from agentscope.memory import InMemoryMemory
from agentscope.message import Msg, TextBlock
from agentscope.model import ChatModelBase, ChatResponse
from agentscope.tool import Toolkit, ToolResponse

THINKING = "I should call the weather tool."
CALL = {"type": "tool_use", "id": "call_0001", "name": "get_weather", "input": {"city": "Paris"}}
FINAL = "It is sunny in Paris, 25°C."
# What the model has produced so far, chunk by chunk (agentscope models yield accumulated content).
TURNS = [
    [
        [{"type": "thinking", "thinking": "I should"}],
        [{"type": "thinking", "thinking": THINKING}],
        [{"type": "thinking", "thinking": THINKING}, {"type": "text", "text": "Let me check"}],
        [{"type": "thinking", "thinking": THINKING}, {"type": "text", "text": "Let me check the weather."}],
        [{"type": "thinking", "thinking": THINKING}, {"type": "text", "text": "Let me check the weather."}, CALL],
    ],
    [
        [{"type": "text", "text": "It is"}],
        [{"type": "text", "text": "It is sunny"}],
        [{"type": "text", "text": "It is sunny in Paris,"}],
        [{"type": "text", "text": FINAL}],
    ],
]


def get_weather(city: str) -> ToolResponse:
    """Get the current weather of a city.

    Args:
        city (str):
            The name of the city.
    """
    return ToolResponse(content=[TextBlock(type="text", text=f"{city}: sunny, 25°C")])


class ScriptedModel(ChatModelBase):
    """Answers from TURNS instead of calling an LLM."""

    def __init__(self, stream):
        super().__init__("scripted-model", stream)
        self.turn = 0

    async def __call__(self, messages, tools=None, tool_choice=None, **kwargs):
        chunks = TURNS[min(self.turn, len(TURNS) - 1)]
        self.turn += 1
        if not self.stream:
            return ChatResponse(content=chunks[-1])

        async def generate():
            for content in chunks:
                await asyncio.sleep(0.02)
                yield ChatResponse(content=[dict(block) for block in content])

        return generate()


async def ask(agent):
    return await agent(Msg("user", "What is the weather in Paris?", "user"))


def main():
    run_id = sys.argv[1]
    stream = (sys.argv[2] if len(sys.argv) > 2 else "stream") == "stream"
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "ClientProject"),
        name="react-weather",
        run_id=run_id,
        studio_url=os.environ["STUDIO_URL"],
    )
    print("INIT_OK", flush=True)
    print("PID", os.getpid(), flush=True)
    toolkit = Toolkit()
    toolkit.register_tool_function(get_weather)
    agent = ReActAgent(
        name="Friday",
        sys_prompt="You are a helpful assistant.",
        model=ScriptedModel(stream),
        formatter=OpenAIChatFormatter(),
        toolkit=toolkit,
        memory=InMemoryMemory(),
    )
    reply = asyncio.run(ask(agent))
    print("REPLY", json.dumps({"id": reply.id, "name": reply.name, "content": reply.content}), flush=True)


if __name__ == "__main__":
    main()
