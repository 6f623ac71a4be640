"""An agentscope 1.0.21 program that says something, asks a person for a booking (a structured
form), and confirms it: messages before and after the question, and spans of its model calls.

usage: team_booking.py RUN_ID
Prints ANSWER <json of {agent, text, metadata}> when answered, then DONE; spans are flushed
before exit. The scripted model needs no API key.
"""

import asyncio
import os
import sys

import agentscope
from agentscope.agent import ReActAgent, UserAgent
from agentscope.formatter import OpenAIChatFormatter
from agentscope.memory import InMemoryMemory
from agentscope.message import Msg
from agentscope.model import ChatModelBase, ChatResponse
from agentscope.model._model_usage import ChatUsage
from agentscope.tracing import trace_llm
from input_user import Booking, report


class ScriptedModel(ChatModelBase):
    def __init__(self):
        super().__init__("scripted-model-1", stream=False)

    @trace_llm
    async def __call__(self, messages, tools=None, tool_choice=None, **kwargs):
        response = ChatResponse(content=[{"type": "text", "text": "Hello! Please fill in your booking."}])
        response.usage = ChatUsage(input_tokens=40, output_tokens=9, time=0.01)
        return response


async def main():
    clerk = ReActAgent(
        name="Clerk",
        sys_prompt="You take hotel bookings.",
        model=ScriptedModel(),
        formatter=OpenAIChatFormatter(),
        memory=InMemoryMemory(),
    )
    await clerk(Msg("user", "I would like a room.", "user"))
    print("ASKING", flush=True)
    answer = await UserAgent(name="booker")(structured_model=Booking)
    report("booker", answer)
    booking = answer.metadata
    await clerk.print(
        Msg("Clerk", f"Booked: {booking['guest']}, {booking['nights']} nights, {booking['room']}.", "assistant")
    )


if __name__ == "__main__":
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "TeamBookings"),
        name="booking",
        run_id=sys.argv[1],
        studio_url=os.environ["STUDIO_URL"],
    )
    asyncio.run(main())
    from opentelemetry import trace as otel_trace

    otel_trace.get_tracer_provider().force_flush()
    print("DONE", flush=True)
