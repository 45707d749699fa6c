"""The request topic (SNS), possibly in another account: where build requests are published."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.contracts import BuildRequest

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
else:
    SNSClient = Any


class RequestTopic:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, request: BuildRequest) -> str:
        """Publish with repository/branch attributes so subscriptions can filter; returns the message id."""
        try:
            response = self._sns.publish(
                TopicArn=self.topic_arn,
                Message=request.to_json(),
                Subject=f"build {request.pipeline}"[:100],
                MessageAttributes=request.message_attributes(),
            )
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"publishing the build request for {request.pipeline}") from exc
        return response["MessageId"]
