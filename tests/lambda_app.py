"""Helpers for the Lambda-side tests: import app.py for a stage, and make the AWS parts in moto.

app.py decides at import which functions exist (as Chalice does when it imports it with the
stage's variables), so every test imports a fresh copy after setting the environment; the copy
is dropped from sys.modules again, so no test inherits another's clients or caches.
"""

from __future__ import annotations

import importlib
import json
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import settings
from chalicelib.arns import parse_arn
from chalicelib.contracts import BuildRequest, parse_build_request, unwrap_sns_envelope

BUILDER_TAG = ("pushdeploy:role", "builder")
AMI = "ami-12c6146b"
WHEELHOUSE = Path(__file__).parent.parent / ".venv" / "wheelhouse"  # filled by scripts/setup.sh
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, so a connection fails at once
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")


def offline_pip_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a `chalice deploy` child process that cannot reach the internet.

    Chalice's packager runs pip for requirements.txt; here pip may read only the local wheelhouse
    (no index), and every HTTP(S) connection not to this machine goes to a closed port, so a
    missing wheel fails the deploy instead of being downloaded.
    """
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"no wheels in {WHEELHOUSE}: run scripts/setup.sh (it fills the wheelhouse that "
                    "chalice deploy packages from, so no test needs a package index)")
    offline = {k: v for k, v in env.items() if k.upper() not in _PROXIES}
    offline.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE), "PIP_INDEX_URL": NOWHERE + "/simple",
                    "PIP_EXTRA_INDEX_URL": NOWHERE + "/simple", "HTTP_PROXY": NOWHERE, "HTTPS_PROXY": NOWHERE,
                    "NO_PROXY": "127.0.0.1,localhost"})
    return offline


def import_app(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> ModuleType:
    """app.py as Chalice would import it for a stage with exactly these settings."""
    for name in settings.ALL_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("app", None)
    try:
        return importlib.import_module("app")
    finally:
        sys.modules.pop("app", None)


def chalice_client(module: ModuleType, tmp_path: Path) -> Client:
    """A Chalice test client that adds no config variables (the project dir has no config)."""
    empty = tmp_path / "no-chalice-config"
    empty.mkdir(exist_ok=True)
    return Client(module.app, stage_name="test", project_dir=str(empty))


def sns_event(client: Client, message: str) -> dict[str, Any]:
    return client.events.generate_sns_event(message=message, subject="pushdeploy")


def sns_envelope(message: str, topic_arn: str = "arn:aws:sns:us-east-1:123456789012:pushdeploy-request.fifo") -> str:
    """What SNS delivers to an SQS queue without raw delivery: the message inside a JSON notification."""
    return json.dumps({"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic_arn,
                       "Message": message, "Timestamp": "2026-11-30T01:00:00.000Z", "SignatureVersion": "1"})


def wake_event(client: Client, messages: str | list[str]) -> dict[str, Any]:
    """What the wake queue's event source hands build_start: a batch of SNS envelopes of build requests."""
    batch = [messages] if isinstance(messages, str) else messages
    return client.events.generate_sqs_event(message_bodies=[sns_envelope(m) for m in batch],
                                            queue_name="pushdeploy-wake")


def function_invoker(rig: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, function: str,
                     make_event: Callable[[Client, Any], Any] | None = None) -> Callable[..., Any]:
    """``run(payload, **settings)``: one cold start of ``function`` in a stage with the rig's settings plus
    overrides, so each call sees exactly the environment it names; ``make_event(client, payload)`` wraps
    the payload as its trigger delivers it (default: the payload is the event)."""
    def run(payload: Any = None, **env: str) -> Any:
        module = import_app(monkeypatch, rig.env(**env))
        with chalice_client(module, tmp_path) as client:
            event = make_event(client, payload) if make_event else payload
            return client.lambda_.invoke(function, event).payload
    return run


