"""The rig's moto deduplicates FIFO sends for five minutes from the first, as SQS and SNS do: a push delivered
again after its first request was built and deleted is dropped, and the wake queue behind a FIFO topic gets one
wake per push. (moto alone compares only with messages still in the queue, and its topics never deduplicate.)"""

import json

from localrig.aws.fifo import WINDOW_MS, DedupWindow

FIFO = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}


def _bodies(sqs, url):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in got]


def test_a_deduplication_id_is_remembered_after_its_message_is_deleted(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="q.fifo", Attributes=FIFO)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="a/main", MessageDeduplicationId="push-1")
    assert _bodies(sqs, url) == ["first"]
    answer = sqs.send_message(QueueUrl=url, MessageBody="again", MessageGroupId="a/main",
                              MessageDeduplicationId="push-1")
    assert answer["MessageId"], "SQS accepts the duplicate"
    sqs.send_message(QueueUrl=url, MessageBody="next", MessageGroupId="a/main", MessageDeduplicationId="push-2")
    assert _bodies(sqs, url) == ["next"], "and never delivers it"


def test_a_fifo_topic_drops_a_duplicate_publish_before_any_subscriber(aws):
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="t.fifo", Attributes={"FifoTopic": "true",
                                                        "ContentBasedDeduplication": "false"})["TopicArn"]
    fifo = sqs.create_queue(QueueName="build.fifo", Attributes=FIFO)["QueueUrl"]
    wake = sqs.create_queue(QueueName="wake")["QueueUrl"]
    for url in (fifo, wake):
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    for message in ("push", "retry of the same push"):
        assert sns.publish(TopicArn=topic, Message=message, MessageGroupId="a/main",
                           MessageDeduplicationId="push-1")["MessageId"]
    assert [json.loads(b)["Message"] for b in _bodies(sqs, fifo)] == ["push"]
    assert [json.loads(b)["Message"] for b in _bodies(sqs, wake)] == ["push"], "one wake per push"


def test_the_window_is_five_minutes_from_the_first_send():
    window = DedupWindow()
    assert window.accept("d", 0)
    assert not window.accept("d", WINDOW_MS - 1)
    assert window.accept("d", WINDOW_MS), "after five minutes the id is new again"
    assert window.accept("e", WINDOW_MS)
