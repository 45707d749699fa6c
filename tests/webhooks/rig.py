"""The AWS side of the webhook routes in moto (request topic with a queue subscribed, the deliveries table,
one secret per provider) and a sender that signs deliveries as each provider does."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import boto3
from chalice.test import Client

from chalicelib.contracts import BuildRequest, parse_build_request
from chalicelib.webhooks.signatures import sign_sha256
from tests.lambda_app import PipelineRig, make_pipeline_rig

FIXTURES = Path(__file__).parent.parent / "fixtures" / "webhooks"
SECRET_PREFIX = "/pushdeploy/webhooks"
TABLE = "pushdeploy-webhook-deliveries"
SECRETS = {"github": "gh-secret-0f3a", "gitlab": "gl-token-7c21", "bitbucket": "bb-secret-9e44"}
# The samples' repositories and branches, so each sample builds unless a test says otherwise.
BRANCH_FILTER = json.dumps({"Codertocat/Hello-World": ["main"], "mike/diaspora": ["master"],
                            "team_name/repo_name": ["main", "release/*"]})
PATHS = {provider: f"/webhooks/{provider}" for provider in SECRETS}


def sample(name: str) -> dict[str, Any]:
    """A fixture: {"headers": ..., "body": ...} (tests/fixtures/webhooks/README.md says where each comes from)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


@dataclass
class WebhookRig:
    pipeline: PipelineRig
    queue_url: str
    secrets: dict[str, str] = field(default_factory=lambda: dict(SECRETS))

    def env(self, **overrides: str) -> dict[str, str]:
        env = self.pipeline.env(WEBHOOK_DELIVERIES_TABLE=TABLE, WEBHOOK_SECRET_PREFIX=SECRET_PREFIX,
                                BRANCH_FILTER=BRANCH_FILTER)
        env.update(overrides)
        return env

    def put_secret(self, provider: str, value: str) -> None:
        self.secrets[provider] = value
        self.pipeline.client("ssm").put_parameter(Name=f"{SECRET_PREFIX}/{provider}", Value=value,
                                                  Type="SecureString", Overwrite=True)

    def published(self) -> list[BuildRequest]:
        """Every build request that reached the queue subscribed to the request topic since the last call."""
        sqs, found = self.pipeline.client("sqs"), []
        while batch := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", []):
            found += [parse_build_request(m["Body"]) for m in batch]
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return found

    def deliveries(self) -> list[dict[str, Any]]:
        return self.pipeline.client("dynamodb").scan(TableName=TABLE)["Items"]

    def sign(self, provider: str, body: bytes, headers: dict[str, str], secret: Optional[str] = None) -> dict[str, str]:
        """``headers`` plus the provider's proof of origin made with ``secret`` (default: the rig's)."""
        secret = self.secrets[provider] if secret is None else secret
        signed = dict(headers)
        if provider == "github":
            signed["X-Hub-Signature-256"] = sign_sha256(secret, body)
        elif provider == "gitlab":
            signed["X-Gitlab-Token"] = secret
        else:
            signed["X-Hub-Signature"] = sign_sha256(secret, body)
        return signed

    def send(self, client: Client, provider: str, body: bytes, headers: dict[str, str], sign: bool = True,
             secret: Optional[str] = None) -> tuple[int, dict[str, Any]]:
        """POST a delivery through the app's HTTP routes: (status, JSON answer)."""
        if sign:
            headers = self.sign(provider, body, headers, secret)
        response = client.http.post(PATHS[provider], headers=headers, body=body)
        return response.status_code, json.loads(response.body) if response.body else {}

    def send_sample(self, client: Client, name: str, edit: Any = None, **options: Any) -> tuple[int, dict[str, Any]]:
        """Send fixture ``name``; ``edit(headers, body)`` may change a copy of it first."""
        delivery = copy.deepcopy(sample(name))
        if edit:
            edit(delivery["headers"], delivery["body"])
        provider = name.split("_")[0]
        return self.send(client, provider, json.dumps(delivery["body"]).encode(), delivery["headers"], **options)


def make_webhook_rig(session: boto3.Session) -> WebhookRig:
    pipeline = make_pipeline_rig(session)
    sqs, sns, dynamodb = pipeline.client("sqs"), pipeline.client("sns"), pipeline.client("dynamodb")
    queue_url = sqs.create_queue(QueueName="webhook-requests")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=pipeline.request_topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "delivery_id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "delivery_id", "AttributeType": "S"}])
    dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True,
                                                                             "AttributeName": "expires_at"})
    rig = WebhookRig(pipeline, queue_url)
    for provider, secret in SECRETS.items():
        rig.put_secret(provider, secret)
    return rig
