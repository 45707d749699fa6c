"""After `chalice deploy`, failed asynchronous invocations go to the stack's failure queue; and
the whole side comes down again with one command."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.failure_destinations import POLICY_NAME
from tests.infra.infra_stacks import PIPELINES, PipelineStack, SourceStack, chalice, role_policy, run_infra


@pytest.fixture
def deployed_prod(pipeline_stack: PipelineStack, project: Path) -> Path:
    (project / "agent-settings.toml").write_text(PIPELINES)
    recorded = run_infra("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert recorded.returncode == 0, recorded.stderr
    done = chalice("deploy", "--stage", "prod", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def test_every_prod_function_sends_failures_to_the_queue(aws: boto3.Session, pipeline_stack: PipelineStack,
                                                         deployed_prod: Path) -> None:
    done = run_infra("failure-destinations", "--stack", pipeline_stack.name, "--stage", "prod",
                     "--project", str(deployed_prod))
    assert done.returncode == 0, done.stderr
    queue = pipeline_stack.outputs["LambdaFailureQueueArn"]
    lam = aws.client("lambda")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]
             if f["FunctionName"].startswith("pushdeploy-prod-")]
    assert {"pushdeploy-prod-build_start", "pushdeploy-prod-close", "pushdeploy-prod-notify"} <= set(names)
    for name in names:
        config = lam.get_function_event_invoke_config(FunctionName=name)
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == queue
        assert config["MaximumRetryAttempts"] == 2
        policy = role_policy(aws.client("iam"), name, POLICY_NAME)
        assert policy["Statement"] == [{"Sid": "AsyncFailureDestination", "Effect": "Allow",
                                        "Action": "sqs:SendMessage", "Resource": queue}]
    assert f"failed async invocations go to {queue}" in done.stderr


def test_failure_destinations_before_deploy_says_to_deploy_first(pipeline_stack: PipelineStack,
                                                                 project: Path) -> None:
    done = run_infra("failure-destinations", "--stack", pipeline_stack.name, "--stage", "prod",
                     "--project", str(project))
    assert done.returncode == 2
    assert "deployed/prod.json: not found - run `chalice deploy --stage prod` first" in done.stderr


def test_teardown_removes_functions_settings_and_stack(aws: boto3.Session, pipeline_stack: PipelineStack,
                                                       deployed_prod: Path) -> None:
    ssm = aws.client("ssm")
    assert ssm.get_parameter(Name=pipeline_stack.outputs["AgentSettingsParameterName"])["Parameter"]["Value"]
    done = run_infra("teardown", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(deployed_prod))
    assert done.returncode == 0, done.stderr
    assert not [f for f in aws.client("lambda").list_functions()["Functions"]
                if f["FunctionName"].startswith("pushdeploy-prod-")]
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name=pipeline_stack.outputs["AgentSettingsParameterName"])
    stacks = aws.client("cloudformation").list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert pipeline_stack.name in {s["StackName"] for s in stacks}
    assert aws.client("ecr").describe_repositories()["repositories"] == []
    assert not json.loads((deployed_prod / ".chalice" / "deployed" / "prod.json").read_text())["resources"]


def test_source_side_teardown_leaves_the_pipeline_side(aws: boto3.Session, source_stack: SourceStack,
                                                       pipeline_stack: PipelineStack, project: Path) -> None:
    done = run_infra("teardown", "--stack", source_stack.name, "--stage", "dev", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert "nothing deployed by chalice" in done.stderr
    with pytest.raises(ClientError, match="NoSuchEntity"):
        aws.client("iam").get_role(RoleName="pushdeploy-gitpull")
    (pipeline,) = aws.client("cloudformation").describe_stacks(StackName=pipeline_stack.name)["Stacks"]
    assert pipeline["StackStatus"] == "CREATE_COMPLETE"
