"""A newcomer exports AWS_REGION (as the README does) and nothing else: deploy, diff and rollback must
run, as must `python -m infra`, since boto3 alone reads only AWS_DEFAULT_REGION."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from chalicelib.region import region_from_env

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "127.0.0.1:5000/production/sample:20261126120000-bbbbbbb"
REGION = "ap-northeast-1"  # not moto's default, so a client that ignored AWS_REGION would look elsewhere


def _env_with_aws_region_only() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "PUSHDEPLOY_CONFIG")}
    env.update(AWS_REGION=REGION, PYTHONPATH=str(ROOT), AWS_CONFIG_FILE=os.devnull)
    return env


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=_env_with_aws_region_only(), capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def tokyo_service(aws: boto3.Session) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="production-cluster")
    arn = ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": IMAGE.replace("bbbbbbb", "aaaaaaa"), "memory": 64}])["taskDefinition"]
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=arn["taskDefinitionArn"],
                       desiredCount=1)


def test_aws_region_wins_over_aws_default_region() -> None:
    assert region_from_env({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1"}) == "eu-west-1"
    assert region_from_env({"AWS_DEFAULT_REGION": "us-east-1"}) == "us-east-1"
    assert region_from_env({"AWS_REGION": ""}) is None


@pytest.mark.usefixtures("tokyo_service")
def test_diff_deploy_and_rollback_run_with_aws_region_only() -> None:
    where = ["--cluster", "production-cluster", "--service", "web"]

    diff = _run("-m", "agent", "diff", *where, "--image", IMAGE)
    deploy = _run("-m", "agent", "deploy", *where, "--image", IMAGE, "--timeout", "60")
    rollback = _run("-m", "agent", "rollback", *where, "--timeout", "60")

    assert diff.returncode == 0, diff.stderr
    assert f'+      "image": "{IMAGE}",' in diff.stdout
    assert deploy.returncode == 0, deploy.stderr
    assert "production-task:1 -> production-task:2" in deploy.stdout
    assert rollback.returncode == 0, rollback.stderr


def test_infra_reads_the_stack_in_aws_region(aws: boto3.Session) -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName="marker", TemplateBody=(
        '{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Where": {"Value": "tokyo"}}}'))

    done = _run("-m", "infra", "output", "--stack", "marker", "Where")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "tokyo"


def test_the_rig_webhook_helper_reads_ssm_in_aws_region(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from localrig.git.github_webhook import secret_from_parameter

    boto3.client("ssm", region_name=REGION).put_parameter(Name="/pushdeploy/webhooks/github", Value="s3cret",
                                                          Type="SecureString")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)

    assert secret_from_parameter(env={"AWS_REGION": REGION}) == b"s3cret"
