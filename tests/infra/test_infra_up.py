"""`python -m infra up` against moto server, as a user runs it: both stacks, both records, chalice deploy and
the failure destinations, for two accounts and for one; a failure stops it with the `--from` that resumes it;
a re-run converges; `--plan` runs nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from tests.infra.infra_stacks import PIPELINES, REPO, pipeline_params
from tests.lambda_app import offline_pip_env

SOURCE = ["--source-parameters", "Repositories=sample", "BranchPatterns=production"]


def up(project: Path, session: boto3.Session, *extra: str) -> subprocess.CompletedProcess[str]:
    params = {k: v for k, v in pipeline_params(session).items() if k != "SourceAccountId"}  # STS gives it
    argv = [sys.executable, "-m", "infra", "up", "--project", str(project),
            "--pipeline-parameters", *(f"{k}={v}" for k, v in params.items()), *SOURCE, *extra]
    env = offline_pip_env({k: v for k, v in os.environ.items() if not k.startswith("PUSHDEPLOY")})
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)


def functions(session: boto3.Session) -> dict[str, str]:
    """name -> the ARN of its on-failure destination ('' when it has none)."""
    lam = session.client("lambda")
    found = {}
    for fn in lam.get_paginator("list_functions").paginate().build_full_result()["Functions"]:
        try:
            config = lam.get_function_event_invoke_config(FunctionName=fn["FunctionName"])
            found[fn["FunctionName"]] = config["DestinationConfig"]["OnFailure"]["Destination"]
        except lam.exceptions.ResourceNotFoundException:
            found[fn["FunctionName"]] = ""
    return found


def stage_env(project: Path, stage: str) -> dict[str, str]:
    return json.loads((project / ".chalice" / "config.json").read_text())["stages"][stage]["environment_variables"]


def outputs(session: boto3.Session, stack: str) -> dict[str, str]:
    [found] = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in found["Outputs"]}


def test_two_accounts_stop_at_a_missing_pipeline_resume_and_converge(aws: boto3.Session, project: Path) -> None:
    first = up(project, aws)

    assert first.returncode == 2, first.stdout + first.stderr
    assert "python -m infra: error: step 2/8 record-pipeline failed:" in first.stderr
    assert "pipelines: none configured" in first.stderr
    resume = first.stderr.strip().splitlines()[-1]
    assert resume.startswith("fix that, then resume with: python -m infra up ") and \
        resume.endswith(" --from record-pipeline"), resume

    with (project / "agent-settings.toml").open("a") as settings:
        settings.write(PIPELINES)
    resumed = up(project, aws, "--from", "record-pipeline")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    pipeline = outputs(aws, "pushdeploy-pipeline")
    source = outputs(aws, "pushdeploy-source")
    deployed = functions(aws)
    assert {"pushdeploy-prod-build_start", "pushdeploy-prod-close", "pushdeploy-prod-notify",
            "pushdeploy-dev-request", "pushdeploy-dev-request_events"} <= set(deployed)
    assert all(arn == pipeline["LambdaFailureQueueArn"] for name, arn in deployed.items() if "-prod-" in name)
    assert all(arn == source["LambdaFailureQueueArn"] for name, arn in deployed.items() if "-dev-" in name)
    assert stage_env(project, "prod")["BUILD_QUEUE_URL"] == pipeline["BuildQueueUrl"]
    assert stage_env(project, "dev")["REQUEST_TOPIC_ARN"] == pipeline["RequestTopicArn"]
    uploaded = aws.client("ssm").get_parameter(Name=pipeline["AgentSettingsParameterName"])["Parameter"]["Value"]
    assert uploaded == (project / "agent-settings.toml").read_text()

    again = up(project, aws)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "step 8/8 failure-destinations-dev" in again.stderr
    assert "stack pushdeploy-pipeline: no changes" in again.stderr
    assert "stack pushdeploy-source: no changes" in again.stderr
    assert functions(aws) == deployed
    assert outputs(aws, "pushdeploy-pipeline") == pipeline


def test_one_account_deploys_stage_all_and_converges(aws: boto3.Session, project: Path) -> None:
    (project / "agent-settings.toml").write_text(PIPELINES)

    first = up(project, aws, "--one-account")

    assert first.returncode == 0, first.stdout + first.stderr
    deployed = functions(aws)
    pipeline = outputs(aws, "pushdeploy-pipeline")
    assert {"pushdeploy-all-request", "pushdeploy-all-build_start", "pushdeploy-all-notify"} <= set(deployed)
    assert not any("-prod-" in name or "-dev-" in name for name in deployed)
    assert set(deployed.values()) == {pipeline["LambdaFailureQueueArn"]}
    assert stage_env(project, "all")["PUSHDEPLOY_FUNCTIONS"] == "all"
    params = aws.client("cloudformation").describe_stacks(StackName="pushdeploy-pipeline")["Stacks"][0]["Parameters"]
    assert {"ParameterKey": "RequestRoleNames",
            "ParameterValue": "pushdeploy-all-request,pushdeploy-all-request_events"} in params

    again = up(project, aws, "--one-account")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "stack pushdeploy-pipeline: no changes" in again.stderr
    assert functions(aws) == deployed


def test_plan_prints_every_step_and_runs_nothing(aws: boto3.Session, project: Path) -> None:
    before = {p: p.read_bytes() for p in (project / ".chalice").glob("*.json")}

    done = up(project, aws, "--plan", "--profile", "pipeline", "--source-profile", "source")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "step 1/8 pipeline-stack", "step 2/8 record-pipeline", "step 3/8 chalice-prod",
        "step 4/8 failure-destinations-prod", "step 5/8 source-stack", "step 6/8 record-source",
        "step 7/8 chalice-dev", "step 8/8 failure-destinations-dev"]
    assert "aws cloudformation deploy --profile pipeline --stack-name pushdeploy-pipeline" in lines[0]
    assert lines[2].endswith("AWS_PROFILE=pipeline chalice deploy --stage prod")
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []
    assert {p: p.read_bytes() for p in (project / ".chalice").glob("*.json")} == before
    assert not (project / "agent-settings.toml").exists()
