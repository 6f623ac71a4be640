"""The tRPC procedures an agent process calls: POST /trpc/<name>."""

from studio.trpc import TrpcView

from . import recording
from .serializers import (
    PushMessageSerializer,
    RegisterReplySerializer,
    RegisterRunSerializer,
    RequestUserInputSerializer,
)


def _validated(serializer_class, data):
    serializer = serializer_class(data=data)
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
