"""The tRPC procedures an agent process calls: POST /trpc/<name>."""

from studio.drf_bends import validated

from . import recording
from .serializers import (
    PushMessageSerializer,
    RegisterReplySerializer,
    RegisterRunSerializer,
    RequestUserInputSerializer,
)
from .trpc import TrpcView


class RegisterRun(TrpcView):
    procedure = "registerRun"

    def call(self, data):
        recording.register_run(validated(RegisterRunSerializer, data))


class PushMessage(TrpcView):
    procedure = "pushMessage"

    def call(self, data):
        recording.push_message(validated(PushMessageSerializer, data))


class RegisterReply(TrpcView):
    procedure = "registerReply"

    def call(self, data):
        recording.register_reply(validated(RegisterReplySerializer, data))


class RequestUserInput(TrpcView):
    procedure = "requestUserInput"

    def call(self, data):
        recording.request_user_input(validated(RequestUserInputSerializer, data))


PROCEDURES = {view.procedure: view.as_view() for view in (RegisterRun, PushMessage, RegisterReply, RequestUserInput)}
