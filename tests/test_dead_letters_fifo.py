"""Dead letters on the FIFO dead-letter queue (issue 11): the reconcile's marked copy must carry a group, or SQS
refuses it and the letter is announced at every run; and hiding an announced copy for hours must not hold back
a pipeline's newer letter, which SQS would otherwise keep behind it in the same message group."""

from __future__ import annotations

from chalicelib.builders.dead_letters import ANNOUNCED_GROUP, DeadLetterQueue
from chalicelib.contracts import DEAD_LETTER_REASON_ATTRIBUTE

FIFO = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
GROUP = "octo/app/main"


def _send(sqs, url: str, body: str, dedup: str) -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=GROUP, MessageDeduplicationId=dedup,
                     MessageAttributes={DEAD_LETTER_REASON_ATTRIBUTE: {"DataType": "String",
                                                                       "StringValue": f"{body} failed"}})


def test_an_announced_letter_is_copied_into_its_own_group_and_a_newer_one_is_not_held_back(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="pushdeploy-build-dlq.fifo", Attributes=FIFO)["QueueUrl"]
    dlq = DeadLetterQueue(sqs, url)
    _send(sqs, url, "first", "d-1")

    [letter] = dlq.receive(10)
    dlq.replace_with_marked_copy(letter, "2026-11-30T02:00:00Z")
    _send(sqs, url, "second", "d-2")

    seen = {}
    for _ in range(3):  # the copy, then (after hiding it for hours) the newer letter of the pipeline
        for got in dlq.receive(1):  # one at a time: a receive of 10 would take both of a group at once
            seen[got.body] = got
            if got.notified:
                dlq.hide(got)
    assert seen["first"].notified, "the copy carries the announcement mark"
    assert "second" in seen and not seen["second"].notified, "the pipeline's newer letter is still received"
    raw = sqs.receive_message(QueueUrl=url, AttributeNames=["MessageGroupId"], VisibilityTimeout=0,
                              WaitTimeSeconds=0).get("Messages", [])
    groups = {m["Attributes"]["MessageGroupId"] for m in raw}
    assert ANNOUNCED_GROUP not in groups, "the hidden copy's group stays hidden"


def test_a_retried_copy_of_the_same_letter_is_dropped(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="pushdeploy-build-dlq.fifo", Attributes=FIFO)["QueueUrl"]
    dlq = DeadLetterQueue(sqs, url)
    _send(sqs, url, "only", "d-1")
    [letter] = dlq.receive(10)
    dlq.replace_with_marked_copy(letter, "2026-11-30T02:00:00Z")
    dlq._sqs.send_message(QueueUrl=url, MessageBody=letter.body, MessageGroupId=ANNOUNCED_GROUP,
                          MessageDeduplicationId=letter.message_id)  # the run died after the copy and retried it
    bodies = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in got:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert bodies == ["only"]
