"""Real parts for the pipeline API's tests: the request topic with a queue subscribed (to read what a
route published), the agent settings parameter in SSM, and app.py imported for a stage that has the
routes. Requests go through chalice's in-process test client (its local API Gateway), or, where API
Gateway's IAM check matters, as the proxy event API Gateway sends after verifying a signature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3

from chalicelib.contracts import BuildRequest, parse_build_request
from tests.lambda_app import SourceRig, make_source_rig

PARAMETER = "/pushdeploy/agent.toml"
ALICE = "arn:aws:iam::123456789012:user/alice"
SETTINGS = """
[agent]
region = "us-east-1"
queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-build"
close_topic_arn = "arn:aws:sns:us-east-1:123456789012:pushdeploy-close"

[[pipelines]]
repository = "sample"
branch = "production"
source_url = "https://x-access-token:ghp_SECRETTOKEN@github.example/sample.git"
source_token = "ssm:/pushdeploy/tokens/sample"
build_args = { api_key = "build-arg-secret" }
image_repository = "production/sample"

[[pipelines.deploy]]
cluster = "production-cluster"
services = ["web", "worker"]

[[pipelines]]
repository = "octo/app"
branch = "release/1.0"
source_url = "git@github.example:octo/app.git"
image_repository = "octo/app"
"""
SECRETS = ("ghp_SECRETTOKEN", "build-arg-secret", "/pushdeploy/tokens/sample", "github.example")


@dataclass
class ApiRig:
    session: boto3.Session
    topic: SourceRig

    def env(self, auth: str = "none", **overrides: str) -> dict[str, str]:
        env = {"PUSHDEPLOY_FUNCTIONS": "pipeline", "REQUEST_TOPIC_ARN": self.topic.topic_arn,
               "CLOSE_TOPIC_ARN": self.topic.topic_arn.replace("request", "close"),
               "AGENT_SETTINGS_PARAMETER": PARAMETER, "PUSHDEPLOY_API_AUTH": auth}
        env.update(overrides)
        return env

    def put_settings(self, text: str = SETTINGS) -> None:
        self.session.client("ssm").put_parameter(Name=PARAMETER, Value=text, Type="String", Overwrite=True)

    def requests(self) -> list[BuildRequest]:
        """Every build request published to the request topic so far."""
        return [parse_build_request(body) for body, _ in self.topic.published()]


def make_api_rig(session: boto3.Session) -> ApiRig:
    rig = ApiRig(session, make_source_rig(session))
    rig.put_settings()
    return rig


def post(client: Any, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    response = client.http.post(path, headers={"Content-Type": "application/json"}, body=data)
    return response.status_code, json.loads(response.body)


def gateway_event(method: str, resource: str, path: str, pipeline: str | None, body: Any,
                  user_arn: str | None) -> dict[str, Any]:
    """The REST API proxy event API Gateway sends to api_handler after its AWS_IAM check passed (identity set)
    or, with ``user_arn`` None, what an unsigned call would look like if it ever got through."""
    identity = {"sourceIp": "203.0.113.7", "userAgent": "aws-sdk", "accessKey": None, "caller": None,
                "userArn": user_arn, "accountId": None, "user": None}
    if user_arn:
        identity.update(accessKey="AKIAIOSFODNN7EXAMPLE", caller="AIDAJQABLZS4A3QDU576Q", accountId="123456789012",
                        user="AIDAJQABLZS4A3QDU576Q")
    return {
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"pipeline": pipeline} if pipeline else None, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                           "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "identity": identity},
        "body": None if body is None else json.dumps(body), "isBase64Encoded": False,
    }


def invoke_gateway(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = module.app(event, None)
    return response["statusCode"], json.loads(response["body"])

