"""The template resolver gives the documents AWS would hold: for IAM roles (which moto does create from the
template) it must agree with moto exactly, which is what lets the topic and queue policies (which moto
ignores) be trusted when they are resolved the same way."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localrig.iam.cfn_policies import ResolveError, Stack, resolved, template_policies, without_nulls
from tests.iam.conftest import Deployed
from tests.infra.infra_stacks import role_policy


def test_every_role_policy_resolves_to_what_moto_created(aws: boto3.Session, deployed: Deployed) -> None:
    iam = aws.client("iam")
    compared = 0
    for policy in deployed.policies:
        if policy.resource_type != "AWS::IAM::Role" or policy.label == "AssumeRolePolicyDocument":
            continue
        role = _physical_id(deployed, policy.logical_id)
        name = policy.label.split(" ", 1)[1]
        assert name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert without_nulls(role_policy(iam, role, name)) == policy.document, policy.name
        compared += 1
    assert compared >= 2  # the builder's and the git-pull role's


def test_every_trust_policy_resolves_to_what_moto_created(aws: boto3.Session, deployed: Deployed) -> None:
    iam = aws.client("iam")
    trusts = [p for p in deployed.policies if p.label == "AssumeRolePolicyDocument"]
    assert trusts
    for policy in trusts:
        created = iam.get_role(RoleName=_physical_id(deployed, policy.logical_id))["Role"]["AssumeRolePolicyDocument"]
        assert without_nulls(created) == policy.document, policy.name


def test_every_document_resolves_to_plain_json(deployed: Deployed) -> None:
    kinds = {p.resource_type for p in deployed.policies}
    assert {"AWS::IAM::Role", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"} <= kinds
    for policy in deployed.policies:
        text = json.dumps(policy.document)
        assert '"Ref"' not in text and '"Fn::' not in text and "${AWS::" not in text, policy.name


def _physical_id(deployed: Deployed, logical_id: str) -> str:
    return next(s.physical_ids[logical_id] for s in deployed.stacks.values() if logical_id in s.physical_ids)


def _stack(template: dict[str, Any], **parameters: str) -> Stack:
    def attribute(kind: str, logical_id: str, physical_id: str, name: str) -> str:
        return f"{kind}|{physical_id}|{name}"

    return Stack(template, parameters, {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
                                        "AWS::Partition": "aws", "AWS::StackName": "s"},
                 {"Queue": "https://q", "Extra": "https://extra", "Topic": "arn:aws:sns:eu-west-1:123456789012:t"},
                 attribute)


TEMPLATE: dict[str, Any] = {
    "Conditions": {"Two": {"Fn::Not": [{"Fn::Equals": ["", {"Fn::Select": [1, {"Fn::Split": [
        ",", {"Fn::Join": ["", [{"Ref": "Names"}, ",,"]]}]}]}]}]}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"}, "Topic": {"Type": "AWS::SNS::Topic"},
        "Extra": {"Type": "AWS::SQS::Queue", "Condition": "Two"},
        "Policy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                 "Resource": [{"Fn::GetAtt": ["Queue", "Arn"]}, {"Fn::If": ["Two", "second", {"Ref": "AWS::NoValue"}]}],
                 "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}}},
                {"Fn::If": ["Two", {"Effect": "Deny"}, {"Ref": "AWS::NoValue"}]},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": [
                    "arn:${AWS::Partition}:s3:::${Bucket}/${!aws:username}/${Topic.TopicName}", {"Bucket": "b"}]}},
            ]}}},
        "ExtraPolicy": {"Type": "AWS::SQS::QueuePolicy", "Condition": "Two",
                        "Properties": {"Queues": [{"Ref": "Extra"}], "PolicyDocument": {"Statement": []}}},
    },
}


def test_intrinsics_conditions_and_no_value() -> None:
    (policy,) = resolved(_stack(TEMPLATE, Names="one"), template_policies(TEMPLATE))
    assert policy.attached_to == ["https://q"]
    assert policy.document["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
         "Resource": ["AWS::SQS::Queue|https://q|Arn"],
         "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:123456789012:t"}}},
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::b/${aws:username}/AWS::SNS::Topic|arn:aws:sns:eu-west-1:123456789012:t|TopicName"},
    ]
    two = resolved(_stack(TEMPLATE, Names="one,two"), template_policies(TEMPLATE))
    assert [len(p.document["Statement"]) for p in two] == [3, 0]  # the conditional statement and resource exist
    assert two[0].document["Statement"][0]["Resource"][1] == "second"


@pytest.mark.parametrize("node", [{"Fn::ImportValue": "x"}, {"Ref": "Nothing"}, {"Fn::GetAtt": ["Nothing", "Arn"]}])
def test_what_it_cannot_resolve_is_an_error(node: Any) -> None:
    with pytest.raises((ResolveError, KeyError)):
        _stack(TEMPLATE).resolve(node)
