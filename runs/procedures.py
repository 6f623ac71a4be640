"""The tRPC procedures an agent process calls: POST /trpc/<name>.

With a project token (team mode) an agent writes only into the token's project: it registers
runs there, and another project's run is, to it, a run that does not exist.
"""

from django.contrib.auth.decorators import login_not_required

from studio.drf_bends import validated
from studio.rejected import Rejected

from . import recording
from .serializers import (
    PushMessageSerializer,
    RegisterReplySerializer,
    RegisterRunSerializer,
    RequestUserInputSerializer,
)
from .trpc import TrpcView


def _project_id(token):
    return token.project_id if token is not None else None


class RegisterRun(TrpcView):
    procedure = "registerRun"

    def call(self, data, token):
        data = validated(RegisterRunSerializer, data)
        if token is not None and data["project"] != token.project.name:
            raise Rejected(
                f"This token is for project '{token.project.name}': pass project='{token.project.name}' "
                f"to agentscope.init(), or use a token of project '{data['project']}'",
                403,
                "project",
            )
        recording.register_run(data, project=token.project if token is not None else None)


class PushMessage(TrpcView):
    procedure = "pushMessage"

    def call(self, data, token):
        recording.push_message(validated(PushMessageSerializer, data), _project_id(token))


class RegisterReply(TrpcView):
    procedure = "registerReply"

    def call(self, data, token):
        recording.register_reply(validated(RegisterReplySerializer, data), _project_id(token))


class RequestUserInput(TrpcView):
    procedure = "requestUserInput"

    def call(self, data, token):
        recording.request_user_input(validated(RequestUserInputSerializer, data), _project_id(token))


# Agents' own authentication is their project token (projects/tokens.py), never a person's login.
PROCEDURES = {
    view.procedure: login_not_required(view.as_view())
    for view in (RegisterRun, PushMessage, RegisterReply, RequestUserInput)
}
