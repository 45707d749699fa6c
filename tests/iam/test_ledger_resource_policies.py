"""The ledger judges a call that crosses a resource policy with that policy too, taken from infra/pipeline.yaml
resolved against the deployed stack (moto keeps no topic or queue policy): the source account's request
function may publish to the request topic; the same call from an account the topic does not name is denied."""

from __future__ import annotations

from typing import Any

import boto3

from infra.stage_settings import lambda_name
from localrig.ledger.context import resource_policies
from localrig.ledger.iam_requests import Facts, queue_arn
from localrig.ledger.verdicts import Verdicts, judge
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import SOURCE_ACCOUNT

STRANGER = "999988887777"


def _context(aws: boto3.Session, deployed: Deployed, recorded: dict[str, dict[str, Any]]) -> dict[str, Any]:
    stack = deployed.stacks["pipeline.yaml"]
    account, region = stack.pseudo["AWS::AccountId"], stack.pseudo["AWS::Region"]
    request = recorded["policy-dev-request"]
    role = lambda_name("pushdeploy", "dev", "request")
    return {"account": account, "region": region, "instance_tags": {},
            "resource_policies": resource_policies(aws.client, deployed.pipeline.name, Facts(account, region)),
            "parts": {"request": {"role": role, "account": SOURCE_ACCOUNT, "documents": [request]},
                      "stranger": {"role": role, "account": STRANGER, "documents": [request]}}}


def test_the_topic_and_queue_policies_are_keyed_by_arn(aws: boto3.Session, deployed: Deployed, recorded) -> None:
    context = _context(aws, deployed, recorded)
    facts = Facts(context["account"], context["region"])
    policies = context["resource_policies"]
    assert deployed.pipeline.outputs["RequestTopicArn"] in policies
    assert queue_arn(deployed.pipeline.outputs["BuildQueueUrl"], facts) in policies


def test_a_publish_is_judged_with_the_request_topics_policy(aws: boto3.Session, deployed: Deployed, recorded) -> None:
    context = _context(aws, deployed, recorded)
    topic = deployed.pipeline.outputs["RequestTopicArn"]
    calls = [{"part": part, "service": "sns", "operation": "Publish", "params": {"TopicArn": topic}}
             for part in ("request", "stranger")]
    verdicts = judge(calls, context, Verdicts())
    assert (verdicts.calls["request"], verdicts.allowed["request"]) == (1, 1)
    (denied,) = verdicts.denied
    assert (denied.part, denied.action, denied.resource) == ("stranger", "sns:Publish", topic)
    assert "cross-account" in denied.why and "resource policy" in denied.why
