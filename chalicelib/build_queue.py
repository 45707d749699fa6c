"""The build queue (SQS), read only for its depth: the close function must not stop a builder
while requests wait, are being built (in flight), or are delayed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
               "ApproximateNumberOfMessagesDelayed")


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def empty(self) -> bool:
        return self.visible + self.in_flight + self.delayed == 0

    def __str__(self) -> str:
        return f"{self.visible} waiting, {self.in_flight} in flight, {self.delayed} delayed"


class BuildQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def depth(self) -> QueueDepth:
        try:
            response = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=list(_ATTRIBUTES))
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"reading the depth of {self.queue_url}") from exc
        values = [int(response.get("Attributes", {}).get(name, "0")) for name in _ATTRIBUTES]
        return QueueDepth(*values)
