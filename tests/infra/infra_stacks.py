"""Deploy infra/pipeline.yaml and infra/source.yaml into moto server, as a user would with
`aws cloudformation create-stack`, and parse the templates with cfn-lint's CloudFormation-aware
loader for what moto does not apply (topic and queue policies, subscriptions)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import decode_str

from infra import stacks
from tests.lambda_app import offline_pip_env

REPO = Path(__file__).resolve().parents[2]
PIPELINE_TEMPLATE = stacks.PIPELINE_TEMPLATE
SOURCE_TEMPLATE = stacks.SOURCE_TEMPLATE
SOURCE_ACCOUNT = "111122223333"
AGENT_URL = "s3://pushdeploy-artifacts/pushdeploy-0.1.0.tar.gz"
# an agent settings file as the operator writes it before `record` fills [agent]
PIPELINES = '''
# the sample app, built on every push to production
[[pipelines]]
repository = "sample"
branch = "production"
source_url = "codecommit::us-east-1://pushdeploy-source@sample"
image_repository = "production/sample"
build_args = { environment = "production" }

[[pipelines.deploy]]
cluster = "production-cluster"
services = ["web", "worker"]
'''


def load_template(path: Path) -> dict[str, Any]:
    template, matches = decode_str(path.read_text())
    assert not matches, matches
    return template


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def role_policy(iam: Any, role: str, name: str) -> dict[str, Any]:
    """moto returns a role's inline policy as the Python repr of the dict CloudFormation gave it."""
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        try:
            return json.loads(document)
        except json.JSONDecodeError:
            return ast.literal_eval(document)
    return document


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in document["Statement"] if isinstance(s, dict) and s.get("Sid") == sid]
    assert len(found) == 1, f"statement {sid} in {document}"
    return found[0]


def resources(stmt: dict[str, Any]) -> list[str]:
    """Resource as a list; moto leaves AWS::NoValue in lists as None where CloudFormation drops it."""
    value = stmt["Resource"]
    return [r for r in (value if isinstance(value, list) else [value]) if r is not None]


def create_stack(session: boto3.Session, name: str, template: Path, params: dict[str, str]) -> dict[str, str]:
    return stacks.create_stack(session.client("cloudformation"), name, template, params).values


@dataclass(frozen=True)
class PipelineStack:
    name: str
    params: dict[str, str]
    outputs: dict[str, str]


@dataclass(frozen=True)
class SourceStack:
    name: str
    params: dict[str, str]
    outputs: dict[str, str]


def pipeline_params(session: boto3.Session, **overrides: str) -> dict[str, str]:
    ec2 = session.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]
    params = {
        "SourceAccountId": SOURCE_ACCOUNT,
        "EcrRepositories": "production/sample,production/api",
        "EcsClusterName": "production-cluster",
        "EcsServiceNames": "web,worker",
        "PassRoleNames": "sample-task,ecsTaskExecutionRole",
        "VpcId": subnet["VpcId"],
        "SubnetId": subnet["SubnetId"],
        "AgentSourceUrl": AGENT_URL,
    }
    params.update(overrides)
    return params


def deploy_pipeline(session: boto3.Session, name: str = "pushdeploy-pipeline", **overrides: str) -> PipelineStack:
    params = pipeline_params(session, **overrides)
    return PipelineStack(name, params, create_stack(session, name, PIPELINE_TEMPLATE, params))


def deploy_source(session: boto3.Session, pipeline: PipelineStack, name: str = "pushdeploy-source",
                  **overrides: str) -> SourceStack:
    params = {
        "RequestTopicArn": pipeline.outputs["RequestTopicArn"],
        "BuilderRoleArn": pipeline.outputs["BuilderRoleArn"],
        "Repositories": "sample,api",
        "BranchPatterns": "production,release/*",
    }
    params.update(overrides)
    return SourceStack(name, params, create_stack(session, name, SOURCE_TEMPLATE, params))


def run_infra(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as the user types it, in a child process with the test's AWS environment."""
    return subprocess.run([sys.executable, "-m", "infra", *args], cwd=REPO, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)


def chalice(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).with_name("chalice")
    return subprocess.run([str(binary), *args], cwd=cwd, env=offline_pip_env(dict(os.environ)),
                          capture_output=True, text=True, timeout=600)
