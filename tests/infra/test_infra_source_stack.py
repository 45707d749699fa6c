"""The source account's stack: the role the builder assumes to git-pull exactly the named
repositories, and the failure queue of the request functions."""

from __future__ import annotations

import re

import boto3

from tests.infra.infra_stacks import SOURCE_TEMPLATE, SourceStack, load_template, resources, role_policy, statement


def test_only_the_builder_role_may_assume_the_git_pull_role(aws: boto3.Session, source_stack: SourceStack) -> None:
    iam = aws.client("iam")
    role = iam.get_role(RoleName="pushdeploy-gitpull")["Role"]
    assert role["Arn"] == source_stack.outputs["GitPullRoleArn"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": source_stack.params["BuilderRoleArn"]}
    assert trust["Action"] == "sts:AssumeRole"


def test_git_pull_is_allowed_on_the_named_repositories_only(aws: boto3.Session, source_stack: SourceStack) -> None:
    policy = role_policy(aws.client("iam"), "pushdeploy-gitpull", "pushdeploy-gitpull")
    pull = statement(policy, "PullTheNamedRepositories")
    assert pull["Action"] == "codecommit:GitPull"
    assert resources(pull) == ["arn:aws:codecommit:us-east-1:123456789012:sample",
                               "arn:aws:codecommit:us-east-1:123456789012:api"]
    assert len(policy["Statement"]) == 1


def test_outputs_carry_what_the_dev_stage_records(aws: boto3.Session, source_stack: SourceStack) -> None:
    out = source_stack.outputs
    assert out["PushdeployStackKind"] == "source"
    assert out["RequestTopicArn"] == source_stack.params["RequestTopicArn"]
    assert out["Repositories"] == "sample,api" and out["BranchPatterns"] == "production,release/*"
    attrs = aws.client("sqs").get_queue_attributes(QueueUrl=out["LambdaFailureQueueUrl"],
                                                   AttributeNames=["QueueArn", "MessageRetentionPeriod"])
    assert attrs["Attributes"]["QueueArn"] == out["LambdaFailureQueueArn"]
    assert attrs["Attributes"]["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_the_request_topic_parameter_takes_the_fifo_topic_and_a_standard_one_not_yet_migrated() -> None:
    pattern = re.compile(load_template(SOURCE_TEMPLATE)["Parameters"]["RequestTopicArn"]["AllowedPattern"])
    assert pattern.match("arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-pipeline-request.fifo")
    assert pattern.match("arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-pipeline-request")
    assert pattern.match("arn:aws:sns:us-east-1:111122223333:" + "a" * 251 + ".fifo")
    for wrong in ("arn:aws:sns:us-east-1:111122223333:x.fifo.fifo", "arn:aws:sns:us-east-1:111122223333:a.b",
                  "arn:aws:sns:us-east-1:111122223333:" + "a" * 252 + ".fifo", "pushdeploy-pipeline-request.fifo"):
        assert not pattern.match(wrong), wrong
