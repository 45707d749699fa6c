"""The call -> IAM request table: the action (where it differs from the operation), the resource ARNs a call
only implies, the implied calls, the condition keys known at the call, and a loud error for an operation the
table does not know. The last test keeps the table complete: every botocore operation the product's code names
must be in it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import parliament
import pytest
from botocore import xform_name

from localrig.ledger.iam_requests import TABLE, Call, Facts, UnknownOperation, iam_requests

REPO = Path(__file__).resolve().parents[2]
FACTS = Facts("111122223333", "ap-northeast-1", {
    "i-0a": {"pushdeploy:role": "builder", "Name": "b1"}, "i-0b": {"pushdeploy:role": "other"}})
QUEUE_URL = "https://sqs.ap-northeast-1.amazonaws.com/111122223333/pushdeploy-build.fifo"
QUEUE_ARN = "arn:aws:sqs:ap-northeast-1:111122223333:pushdeploy-build.fifo"


def one(service_name: str, operation: str, **params) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in iam_requests(Call(service_name, operation, params), FACTS)]


def test_batch_operations_are_authorized_as_their_single_actions_on_the_queue_arn() -> None:
    assert one("sqs", "DeleteMessageBatch", QueueUrl=QUEUE_URL) == [("sqs:DeleteMessage", QUEUE_ARN)]
    assert one("sqs", "ChangeMessageVisibilityBatch", QueueUrl=QUEUE_URL) == [
        ("sqs:ChangeMessageVisibility", QUEUE_ARN)]
    moto_url = "http://127.0.0.1:5000/123456789012/build"
    assert one("sqs", "ReceiveMessage", QueueUrl=moto_url) == [
        ("sqs:ReceiveMessage", "arn:aws:sqs:ap-northeast-1:123456789012:build")]


def test_instances_are_one_request_each_with_their_tags_as_both_condition_prefixes() -> None:
    found = iam_requests(Call("ec2", "StopInstances", {"InstanceIds": ["i-0a", "i-0b"]}), FACTS)
    assert [r.resource for r in found] == ["arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a",
                                           "arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0b"]
    assert found[0].context["aws:ResourceTag/pushdeploy:role"] == "builder"
    assert found[0].context["ec2:ResourceTag/pushdeploy:role"] == "builder"
    assert found[1].context["aws:ResourceTag/pushdeploy:role"] == "other"


def test_create_tags_carries_request_tags_tag_keys_and_the_calling_instance() -> None:
    call = Call("ec2", "CreateTags", {"Resources": ["i-0a"], "Tags": [{"Key": "pushdeploy:agent", "Value": "1"}]},
                instance="i-0a")
    (request,) = iam_requests(call, FACTS)
    arn = "arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a"
    assert (request.action, request.resource) == ("ec2:CreateTags", arn)
    assert request.context["aws:RequestTag/pushdeploy:agent"] == "1"
    assert request.context["aws:TagKeys"] == ["pushdeploy:agent"]
    assert request.context["aws:ARN"] == request.context["ec2:SourceInstanceARN"] == arn


def test_register_task_definition_implies_pass_role_and_tag_resource() -> None:
    found = iam_requests(Call("ecs", "RegisterTaskDefinition", {
        "family": "web", "taskRoleArn": "arn:aws:iam::111122223333:role/app", "executionRoleArn": "exec",
        "tags": [{"key": "pushdeploy:commit", "value": "abc"}]}), FACTS)
    assert [(r.action, r.resource) for r in found] == [
        ("ecs:RegisterTaskDefinition", "arn:aws:ecs:ap-northeast-1:111122223333:task-definition/web:*"),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/app"),
        ("iam:PassRole", "arn:aws:iam::111122223333:role/exec"),
        ("ecs:TagResource", "arn:aws:ecs:ap-northeast-1:111122223333:task-definition/web:*")]
    assert found[1].context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    assert found[1].implied_by and found[3].implied_by
    assert found[3].context["ecs:CreateAction"] == "RegisterTaskDefinition"
    assert one("ecs", "RegisterTaskDefinition", family="web") == [
        ("ecs:RegisterTaskDefinition", "arn:aws:ecs:ap-northeast-1:111122223333:task-definition/web:*")]


def test_service_cluster_parameter_log_and_table_arns() -> None:
    assert one("ecs", "DescribeServices", cluster="production", services=["web", "other"]) == [
        ("ecs:DescribeServices", "arn:aws:ecs:ap-northeast-1:111122223333:service/production/web"),
        ("ecs:DescribeServices", "arn:aws:ecs:ap-northeast-1:111122223333:service/production/other")]
    assert one("ecs", "UpdateService", service="web") == [
        ("ecs:UpdateService", "arn:aws:ecs:ap-northeast-1:111122223333:service/default/web")]
    assert one("ssm", "GetParameter", Name="/pushdeploy/x") == [
        ("ssm:GetParameter", "arn:aws:ssm:ap-northeast-1:111122223333:parameter/pushdeploy/x")]
    assert one("ssm", "GetParameter", Name="plain") == [
        ("ssm:GetParameter", "arn:aws:ssm:ap-northeast-1:111122223333:parameter/plain")]
    assert one("logs", "PutLogEvents", logGroupName="/pushdeploy/builds", logStreamName="b-1") == [
        ("logs:PutLogEvents", "arn:aws:logs:ap-northeast-1:111122223333:log-group:/pushdeploy/builds:log-stream:b-1")]
    assert one("dynamodb", "Query", TableName="history", IndexName="by-pipeline") == [
        ("dynamodb:Query", "arn:aws:dynamodb:ap-northeast-1:111122223333:table/history/index/by-pipeline")]
    assert one("cloudwatch", "GetMetricStatistics", Namespace="AWS/SQS") == [("cloudwatch:GetMetricStatistics", "*")]


def test_calls_iam_does_not_authorize_make_no_request() -> None:
    assert one("sts", "GetCallerIdentity") == []


def test_an_operation_not_in_the_table_is_an_error_naming_it() -> None:
    with pytest.raises(UnknownOperation, match="sqs PurgeQueue"):
        iam_requests(Call("sqs", "PurgeQueue", {"QueueUrl": QUEUE_URL}), FACTS)


SERVICES = ("sqs", "sns", "ec2", "ecs", "ecr", "ssm", "logs", "dynamodb", "cloudwatch", "sts", "secretsmanager")


def test_every_operation_the_product_code_names_is_in_the_table() -> None:
    """A method name of a botocore client in chalicelib/, agent/ or app.py (called, or passed as a callable)."""
    session = botocore.session.get_session()
    operations = {(xform_name(op), svc, op) for svc in SERVICES
                  for op in session.get_service_model(svc).operation_names}
    sources = [p for d in ("chalicelib", "agent") for p in (REPO / d).rglob("*.py")] + [REPO / "app.py"]
    named = {n for p in sources for n in re.findall(r"\.([a-z][a-z0-9_]+)\b", p.read_text())}
    used = {(svc, op) for snake, svc, op in operations if snake in named and ("_" in snake or snake == "publish")}
    assert len(used) > 25, "the scan found too few operations to be trusted"
    assert sorted(f"{svc} {op}" for svc, op in used if (svc, op) not in TABLE) == []


# one set of parameters every table entry can read what it needs from
EVERY_PARAMETER = {
    "QueueUrl": QUEUE_URL, "QueueName": "q", "TopicArn": "arn:aws:sns:ap-northeast-1:111122223333:t",
    "InstanceIds": ["i-0a"], "Resources": ["i-0a"], "Tags": [{"Key": "k", "Value": "v"}], "cluster": "c",
    "services": ["s"], "service": "s", "family": "f", "TableName": "t", "Name": "/p", "logGroupName": "g",
    "logStreamName": "s", "repositoryName": "r", "SecretId": "s", "RoleArn": "arn:aws:iam::111122223333:role/r",
}


def _privileges() -> dict[str, dict[str, Any]]:
    """IAM's actions as parliament's offline copy of the Service Authorization Reference lists them."""
    definition = json.loads((Path(parliament.__file__).parent / "iam_definition.json").read_text())
    return {f"{s['prefix']}:{p['privilege']}".lower(): p for s in definition for p in s["privileges"]}


def test_each_entry_names_an_iam_action_with_a_resource_exactly_where_aws_documents_one() -> None:
    """``*`` only for actions without a required resource type (``type*`` in the reference), an ARN only for
    actions with resource types."""
    privileges = _privileges()
    wrong = []
    for (service_name, operation), build in TABLE.items():
        for request in build(Call(service_name, operation, EVERY_PARAMETER), FACTS):
            privilege = privileges.get(request.action.lower())
            if privilege is None:
                wrong.append(f"{service_name} {operation}: {request.action} is not an IAM action")
                continue
            types = [r["resource_type"] for r in privilege["resource_types"] if r["resource_type"]]
            required = any(t.endswith("*") for t in types)
            if (request.resource == "*" and required) or (request.resource != "*" and not types):
                wrong.append(f"{service_name} {operation}: {request.action} on {request.resource} (resource types "
                             f"{types or 'none'})")
    assert wrong == []


@pytest.mark.parametrize("service", ["sqs", "sns", "cloudwatch"])
def test_moto_enforces_the_action_the_ledger_judges(service: str) -> None:
    """localrig/aws/iam.py renames moto's action where IAM's differs from the operation (the *Batch operations,
    CloudWatch's ``monitoring`` signing name); it must name what this table names, or moto and the ledger would
    judge two different actions."""
    from localrig.aws.iam import iam_action

    signing = botocore.session.get_session().get_service_model(service).signing_name
    params = {"QueueUrl": QUEUE_URL, "QueueName": "pushdeploy-build.fifo",
              "TopicArn": "arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-request.fifo"}
    operations = [op for (name, op) in TABLE if name == service]
    assert operations
    for op in operations:
        [judged] = [r.action for r in iam_requests(Call(service, op, params), FACTS) if not r.implied_by]
        assert iam_action(f"{signing}:{op}") == judged, op
