"""The rig's Lambda host serves an ``@app.on_sqs_message`` as Lambda's event source mapping does: it long-polls
the queue, invokes the function with Lambda's SQS event, deletes the batch when the function returns, and leaves
it for the visibility timeout when it raises (the queue's redrive policy then dead-letters it)."""

import json
import urllib.request
from pathlib import Path

import pytest

from localrig import services
from localrig.lambdas.sqs_source import sqs_lambda_event
from tests.conftest import load_event
from tests.rig_host import running_host

APP_DIR = Path(__file__).parent / "fixtures" / "sqsapp"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _steps(journal: Path) -> list[str]:
    """The journal's kinds after the host is up (its ``ready`` and the mapping's start left out)."""
    return [j["kind"] for j in _lines(journal) if j["kind"] not in ("ready", "sqs-mapping")]


def _depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"))


@pytest.fixture
def host(aws, moto_server, tmp_path):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="rig-wake-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="rig-wake", Attributes={
        "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    record = tmp_path / "record.jsonl"
    stage = {"RIG_QUEUE_ARN": arn, "RIG_RECORD": str(record)}
    with running_host(APP_DIR, stage, tmp_path, moto_server) as (host_url, journal):
        services.wait_until(lambda: any(j["kind"] == "sqs-mapping" for j in _lines(journal)), 30, "the mapping")
        yield {"url": host_url, "queue": url, "arn": arn, "dlq": dlq, "record": record, "journal": journal,
               "sqs": sqs}


def _idle(host) -> bool:
    with urllib.request.urlopen(f"{host['url']}/health", timeout=5) as resp:
        return bool(json.load(resp)["idle"])


def test_a_batch_reaches_the_function_as_one_lambda_sqs_event_and_is_deleted_after_it_returns(host):
    host["sqs"].send_message_batch(QueueUrl=host["queue"], Entries=[
        {"Id": str(n), "MessageBody": f"wake {n}",
         "MessageAttributes": {"pipeline": {"DataType": "String", "StringValue": f"p{n}"}}} for n in range(3)])

    services.wait_until(lambda: _idle(host), 30, "the batch to be handled and deleted")
    [call] = _lines(host["record"])
    records = call["event"]["Records"]
    assert sorted(r["body"] for r in records) == ["wake 0", "wake 1", "wake 2"]
    assert {r["eventSourceARN"] for r in records} == {host["arn"]}
    assert records[0]["messageAttributes"]["pipeline"]["stringValue"] in {"p0", "p1", "p2"}
    assert _depth(host["sqs"], host["queue"]) == 0
    assert _steps(host["journal"]) == ["sqs", "invoke", "result", "sqs-deleted"]
    assert [j["trigger"] for j in _lines(host["journal"]) if j["kind"] == "invoke"] == ["sqs:rig-wake"]


def test_a_failed_batch_is_left_for_the_visibility_timeout_and_runs_again(host):
    host["sqs"].send_message(QueueUrl=host["queue"], MessageBody="fail-once")

    services.wait_until(lambda: len(_lines(host["record"])) == 2 and _idle(host), 30, "the second receive")
    counts = [c["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] for c in _lines(host["record"])]
    assert counts == ["1", "2"]
    assert _steps(host["journal"]) == ["sqs", "invoke", "error", "sqs-left", "sqs", "invoke", "result", "sqs-deleted"]
    assert host["sqs"].receive_message(QueueUrl=host["dlq"]).get("Messages") is None


def test_a_batch_that_always_fails_goes_to_the_queues_dead_letter_queue_not_anywhere_else(host):
    host["sqs"].send_message(QueueUrl=host["queue"], MessageBody="fail")

    services.wait_until(lambda: _idle(host), 60, "the redrive to the dead-letter queue")
    assert len(_lines(host["record"])) == 2, "maxReceiveCount 2: two invocations, then the DLQ"
    [dead] = host["sqs"].receive_message(QueueUrl=host["dlq"])["Messages"]
    assert dead["Body"] == "fail"


def test_the_host_is_not_idle_while_a_message_waits_in_its_queue(host):
    """A waiting message is an invocation Lambda owes: a rig waiting for quiet must not pass it by."""
    host["sqs"].send_message(QueueUrl=host["queue"], MessageBody="fail-once")
    services.wait_until(lambda: any(j["kind"] == "sqs-left" for j in _lines(host["journal"])), 30, "the failure")

    assert not _idle(host), "the failed message is hidden in the queue, to run again"


def test_the_event_shape_matches_what_lambda_delivers():
    sample = load_event("04b_sqs_event_with_sns_envelope.powertools.json")["Records"][0]
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "b", "MD5OfBody": "d",
               "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"}, "MessageAttributes": {}}
    [record] = sqs_lambda_event([message], "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")["Records"]
    assert set(record) == set(sample)
    assert record["eventSource"] == sample["eventSource"]
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "SentTimestamp": "1"}
