"""The one exception for "what was sent cannot be taken", and nothing else.

Code anywhere (decoding, validation, storage) raises `Rejected` with a message for a person, an
HTTP status and the fields at fault. Each edge maps it to its own wire shape, in one place:
tRPC's error envelope (`runs/trpc.py`), OTLP's Status body (`traces/views.py`), the answer
endpoint's JSON (`runs/views.py`) and the page socket's `answer.rejected` frame
(`runs/consumers.py`). So storage code never knows which protocol called it.
"""


class Rejected(Exception):
    """`errors` maps a field path ("msg.content[2].source", "" for the whole) to a short message;
    `field` is the first of them, the one a one-field protocol (tRPC) reports."""

    def __init__(self, message, status=400, field=None, errors=None):
        super().__init__(message)
        self.message = message
        self.status = status
        if errors is None:
            errors = {} if field is None else {field: message}
        self.errors = errors
        self.field = field if field is not None else next(iter(errors), None)
