"""Deploy the pipeline stack, record its outputs, `chalice deploy --stage prod` with them; then
the source stack, record, `chalice deploy --stage dev`. Nobody copies an ARN by hand."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import boto3

from agent.config import parse_config
from tests.infra.infra_stacks import PIPELINES, PipelineStack, SourceStack, chalice, run_infra


def _env(project: Path, stage: str) -> dict[str, str]:
    return json.loads((project / ".chalice" / "config.json").read_text())["stages"][stage]["environment_variables"]


def _policy(project: Path, name: str) -> dict:
    return json.loads((project / ".chalice" / name).read_text())


def _resource(document: dict, sid: str) -> str:
    (stmt,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return stmt["Resource"]


WEBHOOK_URL = "https://hooks.slack.com/services/T0000/B0000/not-a-real-secret"


def test_record_then_chalice_deploy_prod(aws: boto3.Session, pipeline_stack: PipelineStack, project: Path) -> None:
    (project / "agent-settings.toml").write_text(PIPELINES)
    aws.client("ssm").put_parameter(Name=pipeline_stack.outputs["SlackWebhookParameterName"], Value=WEBHOOK_URL,
                                    Type="SecureString")  # as the README has the user do before record
    before = json.loads((project / ".chalice" / "config.json").read_text())

    done = run_infra("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert done.returncode == 0, done.stderr

    out = pipeline_stack.outputs
    env = _env(project, "prod")
    assert env["REQUEST_TOPIC_ARN"] == out["RequestTopicArn"]
    assert env["CLOSE_TOPIC_ARN"] == out["CloseTopicArn"]
    assert env["BUILDER_INSTANCE_IDS"] == out["BuilderInstanceIds"]
    assert "BUILDER_INSTANCE_ID" not in env, "the pool's setting replaces the one-builder one"
    assert env["WAKE_QUEUE_ARN"] == out["WakeQueueArn"]
    assert env["BUILD_QUEUE_URL"] == out["BuildQueueUrl"]
    assert env["BUILDER_TAG"] == "pushdeploy:role=builder"
    assert env["SLACK_WEBHOOK_PARAMETER"] == "/pushdeploy/slack-webhook-url"
    assert env["PUSHDEPLOY_FUNCTIONS"] == "pipeline"
    assert env["DEAD_LETTER_QUEUE_URL"] == out["BuildDeadLetterQueueUrl"]
    after = json.loads((project / ".chalice" / "config.json").read_text())
    assert after["stages"]["dev"] == before["stages"]["dev"], "recording prod must not touch dev"
    assert after["stages"]["prod"]["lambda_functions"] == before["stages"]["prod"]["lambda_functions"]
    instance_arn = [f"arn:aws:ec2:us-east-1:123456789012:instance/{out['BuilderInstanceId']}"]
    assert _resource(_policy(project, "policy-prod-build_start.json"), "StartOnlyTheBuilder") == instance_arn
    assert _resource(_policy(project, "policy-prod-close.json"), "StopOnlyTheBuilder") == instance_arn
    assert _resource(_policy(project, "policy-prod-build_start.json"), "ConsumeWakeQueue") == out["WakeQueueArn"]
    assert _resource(_policy(project, "policy-prod-close.json"), "ReadBuildQueueDepth") == out["BuildQueueArn"]
    assert _resource(_policy(project, "policy-prod-notify.json"), "ReadSlackWebhookParameter") == \
        "arn:aws:ssm:us-east-1:123456789012:parameter/pushdeploy/slack-webhook-url"
    reconcile = _policy(project, "policy-prod-reconcile.json")
    assert _resource(reconcile, "StopOnlyTheBuilder") == instance_arn
    assert _resource(reconcile, "MarkStaleRequestAnnounced") == out["BuildQueueArn"]
    assert _resource(reconcile, "AnnounceDeadLettersOnce") == out["BuildDeadLetterQueueArn"]
    assert _resource(reconcile, "PublishAlerts") == out["CloseTopicArn"]
    assert env["AGENT_SETTINGS_PARAMETER"] == out["AgentSettingsParameterName"]
    api = _policy(project, "policy-prod-api_handler.json")
    assert _resource(api, "ReadAgentSettings") == \
        f"arn:aws:ssm:us-east-1:123456789012:parameter{out['AgentSettingsParameterName']}"
    assert _resource(api, "PublishBuildRequests") == out["RequestTopicArn"]
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/pushdeploy-prod"  # chalice's api_handler
    assert _resource(api, "WriteOwnLogs") == [group, group + ":*"]
    assert env["BUILD_HISTORY_TABLE"] == out["BuildHistoryTableName"]
    assert _resource(_policy(project, "policy-prod-history.json"), "RecordBuildHistory") == out["BuildHistoryTableArn"]
    assert _resource(api, "ReadBuildHistory") == [out["BuildHistoryTableArn"], out["BuildHistoryTableArn"] + "/index/*"]
    assert _resource(api, "ReadServiceState") == "arn:aws:ecs:us-east-1:123456789012:service/*"
    for name in ("build_start", "close", "notify", "history", "reconcile"):
        group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/pushdeploy-prod-{name}"
        assert _resource(_policy(project, f"policy-prod-{name}.json"), "WriteOwnLogs") == [group, group + ":*"]
    written = [p.read_text() for p in (project / ".chalice").glob("*.json")] + [done.stdout, done.stderr]
    assert not [text for text in written if "hooks.slack.com" in text], "the webhook URL is a secret: never copied"

    text = (project / "agent-settings.toml").read_text()
    assert PIPELINES.strip() in text, "the operator's pipelines and comments are kept byte for byte"
    settings = parse_config(tomllib.loads(text), "agent-settings.toml")
    assert settings.agent.queue_url == out["BuildQueueUrl"]
    assert settings.agent.close_topic_arn == out["CloseTopicArn"]
    assert settings.agent.log_group == "/pushdeploy/builds" and settings.agent.region == "us-east-1"
    assert settings.agent.visibility_timeout_seconds == 900
    assert settings.agent.dead_letter_queue_url == out["BuildDeadLetterQueueUrl"]
    assert settings.agent.history_table == out["BuildHistoryTableName"]
    uploaded = aws.client("ssm").get_parameter(Name=out["AgentSettingsParameterName"])["Parameter"]["Value"]
    assert uploaded == text
    assert "hooks.slack.com" not in text

    deployed = chalice("deploy", "--stage", "prod", cwd=project)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    functions = {f["FunctionName"]: f for f in aws.client("lambda").list_functions()["Functions"]}
    assert {"pushdeploy-prod-build_start", "pushdeploy-prod-close", "pushdeploy-prod-notify"} <= set(functions)
    variables = functions["pushdeploy-prod-build_start"]["Environment"]["Variables"]
    assert variables["BUILDER_INSTANCE_IDS"] == out["BuilderInstanceIds"]
    assert variables["WAKE_QUEUE_ARN"] == out["WakeQueueArn"]
    assert variables["BUILD_QUEUE_URL"] == out["BuildQueueUrl"]
    topics = {s["TopicArn"] for s in aws.client("sns").list_subscriptions()["Subscriptions"]
              if s["Protocol"] == "lambda"}
    assert topics == {out["CloseTopicArn"]}, "a FIFO topic invokes no function: build_start reads the wake queue"
    mappings = aws.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [(m["EventSourceArn"], m["FunctionArn"].rsplit(":", 1)[-1]) for m in mappings] == [
        (out["WakeQueueArn"], "pushdeploy-prod-build_start")]


def test_record_is_idempotent(pipeline_stack: PipelineStack, project: Path) -> None:
    (project / "agent-settings.toml").write_text(PIPELINES)
    args = ("record", "--stack", pipeline_stack.name, "--stage", "prod", "--project", str(project))
    assert run_infra(*args).returncode == 0
    first = {p.name: p.read_text() for p in (project / ".chalice").glob("*.json")}
    first_agent = (project / "agent-settings.toml").read_text()
    assert run_infra(*args).returncode == 0
    assert {p.name: p.read_text() for p in (project / ".chalice").glob("*.json")} == first
    assert (project / "agent-settings.toml").read_text() == first_agent


def test_record_source_then_chalice_deploy_dev(aws: boto3.Session, source_stack: SourceStack, project: Path) -> None:
    done = run_infra("record", "--stack", source_stack.name, "--stage", "dev", "--project", str(project))
    assert done.returncode == 0, done.stderr
    env = _env(project, "dev")
    assert env["REQUEST_TOPIC_ARN"] == source_stack.outputs["RequestTopicArn"]
    assert json.loads(env["BRANCH_FILTER"]) == {"sample": ["production", "release/*"],
                                                "api": ["production", "release/*"]}
    assert env["PUSHDEPLOY_FUNCTIONS"] == "source"
    for name in ("policy-dev-request.json", "policy-dev-request_events.json"):
        assert _resource(_policy(project, name), "PublishBuildRequests") == source_stack.outputs["RequestTopicArn"]
        group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/pushdeploy-{name[7:-5]}"
        assert _resource(_policy(project, name), "WriteOwnLogs") == [group, group + ":*"]
    assert not (project / "agent-settings.toml").exists(), "the source side has no agent"

    deployed = chalice("deploy", "--stage", "dev", cwd=project)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    names = {f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]}
    assert {"pushdeploy-dev-request", "pushdeploy-dev-request_events"} <= names
    rules = aws.client("events").list_rules()["Rules"]
    assert any("CodeCommit Repository State Change" in r.get("EventPattern", "") for r in rules)
