"""Bad input to `python -m infra record` gets an error naming the stack, file or key, and the
files it would have written stay as they were."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.infra.infra_stacks import PIPELINES, PipelineStack, run_infra


def _snapshot(project: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in (project / ".chalice").glob("*.json")}


def test_a_missing_stack_is_named(aws: boto3.Session, project: Path) -> None:
    before = _snapshot(project)
    done = run_infra("record", "--stack", "nope", "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert "stack nope:" in done.stderr and "does not exist" in done.stderr
    assert _snapshot(project) == before


def test_a_stack_not_made_from_our_templates_is_refused(aws: boto3.Session, project: Path) -> None:
    body = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}, "Outputs": {"Url": {"Value": {"Ref": "Q"}}}}
    aws.client("cloudformation").create_stack(StackName="other", TemplateBody=json.dumps(body))
    before = _snapshot(project)
    done = run_infra("record", "--stack", "other", "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert "stack other: output PushdeployStackKind is ''" in done.stderr
    assert _snapshot(project) == before


def test_broken_config_json_is_named_with_its_line(pipeline_stack: PipelineStack, project: Path) -> None:
    config = project / ".chalice" / "config.json"
    config.write_text('{"stages": {\n  "prod": ,\n}}\n')
    done = run_infra("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert f"{config}: not valid JSON: line 2" in done.stderr
    assert config.read_text() == '{"stages": {\n  "prod": ,\n}}\n'


def test_without_pipelines_the_agent_settings_are_written_but_not_uploaded(
        aws: boto3.Session, pipeline_stack: PipelineStack, project: Path) -> None:
    done = run_infra("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert "agent-settings.toml: pipelines: none configured" in done.stderr
    assert "nothing was uploaded" in done.stderr
    text = (project / "agent-settings.toml").read_text()
    assert text.startswith("[agent]\n") and "# [[pipelines]]" in text
    with pytest.raises(ClientError, match="ParameterNotFound"):
        aws.client("ssm").get_parameter(Name=pipeline_stack.outputs["AgentSettingsParameterName"])


def test_a_typo_in_the_pipelines_stops_the_upload_with_the_key_named(
        aws: boto3.Session, pipeline_stack: PipelineStack, project: Path) -> None:
    (project / "agent-settings.toml").write_text(PIPELINES.replace("image_repository", "image_repo"))
    done = run_infra("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert "pipelines[0].image_repo: unknown key" in done.stderr
    with pytest.raises(ClientError, match="ParameterNotFound"):
        aws.client("ssm").get_parameter(Name=pipeline_stack.outputs["AgentSettingsParameterName"])


def test_recording_both_stacks_into_one_stage_registers_all_functions(
        pipeline_stack: PipelineStack, project: Path, aws: boto3.Session) -> None:
    """The one-account variant: one stage, both stacks recorded into it."""
    from tests.infra.infra_stacks import deploy_source

    source = deploy_source(aws, pipeline_stack)
    (project / "agent-settings.toml").write_text(PIPELINES)
    for stack in (pipeline_stack.name, source.name):
        done = run_infra("record", "--stack", stack, "--stage", "solo", "--one-account", "--project", str(project))
        assert done.returncode == 0, done.stderr
    env = json.loads((project / ".chalice" / "config.json").read_text())["stages"]["solo"]["environment_variables"]
    assert env["PUSHDEPLOY_FUNCTIONS"] == "all"
    assert env["BUILD_QUEUE_URL"] == pipeline_stack.outputs["BuildQueueUrl"]
    assert "BRANCH_FILTER" in env


def test_every_command_has_help() -> None:
    for command in ("record", "failure-destinations", "output", "teardown"):
        done = run_infra(command, "--help")
        assert done.returncode == 0 and "--stack" in done.stdout


def test_output_prints_one_value(pipeline_stack: PipelineStack) -> None:
    done = run_infra("output", "--stack", pipeline_stack.name, "RequestTopicArn")
    assert done.returncode == 0 and done.stdout.strip() == pipeline_stack.outputs["RequestTopicArn"]
    missing = run_infra("output", "--stack", pipeline_stack.name, "Nope")
    assert missing.returncode == 2 and "output Nope is missing" in missing.stderr


def test_recording_a_stack_into_the_other_sides_stage_is_refused(
        aws: boto3.Session, pipeline_stack: PipelineStack, project: Path) -> None:
    from tests.infra.infra_stacks import deploy_source

    source = deploy_source(aws, pipeline_stack)
    before = _snapshot(project)
    done = run_infra("record", "--stack", source.name, "--stage", "prod", "--project", str(project))
    assert done.returncode == 2
    assert "stages.prod: PUSHDEPLOY_FUNCTIONS is 'pipeline' but this is a source stack" in done.stderr
    assert "--one-account" in done.stderr
    assert _snapshot(project) == before
