"""An agentscope program whose UserAgents ask a person for input through Studio.

usage: input_user.py RUN_ID MODE   (MODE: plain | structured | two)
Prints one line per answer received: ANSWER <json of {agent, text, metadata}>, then exits.
"""

import asyncio
import json
import os
import sys
import threading
from enum import Enum

import agentscope
from agentscope.agent import UserAgent
from pydantic import BaseModel, Field


class Room(str, Enum):  # noqa: UP042  (as a user writes it for pydantic)
    single = "single"
    double = "double"
    suite = "suite"


class Address(BaseModel):
    city: str = Field(description="City of the guest")
    postcode: str | None = Field(default=None, description="Postcode, if any")


class Booking(BaseModel):
    guest: str = Field(description="Full name")
    nights: int = Field(default=2, ge=1, le=30, description="How many nights")
    room: Room = Field(description="Kind of room")
    breakfast: bool = Field(default=False, description="Breakfast included?")
    address: Address
    tags: list[str] = Field(default_factory=list, description="Free tags")


def report(agent, msg):
    blocks = msg.content if isinstance(msg.content, list) else [{"type": "text", "text": msg.content}]
    media = [
        {"type": b["type"], "media_type": b["source"].get("media_type"), "bytes": len(b["source"].get("data", ""))}
        for b in blocks
        if b.get("type") in ("image", "audio", "video")
    ]
    answer = {"agent": agent, "text": msg.get_text_content(), "metadata": msg.metadata}
    if media:
        answer["media"] = media
    print("ANSWER " + json.dumps(answer), flush=True)


async def ask(name, structured=False):
    user = UserAgent(name=name)
    msg = await user(structured_model=Booking if structured else None)
    report(name, msg)


def ask_in_thread(name):
    # A UserAgent blocks its event loop while it waits: two waiting at once need two loops.
    thread = threading.Thread(target=lambda: asyncio.run(ask(name)))
    thread.start()
    return thread


def main():
    run_id, mode = sys.argv[1], sys.argv[2]
    agentscope.init(
        project=os.environ.get("STUDIO_PROJECT", "InputProject"),
        name=f"input-{mode}",
        run_id=run_id,
        studio_url=os.environ["STUDIO_URL"],
    )
    print("READY", flush=True)
    if mode == "plain":
        asyncio.run(ask("alice"))
    elif mode == "structured":
        asyncio.run(ask("booker", structured=True))
    elif mode == "two":
        threads = [ask_in_thread("alice"), ask_in_thread("bob")]
        for thread in threads:
            thread.join()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