@dataclass
class PipelineRig:
    """The production-account resources in moto that the pipeline functions act on."""

    session: boto3.Session
    request_topic_arn: str
    close_topic_arn: str
    queue_url: str
    instance_id: str
    dead_letter_queue_url: str = ""
    wake_queue_arn: str = ""  # the standard queue build_start reads (issue 11); set it in env() to use it
    parameter: str = "/pushdeploy/slack-webhook-url"
    clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """One client per service per rig: building boto3 clients is a slow part of a test's setup."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            "PUSHDEPLOY_FUNCTIONS": "pipeline",
            "REQUEST_TOPIC_ARN": self.request_topic_arn,
            "CLOSE_TOPIC_ARN": self.close_topic_arn,
            "BUILDER_INSTANCE_ID": self.instance_id,
            "BUILDER_TAG": "=".join(BUILDER_TAG),
            "BUILD_QUEUE_URL": self.queue_url,
            "SLACK_WEBHOOK_PARAMETER": self.parameter,
            "DEAD_LETTER_QUEUE_URL": self.dead_letter_queue_url,
        }
        env.update(overrides)
        return env

    def state(self, instance_id: str | None = None) -> str:
        found = self.client("ec2").describe_instances(InstanceIds=[instance_id or self.instance_id])
        return found["Reservations"][0]["Instances"][0]["State"]["Name"]

    def stop(self, instance_id: str | None = None) -> None:
        self.client("ec2").stop_instances(InstanceIds=[instance_id or self.instance_id])

    def new_instance(self, tags: dict[str, str]) -> str:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
        return self.client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.small",
                                 TagSpecifications=spec)["Instances"][0]["InstanceId"]

    def put_webhook_url(self, url: str, kind: str = "SecureString") -> None:
        self.client("ssm").put_parameter(Name=self.parameter, Value=url, Type=kind, Overwrite=True)


def make_pipeline_rig(session: boto3.Session) -> PipelineRig:
    sns, sqs = session.client("sns"), session.client("sqs")
    dlq_url = sqs.create_queue(QueueName="pushdeploy-build-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "5"}}'}
    rig = PipelineRig(
        session=session,
        request_topic_arn=sns.create_topic(Name="pushdeploy-request")["TopicArn"],
        close_topic_arn=sns.create_topic(Name="pushdeploy-close")["TopicArn"],
        queue_url=sqs.create_queue(QueueName="pushdeploy-build", Attributes=redrive)["QueueUrl"],
        instance_id="",
        dead_letter_queue_url=dlq_url,
    )
    wake_url = sqs.create_queue(QueueName="pushdeploy-wake")["QueueUrl"]
    rig.wake_queue_arn = sqs.get_queue_attributes(QueueUrl=wake_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    rig.instance_id = rig.new_instance(dict([BUILDER_TAG]))
    return rig


@dataclass
class SourceRig:
    """The request topic with a queue subscribed to it, so tests read what was published."""

    session: boto3.Session
    topic_arn: str
    queue_url: str

    def env(self, branch_filter: str = '{"sample": ["production"]}', **overrides: str) -> dict[str, str]:
        env = {"PUSHDEPLOY_FUNCTIONS": "source", "REQUEST_TOPIC_ARN": self.topic_arn, "BRANCH_FILTER": branch_filter}
        env.update(overrides)
        return env

    def published(self) -> list[tuple[str, dict[str, str]]]:
        """Every (message body, message attributes) delivered to the queue so far."""
        sqs = self.session.client("sqs", region_name=parse_arn(self.topic_arn, "sns").region)
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                        MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
                found.append((message["Body"], attributes))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def make_source_rig(session: boto3.Session, region: str = "us-east-1") -> SourceRig:
    sns, sqs = session.client("sns", region_name=region), session.client("sqs", region_name=region)
    topic_arn = sns.create_topic(Name="pushdeploy-request")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="pushdeploy-build")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return SourceRig(session, topic_arn, queue_url)


@dataclass
class FifoRequestPath:
    """The FIFO request topic with a FIFO queue subscribed (issue 11): what the build queue receives, with the
    message group and deduplication id SQS kept for each message."""

    session: boto3.Session
    topic_arn: str
    queue_url: str

    def received(self) -> list[tuple[BuildRequest, dict[str, str]]]:
        """(request, {MessageGroupId, MessageDeduplicationId}) of every message delivered so far, oldest first
        per group (each received batch is deleted, so a group's next message comes with the next call)."""
        sqs, found = self.session.client("sqs"), []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           AttributeNames=["MessageGroupId", "MessageDeduplicationId"]
                                           ).get("Messages", []):
            for message in batch:
                found.append((parse_build_request(unwrap_sns_envelope(message["Body"])), message["Attributes"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


def make_fifo_request_path(session: boto3.Session) -> FifoRequestPath:
    """As infra/pipeline.yaml makes it: content-based deduplication off (publishers pass their own ids)."""
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = sns.create_topic(Name="pushdeploy-request.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": "false"})["TopicArn"]
    queue_url = sqs.create_queue(QueueName="pushdeploy-build.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return FifoRequestPath(session, topic_arn, queue_url)


@contextmanager
def threaded_moto_rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PipelineRig, Callable[[str], None]]]:
    """A pipeline rig whose builder can be caught in the 'stopping' state: (rig, set_state).

    moto's EC2 has no transitional states (stop_instances is 'stopped' at once), so this runs its
    own moto server in a thread of this process, where the instance's state can be set the way EC2
    reports it during a real stop. Everything else still goes through boto3 and HTTP.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from localrig.aws import metrics as moto_metrics

    moto_metrics.install()  # as the rig's moto server does
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        rig = make_pipeline_rig(boto3.Session(region_name="us-east-1"))
        codes = {"stopping": 64, "stopped": 80}

        def set_state(name: str) -> None:
            state = ec2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_instance(rig.instance_id)._state
            state.name, state.code = name, codes[name]

        yield rig, set_state
    finally:
        server.stop()
