"""The rig's moto server honours a FIFO receive's ReceiveRequestAttemptId as SQS does (localrig/aws/sqs_receive.py):
a receive retried with the same id gets the messages and receipt handles the first one got, until one of them is
deleted or has its visibility changed; another id gets what any new receive gets."""

from __future__ import annotations

import pytest


@pytest.fixture
def fifo(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="attempt.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"})[
        "QueueUrl"]
    for n, group in enumerate(["a", "a", "b"]):
        sqs.send_message(QueueUrl=url, MessageBody=f"{group}{n}", MessageGroupId=group, MessageDeduplicationId=str(n))
    return sqs, url


def receive(sqs, url, attempt=None, count=2):
    extra = {"ReceiveRequestAttemptId": attempt} if attempt else {}
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count, AttributeNames=["ApproximateReceiveCount"],
                               **extra).get("Messages", [])


def handles(messages):
    return [(m["Body"], m["ReceiptHandle"], m["Attributes"]["ApproximateReceiveCount"]) for m in messages]


def test_a_receive_retried_with_its_attempt_id_gets_the_same_messages_and_receipt_handles(fifo):
    sqs, url = fifo
    first = receive(sqs, url, "attempt-1")
    assert [m["Body"] for m in first] == ["a0", "a1"]

    assert handles(receive(sqs, url, "attempt-1")) == handles(first)  # receive count not counted again
    assert [m["Body"] for m in receive(sqs, url, "attempt-2", count=10)] == ["b2"]  # group a is in flight
    assert receive(sqs, url, "attempt-3") == []


def test_once_a_message_of_the_answer_is_changed_the_id_is_a_new_receive(fifo):
    sqs, url = fifo
    first = receive(sqs, url, "attempt-1")
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"], VisibilityTimeout=0)

    again = receive(sqs, url, "attempt-1")

    assert [m["Body"] for m in again] == ["b2"]  # a0 is still in flight, so group a is too; a1 is not repeated


def test_without_an_attempt_id_a_retried_receive_finds_the_group_in_flight(fifo):
    sqs, url = fifo
    assert [m["Body"] for m in receive(sqs, url)] == ["a0", "a1"]
    assert [m["Body"] for m in receive(sqs, url, count=10)] == ["b2"]
