"""`infra.stacks.create_stack` (what the local rig and the tests use instead of the AWS CLI)
returns the outputs of a complete stack and names the stack when CloudFormation refuses it."""

from __future__ import annotations

import boto3
import pytest

from infra import StackError
from infra.stacks import SOURCE_TEMPLATE, create_stack


def test_a_refused_stack_is_named(aws: boto3.Session) -> None:
    with pytest.raises(StackError, match="stack half: create failed"):
        create_stack(aws.client("cloudformation"), "half", SOURCE_TEMPLATE, {"Repositories": "sample"})


def test_outputs_of_a_complete_stack(aws: boto3.Session) -> None:
    outputs = create_stack(aws.client("cloudformation"), "src", SOURCE_TEMPLATE, {
        "RequestTopicArn": "arn:aws:sns:us-east-1:123456789012:t",
        "BuilderRoleArn": "arn:aws:iam::123456789012:role/b", "Repositories": "sample"})
    assert outputs.kind == "source"
    assert (outputs.region, outputs.account, outputs.partition) == ("us-east-1", "123456789012", "aws")
    assert outputs.get("GitPullRoleArn") == "arn:aws:iam::123456789012:role/pushdeploy-gitpull"
