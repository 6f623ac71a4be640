"""The tRPC procedures an agent process calls: POST /trpc/<name>."""

import threading

from . import recording
from .serializers import (
    PushMessageSerializer,
    RegisterReplySerializer,
    RegisterRunSerializer,
    RequestUserInputSerializer,
)
from .trpc import TrpcView

# One serializer of each kind per thread, reused: DRF deep-copies every declared field into each
# new instance, which was about half the CPU time of a pushMessage. An instance keeps nothing
# between calls but what _validated resets.
_serializers = threading.local()


def _validated(serializer_class, data):
    serializer = _serializers.__dict__.get(serializer_class)
    if serializer is None:
        serializer = _serializers.__dict__[serializer_class] = serializer_class()
    for state in ("_validated_data", "_errors", "_data"):
        serializer.__dict__.pop(state, None)
    serializer.initial_data = data
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RegisterRun(TrpcView):
    procedure = "registerRun"

    def call(self, data):
        recording.register_run(_validated(RegisterRunSerializer, data))


class PushMessage(TrpcView):
    procedure = "pushMessage"

    def call(self, data):
        recording.push_message(_validated(PushMessageSerializer, data))


class RegisterReply(TrpcView):
    procedure = "registerReply"

    def call(self, data):
        recording.register_reply(_validated(RegisterReplySerializer, data))


class RequestUserInput(TrpcView):
    procedure = "requestUserInput"

    def call(self, data):
        recording.request_user_input(_validated(RequestUserInputSerializer, data))


PROCEDURES = {view.procedure: view.as_view() for view in (RegisterRun, PushMessage, RegisterReply, RequestUserInput)}
