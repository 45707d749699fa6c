"""The rig's moto server hands a FIFO message group to one consumer at a time, also when consumers receive
concurrently (localrig/aws/sqs_receive.py), as SQS does; and a long poll still waits for a message without
holding the other consumers back."""

from __future__ import annotations

import collections
import threading
import time

CONSUMERS = 8
GROUPS = 50
PER_GROUP = 4


def test_concurrent_receives_never_share_a_group_or_a_message(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="race.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"})[
        "QueueUrl"]
    for i in range(GROUPS * PER_GROUP):
        sqs.send_message(QueueUrl=url, MessageBody=str(i), MessageGroupId=f"g{i % GROUPS}",
                         MessageDeduplicationId=str(i))
    deliveries: collections.Counter[str] = collections.Counter()
    consumers_of: dict[str, set[int]] = collections.defaultdict(set)

    def consume(me: int) -> None:
        client = aws.client("sqs")
        while True:
            batch = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           AttributeNames=["MessageGroupId"]).get("Messages", [])
            if not batch:
                return
            for message in batch:  # nothing is deleted: every group stays in flight with whoever got it
                deliveries[message["MessageId"]] += 1
                consumers_of[message["Attributes"]["MessageGroupId"]].add(me)

    threads = [threading.Thread(target=consume, args=(n,)) for n in range(CONSUMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(consumers_of) == GROUPS
    assert [group for group, consumers in consumers_of.items() if len(consumers) > 1] == []
    assert [mid for mid, times in deliveries.items() if times > 1] == []


def test_a_long_poll_waits_for_a_message_while_another_consumer_receives(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="poll.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    got: list[list] = []
    poller = threading.Thread(target=lambda: got.append(sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])))
    started = time.monotonic()
    poller.start()
    assert aws.client("sqs").receive_message(QueueUrl=url).get("Messages", []) == []  # not held back
    assert time.monotonic() - started < 5
    aws.client("sqs").send_message(QueueUrl=url, MessageBody="late", MessageGroupId="g", MessageDeduplicationId="1")
    poller.join(timeout=30)

    assert [m["Body"] for m in got[0]] == ["late"]
    assert time.monotonic() - started < 10
