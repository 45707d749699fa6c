"""Publishing to the close topic: a BuildResult per build and the EndOfRun that asks for the
builder to be stopped. The close and notify Lambdas filter on the message attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from agent import AgentError
from chalicelib.contracts import BuildResult, CloseMessage, EndOfRun, close_message_attributes, utc_now
from chalicelib.message_bounds import MessageTooLarge, bound_result

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_sns import SNSClient
else:
    SNSClient = Any


class PublishError(AgentError):
    """The close topic did not take the message: the requests it answers must stay queued."""


class Publisher:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(self, message: CloseMessage) -> str:
        """A BuildResult over SNS's size limit is published shrunk (marked), not refused (chalicelib.message_bounds)."""
        kind = type(message).__name__
        try:
            if isinstance(message, BuildResult):
                message = bound_result(message)
        except MessageTooLarge as exc:
            raise PublishError(f"publishing {kind} to {self.topic_arn} failed: {exc}") from exc
        try:
            resp = self.sns.publish(TopicArn=self.topic_arn, Message=message.to_json(), Subject=f"pushdeploy {kind}",
                                    MessageAttributes=close_message_attributes(message))
        except (BotoCoreError, ClientError) as exc:
            raise PublishError(f"publishing {kind} to {self.topic_arn} failed: {exc}") from exc
        return resp["MessageId"]

    def end_of_run(self, instance_id: str | None, reason: str, agent_exited: bool = False) -> EndOfRun:
        """``agent_exited``: the agent will not serve the queue any more, so close stops the builder even
        with requests queued (the reconcile starts it again for them)."""
        message = EndOfRun(builder_instance_id=instance_id, sent_at=utc_now(), reason=reason, agent_exited=agent_exited)
        self.publish(message)
        return message
