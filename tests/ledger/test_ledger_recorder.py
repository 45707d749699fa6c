"""The recorder in a real child process: botocore against the moto server, the rig's sitecustomize on
PYTHONPATH. Every call becomes one JSON line naming its part, operation, resources and outcome, from several
threads and two processes at once, and no secret value (message body, SecureString, webhook URL) is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from localrig.ledger.context import SITE_DIR

REPO = Path(__file__).resolve().parents[2]
SECRET_URL = "https://hooks.slack.invalid/services/T000/B000/very-secret-token"
SECRET_BODY = "message-body-with-a-secret-4f1c"

CHILD = """
import sys, threading, boto3
queue, topic, parameter, body = sys.argv[1:5]
sqs, sns, ssm = boto3.client("sqs"), boto3.client("sns"), boto3.client("ssm")
ssm.get_parameter(Name=parameter, WithDecryption=True)
sns.publish(TopicArn=topic, Message=body)
sqs.send_message(QueueUrl=queue, MessageBody=body)
got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": "0", "ReceiptHandle": got[0]["ReceiptHandle"]}])
try:
    sqs.get_queue_url(QueueName="no-such-queue")
except sqs.exceptions.QueueDoesNotExist:
    pass
def attributes():
    client = boto3.session.Session().client("sqs")
    for _ in range(10):
        client.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
threads = [threading.Thread(target=attributes) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
"""


def _child(args: list[str], ledger: Path | None, part: str | None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("PUSHDEPLOY_RIG_LEDGER", "PUSHDEPLOY_RIG_PART")}
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), str(REPO)])
    if ledger is not None:
        env["PUSHDEPLOY_RIG_LEDGER"] = str(ledger)
    if part is not None:
        env["PUSHDEPLOY_RIG_PART"] = part
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, cwd=REPO)


def _resources(aws: boto3.Session) -> list[str]:
    queue = aws.client("sqs").create_queue(QueueName="build")["QueueUrl"]
    topic = aws.client("sns").create_topic(Name="close")["TopicArn"]
    aws.client("ssm").put_parameter(Name="/pushdeploy/slack-webhook-url", Value=SECRET_URL, Type="SecureString")
    return [queue, topic, "/pushdeploy/slack-webhook-url", SECRET_BODY]


def test_each_call_is_one_line_naming_part_operation_resources_and_outcome(aws, tmp_path: Path) -> None:
    args, ledger = _resources(aws), tmp_path / "ledger.jsonl"
    children = [_child(args, ledger, "notify"), _child(args, ledger, None)]
    assert [c.wait(timeout=120) for c in children] == [0, 0]
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(records) == 2 * (6 + 40)
    by_part = {part: [r for r in records if r["part"] == part] for part in ("notify", "unknown")}
    assert {len(v) for v in by_part.values()} == {46}
    first = by_part["notify"][:6]
    assert [(r["service"], r["operation"]) for r in first] == [
        ("ssm", "GetParameter"), ("sns", "Publish"), ("sqs", "SendMessage"), ("sqs", "ReceiveMessage"),
        ("sqs", "DeleteMessageBatch"), ("sqs", "GetQueueUrl")]
    assert first[0]["params"] == {"Name": "/pushdeploy/slack-webhook-url", "WithDecryption": True}
    assert first[1]["params"] == {"TopicArn": args[1]}
    assert first[4]["params"] == {"QueueUrl": args[0]}
    assert [r["status"] for r in first[:5]] == [200] * 5 and first[5]["status"] == 400
    assert "NonExistentQueue" in first[5]["error"] or "QueueDoesNotExist" in first[5]["error"]
    assert all(r["pid"] == children[0].pid for r in by_part["notify"])


def test_no_secret_value_reaches_the_file(aws, tmp_path: Path) -> None:
    args, ledger = _resources(aws), tmp_path / "ledger.jsonl"
    assert _child(args, ledger, "notify").wait(timeout=120) == 0
    text = ledger.read_text()
    assert "GetParameter" in text and "Publish" in text
    for secret in (SECRET_URL, "very-secret-token", SECRET_BODY, "ReceiptHandle"):
        assert secret not in text


def test_without_the_variable_nothing_is_recorded(aws, tmp_path: Path) -> None:
    args = _resources(aws)
    assert _child(args, None, "notify").wait(timeout=120) == 0
    assert list(tmp_path.iterdir()) == []
