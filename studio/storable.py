"""Text from outside, made storable: one rule for every string a client, an exporter or a person sends.

JSON may carry what no database and no page can hold: half of a UTF-16 surrogate pair alone
(`"\\ud800"`), which UTF-8 cannot encode, and NUL (`"\\u0000"`), which PostgreSQL refuses in text
and in jsonb. Such a character is stored as U+FFFD (the replacement character) and everything
around it is kept. A 400 would cost more: agentscope's client re-sends a streaming message whole
with every chunk, so one refused character would lose the whole message (and crash clients
before 1.0.17). Bytes that are not UTF-8 at all are still no JSON and get a 400.

Every edge parses JSON with `loads` (tRPC, OTLP/JSON, answers over HTTP and the page socket,
Socket.IO packets); JSON read back from the database passes `storable` too, for values stored
before this rule.
"""

import json
import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The only ways JSON text can spell those characters (raw NUL is not allowed in JSON strings,
# and UTF-8 bytes never decode to a surrogate).
_ESCAPES_BYTES = (b"\\u0000", b"\\ud", b"\\uD")
_ESCAPES_TEXT = tuple(escape.decode() for escape in _ESCAPES_BYTES)
REPLACEMENT = "\ufffd"


def storable(value):
    """`value` (JSON data) with every unstorable character of its strings and keys replaced."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


def may_hold_unstorable(json_text):
    """False when JSON text certainly decodes to storable strings only (a quick substring test)."""
    is_bytes = isinstance(json_text, (bytes, bytearray))
    # Most bodies hold no escape at all: one search instead of three (this runs on every pushMessage).
    if (b"\\u" if is_bytes else "\\u") not in json_text:
        return False
    return any(escape in json_text for escape in (_ESCAPES_BYTES if is_bytes else _ESCAPES_TEXT))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def loads(data):
    """Strict JSON (no NaN/Infinity) from UTF-8 bytes or text, made storable.

    Raises ValueError (UnicodeDecodeError included) or RecursionError for what is not JSON.
    """
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    value = json.loads(data, parse_constant=_no_constants)
    return storable(value) if may_hold_unstorable(data) else value


# With `loads`, this module is a json module python-socketio can be given (runs/agent_socket.py).
dumps = json.dumps
