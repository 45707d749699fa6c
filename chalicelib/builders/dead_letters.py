"""The build queue's dead-letter queue, read by the reconcile so each dead letter is announced once.

A message is announced, then replaced by a copy carrying ``DEAD_LETTER_NOTIFIED_ATTRIBUTE`` (SQS cannot
change a message's attributes in place), and the original is deleted. Copies keep the body and the
other attributes, so an operator can still inspect or redrive them. A copy met again is hidden for
``HIDE_SECONDS`` so later runs do not receive it over and over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.contracts import DEAD_LETTER_NOTIFIED_ATTRIBUTE, DEAD_LETTER_REASON_ATTRIBUTE
from chalicelib.fifo import is_fifo

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

HIDE_SECONDS = 11 * 3600  # under SQS's 12-hour limit, which counts from the first receive
RECEIVE_VISIBILITY_SECONDS = 60  # a run that dies mid-way gives the message back a minute later
MAX_ATTRIBUTES = 10  # SQS's limit per message
ANNOUNCED_GROUP = "pushdeploy-announced"  # FIFO message group of the marked copies


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, Any]  # message attributes as SQS returned them
    receive_count: int

    def _string(self, name: str) -> Optional[str]:
        value = self.attributes.get(name)
        if not isinstance(value, dict) or not str(value.get("DataType", "")).startswith("String"):
            return None
        text = value.get("StringValue")
        return text if isinstance(text, str) and text.strip() else None

    @property
    def reason(self) -> Optional[str]:
        """What the agent said when it rejected the request, or None (SQS's own redrive sets nothing)."""
        return self._string(DEAD_LETTER_REASON_ATTRIBUTE)

    @property
    def notified(self) -> bool:
        return DEAD_LETTER_NOTIFIED_ATTRIBUTE in self.attributes


def _count(attributes: Any) -> int:
    text = attributes.get("ApproximateReceiveCount", "0") if isinstance(attributes, dict) else "0"
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) < 10 else 0


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("MessageAttributes")
    return DeadLetter(str(message.get("MessageId", "?")), str(message.get("ReceiptHandle", "")),
                      message.get("Body") if isinstance(message.get("Body"), str) else "",
                      attributes if isinstance(attributes, dict) else {}, _count(message.get("Attributes")))


def _sendable(attributes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The attributes a copy can carry (SendMessage takes only these keys), leaving room for the marker."""
    kept = {}
    for name, value in attributes.items():
        if name == DEAD_LETTER_NOTIFIED_ATTRIBUTE or not isinstance(value, dict) or len(kept) >= MAX_ATTRIBUTES - 1:
            continue
        fields = {k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if value.get(k) is not None}
        if "DataType" in fields and len(fields) == 2:
            kept[name] = fields
    return kept


class DeadLetterQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def _call(self, doing: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(QueueUrl=self.queue_url, **kwargs)
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"{doing} {self.queue_url}") from exc

    def receive(self, limit: int) -> list[DeadLetter]:
        response = self._call("receiving from", self._sqs.receive_message, MaxNumberOfMessages=max(1, min(limit, 10)),
                              MessageAttributeNames=["All"], AttributeNames=["ApproximateReceiveCount"],
                              VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS, WaitTimeSeconds=0)
        return [_letter(m) for m in response.get("Messages", []) if isinstance(m, dict)]

    def replace_with_marked_copy(self, letter: DeadLetter, marked_at: str) -> None:
        """Send the copy first, then delete: a failure between the two repeats an announcement, never loses one."""
        attributes = _sendable(letter.attributes)
        attributes[DEAD_LETTER_NOTIFIED_ATTRIBUTE] = {"DataType": "String", "StringValue": marked_at}
        self._call("copying a dead letter in", self._sqs.send_message, MessageBody=letter.body,
                   MessageAttributes=attributes, **self._fifo_copy(letter))
        self._call("deleting a dead letter from", self._sqs.delete_message, ReceiptHandle=letter.receipt_handle)

    def _fifo_copy(self, letter: DeadLetter) -> dict[str, str]:
        """A FIFO dead-letter queue (the build queue's, since issue 11) refuses a send without a group. The marked
        copies share a group of their own: hiding one (``hide``) then holds back only other announced copies, never
        a pipeline's newer, unannounced letters; the letter's id as deduplication id drops a retried copy."""
        if not is_fifo(self.queue_url):
            return {}
        return {"MessageGroupId": ANNOUNCED_GROUP, "MessageDeduplicationId": letter.message_id}

    def hide(self, letter: DeadLetter) -> None:
        self._call("hiding a dead letter in", self._sqs.change_message_visibility,
                   ReceiptHandle=letter.receipt_handle, VisibilityTimeout=HIDE_SECONDS)
