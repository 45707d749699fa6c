"""Publish an Alert to the close topic, where notify posts it to Slack (close ignores it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.contracts import Alert, close_message_attributes

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
else:
    SNSClient = Any


class AlertTopic:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, alert: Alert) -> None:
        try:
            self._sns.publish(TopicArn=self.topic_arn, Message=alert.to_json(),
                              MessageAttributes=close_message_attributes(alert))
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"publishing a {alert.kind} alert to {self.topic_arn}") from exc
