"""moto's IAM enforcement, made to let through what AWS lets through unsigned.

SNS's ``SubscribeURL`` is fetched unsigned (``ConfirmSubscription`` needs no credentials on AWS, unless the
subscription asks for authenticated unsubscribes); with ``INITIAL_NO_AUTH_ACTION_COUNT`` spent, moto reads the
missing Authorization header and answers 500. This lets that one action through unsigned.

moto names the IAM action after the request's signing name and operation; IAM does not always: CloudWatch signs as
``monitoring`` but its actions are ``cloudwatch:*``, and SQS's batch operations are authorized as their single
actions (there is no ``sqs:DeleteMessageBatch`` action), as SNS's PublishBatch is as ``sns:Publish``. Without this,
moto would refuse calls that AWS allows (and a policy could only pass moto by naming actions that do not exist).
"""

from __future__ import annotations

from typing import Any

UNSIGNED_ACTIONS = frozenset({"ConfirmSubscription"})
SERVICE_PREFIXES = {"monitoring": "cloudwatch"}  # signing name -> IAM service prefix, where they differ
ACTION_NAMES = {  # the operations IAM authorizes under another action's name
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}


def iam_action(action: str) -> str:
    """The IAM action AWS checks for moto's ``<signing name>:<operation>``."""
    service, _, operation = action.partition(":")
    named = f"{SERVICE_PREFIXES.get(service, service)}:{operation}"
    return ACTION_NAMES.get(named, named)


def install() -> None:
    _install_unsigned()
    _install_action_names()


def _install_action_names() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__
    if getattr(original, "_pushdeploy_patched", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._action = iam_action(self._action)

    init._pushdeploy_patched = True  # type: ignore[attr-defined]
    IAMRequestBase.__init__ = init  # type: ignore[method-assign]


def _install_unsigned() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    if getattr(original, "_pushdeploy_patched", False):
        return

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        if "Authorization" not in self.headers and self._get_action() in UNSIGNED_ACTIONS:
            return None
        return original(self, iam_request_cls, resource)

    authorize._pushdeploy_patched = True  # type: ignore[attr-defined]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
