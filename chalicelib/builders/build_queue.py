"""The build queue (SQS), read for its depth: the close function must not stop a builder while requests
wait, are being built (in flight), or are delayed. The reconcile also keeps one tag on it: whether the
current stretch of a stale oldest request has been announced (see chalicelib/builders/reconcile.py)."""

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

    def tags(self) -> dict[str, str]:
        try:
            response = self._sqs.list_queue_tags(QueueUrl=self.queue_url)
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"reading the tags of {self.queue_url}") from exc
        tags = response.get("Tags", {})
        return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}

    def tag(self, key: str, value: str) -> None:
        try:
            self._sqs.tag_queue(QueueUrl=self.queue_url, Tags={key: value})
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"tagging {self.queue_url}") from exc

    def untag(self, key: str) -> None:
        try:
            self._sqs.untag_queue(QueueUrl=self.queue_url, TagKeys=[key])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"untagging {self.queue_url}") from exc
