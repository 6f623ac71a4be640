"""What real agentscope clients sent, as tests/captures/ recorded it (see its README).

Each line of a capture is one JSON record: "kind": "http" for a request (its path, body and the
status the stub server answered), "kind": "otlp" for an export's spans.
"""

import json
from pathlib import Path

CAPTURES = Path(__file__).parents[1] / "captures"


def _records(name, kind):
    records = [json.loads(line) for line in (CAPTURES / name).read_text().splitlines() if line.strip()]
    return [record for record in records if record["kind"] == kind]


def trpc_calls(name):
    """The capture's /trpc requests, in order, as recorded: path, body, and the status answered."""
    return [record for record in _records(name, "http") if "/trpc/" in record["path"]]


def capture_spans(name):
    """The spans the capture's exports held, in order."""
    return [span for record in _records(name, "otlp") for span in record["spans"]]
