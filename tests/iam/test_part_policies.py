"""The rig signs each part with the policy it holds on AWS (localrig/iam/part_policies.py): the Chalice files as
`python -m infra record` writes them for the rig's stack, the builder's role as CloudFormation made it, and
for moto a widened copy that keeps every action and no resource or condition."""

from __future__ import annotations

from typing import Any

import boto3

from infra.failure_destinations import send_policy
from localrig.iam.part_policies import BUILDER, FUNCTION_STAGES, part_policies, widened
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import statement


def _actions(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for stmt in document["Statement"]:
        if stmt["Effect"] == "Allow":
            actions = stmt.get("Action", [])
            found.update(actions if isinstance(actions, list) else [actions])
    return found


def test_each_function_holds_its_recorded_policy_file(aws: boto3.Session, deployed: Deployed,
                                                      recorded: dict[str, dict[str, Any]]) -> None:
    parts = part_policies(aws.client, deployed.pipeline.name)
    failures = send_policy(deployed.pipeline.outputs["LambdaFailureQueueArn"])
    for function, stage in FUNCTION_STAGES.items():
        assert parts[function].documents[1:] == (failures,), function  # what infra failure-destinations adds
        if stage == "prod":
            assert parts[function].documents[0] == recorded[f"policy-prod-{function}"], function
    topic = aws.client("cloudformation").describe_stacks(StackName=deployed.pipeline.name)["Stacks"][0]["Outputs"]
    topic_arn = next(o["OutputValue"] for o in topic if o["OutputKey"] == "RequestTopicArn")
    for function in ("request", "request_events"):  # the one-account rig: the source side names the same topic
        assert statement(parts[function].documents[0], "PublishBuildRequests")["Resource"] == topic_arn


def test_the_builder_holds_the_stack_role_policy(aws: boto3.Session, deployed: Deployed) -> None:
    builder = part_policies(aws.client, deployed.pipeline.name)[BUILDER]
    queue_arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=deployed.pipeline.outputs["BuildQueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    (document,) = builder.documents
    assert statement(document, "BuildQueue")["Resource"] == queue_arn
    assert "None" not in str(document)  # AWS::NoValue dropped, as CloudFormation drops it


def test_widened_keeps_every_allowed_action_on_any_resource_without_conditions(
        aws: boto3.Session, deployed: Deployed) -> None:
    for part in part_policies(aws.client, deployed.pipeline.name).values():
        for document in part.documents:
            wide = widened(document)
            assert _actions(wide) == _actions(document), part.part
            assert all(s["Resource"] == "*" and "Condition" not in s and s["Effect"] == "Allow"
                       for s in wide["Statement"]), part.part


def test_widened_drops_a_deny_that_would_refuse_everything() -> None:
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:1:q",
         "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}},
        {"Effect": "Deny", "Action": "sqs:*", "NotResource": "arn:aws:sqs:us-east-1:1:q"}]}
    assert widened(document)["Statement"] == [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
