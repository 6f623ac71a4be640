"""An agentscope program that streams one reply slowly, for watching it fill up in the browser.

usage: dashboard_stream.py RUN_ID GO_FILE
Waits until GO_FILE exists (the browser is looking), then one agent reply: a thinking + text
message streamed in chunks (same msg.id, growing content), a tool call, its result, and a
final answer; then exits.
"""

import asyncio
import os
import sys
import time

import agentscope
from agentscope.agent import AgentBase
from agentscope.message import Msg


class Streamer(AgentBase):
    def __init__(self):
        super().__init__()
        self.name = "Streamer"

    async def reply(self, *args, **kwargs):
        words = "The weather in Paris is sunny and warm today".split()
        msg = Msg(self.name, [], "assistant")
        for count in range(1, len(words) + 1):
            msg.content = [
                {"type": "thinking", "thinking": "Let me answer step by step."},
                {"type": "text", "text": " ".join(words[:count])},
            ]
            await self.print(msg, last=count == len(words))
            await asyncio.sleep(0.15)
        call = Msg(
            self.name,
            [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
            "assistant",
        )
        await self.print(call)
        result = Msg(
            "system",
            [
                {
                    "type": "tool_result",
                    "id": "call_1",
                    "name": "get_weather",
                    "output": [{"type": "text", "text": "sunny, 25°C"}],
                }
            ],
            "system",
        )
        await self.print(result)
        final = Msg(self.name, "Done: **sunny**, 25°C.", "assistant")
        await self.print(final)
        return final


def main():
    run_id, go_file = sys.argv[1], sys.argv[2]
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "DashboardProject"),
        name="stream-demo",
        run_id=run_id,
        studio_url=os.environ["STUDIO_URL"],
    )
    deadline = time.time() + 60
    while not os.path.exists(go_file) and time.time() < deadline:
        time.sleep(0.05)
    asyncio.run(Streamer()())


if __name__ == "__main__":
    main()
