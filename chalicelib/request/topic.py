"""The request topic (SNS), possibly in another account: where build requests are published."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.contracts import BuildRequest
from chalicelib.fifo import publish_options

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
else:
    SNSClient = Any

# SNS refuses a Subject that is not ASCII printable text, holds a line break or control character, or is
# 100 characters or longer (moto checks only the length, so this code enforces the rest itself).
MAX_SUBJECT_CHARS = 99
_MARKER = "..."


def safe_subject(text: str) -> str:
    """``text`` as SNS accepts it: other characters become '?', and a long subject ends in '...'."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text[: MAX_SUBJECT_CHARS + 1])
    if len(printable) > MAX_SUBJECT_CHARS:
        printable = printable[: MAX_SUBJECT_CHARS - len(_MARKER)] + _MARKER
    return printable.strip() or "build request"


class RequestTopic:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self.topic_arn = topic_arn

    def publish(self, request: BuildRequest) -> str:
        """Publish with repository/branch attributes so subscriptions can filter; returns the message id. On a
        FIFO topic the request also carries its pipeline's message group and its push's deduplication id
        (chalicelib/fifo.py): one builder per pipeline at a time, and a publisher's retry is dropped.

        Raises RejectedInputError when SNS refuses this request's input (a retry would be refused too),
        RetryableError for a transient failure, AwsCallError for a configuration problem."""
        try:
            response = self._sns.publish(
                TopicArn=self.topic_arn,
                Message=request.to_json(),
                Subject=safe_subject(f"build {request.pipeline}"),
                MessageAttributes=request.message_attributes(),
                **publish_options(self.topic_arn, request),
            )
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"publishing the build request for {request.pipeline}") from exc
        return response["MessageId"]
