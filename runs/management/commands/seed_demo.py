"""Fill the studio with a realistic demo project, through the same code the agents' calls use."""

import base64
import json
import struct
import time
import uuid
import zlib
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.utils import timezone

from runs import recording
from traces import ingest
from traces.models import ModelPrice


def _png(width=48, height=32):
    """A small gradient PNG made here, so media blocks show without any file or network."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (40 + 4 * x, 80 + 4 * y, 200)) for y in range(height)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = base64.b64encode(_png()).decode()


class Command(BaseCommand):
    help = "Create a demo project with runs, replies, every content block type and a pending input request."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="Demo: travel assistant")

    def handle(self, *args, **options):
        project = options["project"]
        ModelPrice.objects.get_or_create(
            model="gpt-4o", defaults={"input_per_million": Decimal("2.50"), "output_per_million": Decimal("10.00")}
        )
        finished = self.run(project, "plan-trip (yesterday)", waiting=False)
        live = self.run(project, "plan-trip", waiting=True)
        self.stdout.write(self.style.SUCCESS(f"Demo project '{project}' with runs {finished} and {live}."))

    def run(self, project, name, waiting):
        run_id = uuid.uuid4().hex[:22]
        recording.register_run(
            {
                "id": run_id,
                "project": project,
                "name": name,
                "pid": 4242,
                "status": "running",
                "timestamp": "2026-11-24 09:00:00.000",
            }
        )

        def push(reply_id, reply_name, reply_role, msg_name, msg_role, content, metadata=None):
            msg = {
                "id": uuid.uuid4().hex[:22],
                "name": msg_name,
                "role": msg_role,
                "content": content,
                "metadata": metadata or {},
                "timestamp": "2026-11-24 09:00:01.000",
            }
            recording.push_message(
                {"runId": run_id, "replyId": reply_id, "replyName": reply_name, "replyRole": reply_role, "msg": msg}
            )
            return msg["id"]

        push("u1", "user", "user", "user", "user", "Plan a weekend in **Lisbon** for two, under €600.")
        reply = "a1"
        push(
            reply,
            "Friday",
            "assistant",
            "Friday",
            "assistant",
            [
                {
                    "type": "thinking",
                    "thinking": "The user wants a budget trip. I should check the weather and hotel prices first.",
                },
                {"type": "text", "text": "Let me check the weather and a few hotels."},
                {
                    "type": "tool_use",
                    "id": "call_weather",
                    "name": "get_weather",
                    "input": {"city": "Lisbon", "days": 2},
                },
            ],
        )
        push(
            reply,
            "Friday",
            "assistant",
            "system",
            "system",
            [
                {
                    "type": "tool_result",
                    "id": "call_weather",
                    "name": "get_weather",
                    "output": [{"type": "text", "text": "Saturday: sunny, 22°C\nSunday: cloudy, 19°C"}],
                },
            ],
        )
        push(
            reply,
            "Friday",
            "assistant",
            "Friday",
            "assistant",
            [
                {
                    "type": "tool_use",
                    "id": "call_hotels",
                    "name": "search_hotels",
                    "input": {"city": "Lisbon", "max_price": 120},
                },
            ],
        )
        push(
            reply,
            "Friday",
            "assistant",
            "system",
            "system",
            [
                {
                    "type": "tool_result",
                    "id": "call_hotels",
                    "name": "search_hotels",
                    "output": '[{"name": "Casa Alfama", "price": 95}, {"name": "Baixa Loft", "price": 110}]',
                },
            ],
        )
        final = push(
            reply,
            "Friday",
            "assistant",
            "Friday",
            "assistant",
            [
                {
                    "type": "text",
                    "text": (
                        "Here is a plan:\n\n| Day | Morning | Afternoon |\n|---|---|---|\n"
                        "| Sat | Alfama walk | Tram 28, *Belém* |\n| Sun | LX Factory | Sunset at `Miradouro` |\n\n"
                        "Hotel: **Casa Alfama** (€95/night). [Map](https://www.openstreetmap.org/#map=13/38.72/-9.14)"
                    ),
                },
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {
                    "type": "image",
                    "source": {"type": "url", "url": "https://upload.wikimedia.org/wikipedia/commons/3/3e/Lisbon.jpg"},
                },
            ],
        )
        push(
            "a2",
            "Critic",
            "assistant",
            "Critic",
            "assistant",
            [
                {"type": "text", "text": "The budget holds: 2 nights × €95 + food ≈ €450."},
                {"type": "audio", "source": {"type": "url", "url": "https://example.org/summary.mp3"}},
                {"type": "video", "source": {"type": "url", "url": "https://example.org/lisbon.mp4"}},
                {"type": "citation", "source": "Lonely Planet", "page": 42},
            ],
        )
        push(None, "Friday", "assistant", "Friday", "assistant", "A note printed outside any reply.")
        ingest.store(demo_spans(run_id, final))
        if waiting:
            recording.request_user_input(
                {
                    "requestId": uuid.uuid4().hex[:22],
                    "runId": run_id,
                    "agentId": "u-1",
                    "agentName": "user",
                    "structuredInput": None,
                }
            )
            recording.request_user_input(
                {
                    "requestId": uuid.uuid4().hex[:22],
                    "runId": run_id,
                    "agentId": "u-2",
                    "agentName": "booking-form",
                    "structuredInput": {
                        "title": "Booking",
                        "type": "object",
                        "required": ["travellers", "room"],
                        "$defs": {"Room": {"type": "string", "enum": ["single", "double", "suite"], "title": "Room"}},
                        "properties": {
                            "travellers": {
                                "type": "integer",
                                "title": "Travellers",
                                "default": 2,
                                "description": "Adults",
                            },
                            "room": {"$ref": "#/$defs/Room"},
                            "breakfast": {"type": "boolean", "title": "Breakfast", "default": True},
                            "notes": {
                                "anyOf": [{"type": "string"}, {"type": "null"}],
                                "default": None,
                                "title": "Notes",
                            },
                        },
                    },
                }
            )
        else:
            # Yesterday's run: it began a day ago and ended a minute later.
            from runs.models import Run

            started = timezone.now() - timedelta(days=1)
            Run.objects.filter(pk=run_id).update(
                status=Run.Status.FINISHED,
                started_at=started,
                last_activity_at=started,
                finished_at=started + timedelta(minutes=1),
            )
        return run_id


def demo_spans(run_id, final_message_id):
    """The spans agentscope would send for the demo's first reply, as traces.otlp decodes them."""
    trace_id, start = uuid.uuid4().hex, time.time_ns() - 60_000_000_000
    resource = {"service.name": "travel-assistant", "service.instance.id": run_id}
    scope = {"name": "agentscope", "version": "1.0.21"}
    conversation = {"gen_ai.conversation.id": json.dumps(run_id)}
    agent_id = uuid.uuid4().hex[:16]

    def span(name, begin_ms, end_ms, attributes, parent=agent_id, status=1, message="", events=()):
        return {
            "trace_id": trace_id,
            "span_id": agent_id if parent == "" else uuid.uuid4().hex[:16],
            "parent_span_id": parent,
            "trace_state": "",
            "flags": 256,
            "name": name,
            "kind": 1,
            "start_time_ns": start + begin_ms * 1_000_000,
            "end_time_ns": start + end_ms * 1_000_000,
            "status_code": status,
            "status_message": message,
            "attributes": {**conversation, **attributes},
            "events": list(events),
            "links": [],
            "dropped": {},
            "resource": resource,
            "scope": scope,
        }

    def chat(begin_ms, end_ms, tokens_in, tokens_out, output):
        return span(
            "chat gpt-4o",
            begin_ms,
            end_ms,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai",
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": output, "finish_reason": "stop"}]),
            },
        )

    def tool(name, begin_ms, end_ms, arguments, result, **failure):
        return span(
            f"execute_tool {name}",
            begin_ms,
            end_ms,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": json.dumps(arguments),
                "gen_ai.tool.call.result": json.dumps(result),
            },
            **failure,
        )

    timeout = {
        "name": "exception",
        "time_ns": start + 2_900_000_000,
        "attributes": {
            "exception.type": "TimeoutError",
            "exception.message": "flights API did not answer in 2 s",
            "exception.stacktrace": 'Traceback (most recent call last):\n  File "tools.py", line 12, in search_flights\n'
            "    return await api.get(...)\nTimeoutError: flights API did not answer in 2 s\n",
        },
    }
    return [
        span(
            "invoke_agent Friday",
            0,
            5200,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "Friday",
                "gen_ai.input.messages": json.dumps(
                    [
                        {
                            "role": "user",
                            "parts": [{"type": "text", "content": "Plan a weekend in **Lisbon** for two, under €600."}],
                        }
                    ]
                ),
                "agentscope.function.output": f"Msg(id='{final_message_id}', name='Friday', role='assistant')",
            },
            parent="",
        ),
        span("format openai", 5, 9, {"gen_ai.operation.name": "format"}),
        chat(
            10,
            820,
            412,
            96,
            [
                {"type": "reasoning", "content": "Check weather and hotels first."},
                {
                    "type": "tool_call",
                    "id": "call_weather",
                    "name": "get_weather",
                    "arguments": {"city": "Lisbon", "days": 2},
                },
            ],
        ),
        tool("get_weather", 830, 1010, {"city": "Lisbon", "days": 2}, "Saturday: sunny, 22°C"),
        tool(
            "search_flights",
            1020,
            3020,
            {"to": "LIS"},
            None,
            status=2,
            message="TimeoutError: flights API did not answer in 2 s",
            events=[timeout],
        ),
        tool("search_hotels", 3030, 3400, {"city": "Lisbon", "max_price": 120}, [{"name": "Casa Alfama", "price": 95}]),
        span("format openai", 3405, 3410, {"gen_ai.operation.name": "format"}),
        chat(3420, 5150, 988, 310, [{"type": "text", "content": "Here is a plan: Alfama walk, Tram 28, Belém…"}]),
    ]
