"""Write a stack's outputs into a Chalice stage: its environment variables in .chalice/config.json
and the Resource of the known statements in .chalice/policy-<stage>-*.json.

Only the values named here are touched; every other key, stage and statement is kept as it was,
because the rest of those files belongs to whoever wrote the Lambda side.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import ProjectFileError
from infra.stack_outputs import StackOutputs

log = logging.getLogger("infra.record")

FUNCTIONS = "PUSHDEPLOY_FUNCTIONS"

# environment variable -> stack output, per stack kind
ENV_FROM_OUTPUTS: dict[str, dict[str, str]] = {
    "pipeline": {
        "REQUEST_TOPIC_ARN": "RequestTopicArn",
        "CLOSE_TOPIC_ARN": "CloseTopicArn",
        "BUILDER_INSTANCE_IDS": "BuilderInstanceIds",  # the pool: every builder the Lambdas may start and stop
        "WAKE_QUEUE_ARN": "WakeQueueArn",  # build_start's event source
        "BUILDER_TAG": "BuilderTag",
        "BUILD_QUEUE_URL": "BuildQueueUrl",
        "SLACK_WEBHOOK_PARAMETER": "SlackWebhookParameterName",
        "DEAD_LETTER_QUEUE_URL": "BuildDeadLetterQueueUrl",
        "AGENT_SETTINGS_PARAMETER": "AgentSettingsParameterName",  # the pipeline API lists its pipelines
        "WEBHOOK_DELIVERIES_TABLE": "WebhookDeliveriesTableName",
        "WEBHOOK_SECRET_PREFIX": "WebhookSecretPrefix",
        "BUILD_HISTORY_TABLE": "BuildHistoryTableName",
        "DASHBOARD_TOKEN_PARAMETER": "DashboardTokenParameterName",  # the read routes' bearer token
    },
    "source": {
        "REQUEST_TOPIC_ARN": "RequestTopicArn",
    },
}


# settings a newer output replaced: record removes them, so a stage never names an instance the pool left
SUPERSEDED: dict[str, tuple[str, ...]] = {
    "pipeline": ("BUILDER_INSTANCE_ID",),  # one builder, before the pool (BUILDER_INSTANCE_IDS)
    "source": (),
}


def _instance_arns(o: StackOutputs) -> list[str]:
    """One ARN per builder of the pool: start and stop name exactly these instances (and need their tag)."""
    ids = [i for i in o.get("BuilderInstanceIds").split(",") if i]
    return [f"arn:{o.partition}:ec2:{o.region}:{o.account}:instance/{i}" for i in ids]


def _parameter_arn(o: StackOutputs) -> str:
    return f"arn:{o.partition}:ssm:{o.region}:{o.account}:parameter{o.get('SlackWebhookParameterName')}"


def _dashboard_token_arn(o: StackOutputs) -> str:
    return f"arn:{o.partition}:ssm:{o.region}:{o.account}:parameter{o.get('DashboardTokenParameterName')}"


def _agent_settings_arn(o: StackOutputs) -> str:
    return f"arn:{o.partition}:ssm:{o.region}:{o.account}:parameter{o.get('AgentSettingsParameterName')}"


WEBHOOK_PROVIDERS = ("github", "gitlab", "bitbucket")


def _webhook_secret_arns(o: StackOutputs) -> list[str]:
    """One ARN per provider's secret, not a path wildcard: the routes read exactly these."""
    prefix = o.get("WebhookSecretPrefix").rstrip("/")
    return [f"arn:{o.partition}:ssm:{o.region}:{o.account}:parameter{prefix}/{p}" for p in WEBHOOK_PROVIDERS]


# policy statement Sid -> the Resource it must name, per stack kind (the contract with .chalice/policy-*.json)
POLICY_RESOURCES: dict[str, dict[str, Callable[[StackOutputs], str]]] = {
    "pipeline": {
        "StartOnlyTheBuilder": _instance_arns,
        "StopOnlyTheBuilder": _instance_arns,
        "ConsumeWakeQueue": lambda o: o.get("WakeQueueArn"),  # build_start's SQS event source mapping
        "ReadBuildQueueDepth": lambda o: o.get("BuildQueueArn"),
        "MarkStaleRequestAnnounced": lambda o: o.get("BuildQueueArn"),
        "AnnounceDeadLettersOnce": lambda o: o.get("BuildDeadLetterQueueArn"),
        "PublishAlerts": lambda o: o.get("CloseTopicArn"),
        "ReadSlackWebhookParameter": _parameter_arn,
        # the api_handler function: the pipeline API and the webhook routes
        "ReadAgentSettings": _agent_settings_arn,
        "PublishBuildRequests": lambda o: o.get("RequestTopicArn"),
        "ReadWebhookSecrets": _webhook_secret_arns,
        "RecordWebhookDeliveries": lambda o: o.get("WebhookDeliveriesTableArn"),
        # build history: the history function writes it, the read routes query it and its indexes, GET /status
        # describes the services it compares (any cluster of the stack's account and region)
        "RecordBuildHistory": lambda o: o.get("BuildHistoryTableArn"),
        "ReadBuildHistory": lambda o: [o.get("BuildHistoryTableArn"), o.get("BuildHistoryTableArn") + "/index/*"],
        "ReadServiceState": lambda o: f"arn:{o.partition}:ecs:{o.region}:{o.account}:service/*",
        # the dashboard_auth function (the read routes' authorizer) reads the one token parameter
        "ReadDashboardToken": _dashboard_token_arn,
        # build_start tags a builder it starts with the pipeline it starts it for (the claim:
        # chalicelib/builders/pool.py)
        "ClaimStartedBuilder": _instance_arns,
    },
    "source": {
        "PublishBuildRequests": lambda o: o.get("RequestTopicArn"),
    },
}


# the statement every policy file has: each function writes only its own log group, in the stack's region and account
LOGS_SID = "WriteOwnLogs"
API_HANDLER = "api_handler"


def lambda_name(app_name: str, stage: str, function: str) -> str:
    """The Lambda function Chalice deploys: ``app-stage-function``, except the REST API's ``api_handler``, which
    Chalice names ``app-stage`` (so its log group is ``/aws/lambda/app-stage``)."""
    return f"{app_name}-{stage}" if function == API_HANDLER else f"{app_name}-{stage}-{function}"


def _own_log_group(o: StackOutputs, app_name: str, stage: str, function: str) -> list[str]:
    name = lambda_name(app_name, stage, function)
    group = f"arn:{o.partition}:logs:{o.region}:{o.account}:log-group:/aws/lambda/{name}"
    return [group, group + ":*"]


def stage_environment(outputs: StackOutputs) -> dict[str, str]:
    """The stage settings a stack provides; BRANCH_FILTER comes from the source stack's parameters."""
    env = {name: outputs.get(key) for name, key in ENV_FROM_OUTPUTS[outputs.kind].items()}
    if outputs.kind == "source":
        repositories = [r for r in outputs.get("Repositories").split(",") if r]
        patterns = [p for p in outputs.get("BranchPatterns").split(",") if p]
        env["BRANCH_FILTER"] = json.dumps({repo: patterns for repo in repositories}, sort_keys=True)
    return env


def stage_functions(current: str | None, kind: str, one_account: bool, where: str) -> str:
    """Which functions the stage registers after recording a ``kind`` stack.

    Recording a source stack into the pipeline stage (or the reverse) is refused unless the
    operator says the stage serves both sides: otherwise a typo in --stage would put the request
    functions into the pipeline account."""
    if one_account or current == "all":
        return "all"
    if not current or current == kind:
        return kind
    raise ProjectFileError(f"{where}: {FUNCTIONS} is {current!r} but this is a {kind} stack; record it into "
                           f"the {kind} stage, or pass --one-account if this stage serves both sides")


@dataclass(frozen=True)
class RecordedStage:
    config_path: Path
    changed_env: dict[str, str]
    policy_files: tuple[Path, ...]


def record_stage(project: Path, stage: str, outputs: StackOutputs, one_account: bool = False) -> RecordedStage:
    """Fill the stage's settings and policy resources from ``outputs``; return what changed."""
    config_path = project / ".chalice" / "config.json"
    config = _load_json(config_path)
    stages = config.setdefault("stages", {})
    if not isinstance(stages, dict):
        raise ProjectFileError(f"{config_path}: stages: expected an object, got {type(stages).__name__}")
    stage_config = stages.setdefault(stage, {})
    env = stage_config.setdefault("environment_variables", {})
    if not isinstance(env, dict):
        raise ProjectFileError(f"{config_path}: stages.{stage}.environment_variables: expected an object")
    wanted = stage_environment(outputs)
    wanted[FUNCTIONS] = stage_functions(env.get(FUNCTIONS), outputs.kind, one_account,
                                        f"{config_path}: stages.{stage}")
    changed = {k: v for k, v in wanted.items() if env.get(k) != v}
    env.update(wanted)
    removed = [name for name in SUPERSEDED[outputs.kind] if env.pop(name, None) is not None]
    _write_json(config_path, config)
    for name, value in sorted(changed.items()):
        log.info("recorded %s %s=%s into %s", stage, name, value, config_path)
    for name in removed:
        log.info("removed %s %s from %s (superseded by the stack's newer outputs)", stage, name, config_path)
    policies = record_policies(project, stage, outputs, str(config.get("app_name") or "pushdeploy"))
    return RecordedStage(config_path, changed, policies)


def record_policies(project: Path, stage: str, outputs: StackOutputs, app_name: str = "pushdeploy") -> tuple[Path, ...]:
    """Point the known statements of the stage's policy files at this stack's resources, and each file's
    log statement at its function's own log group in the stack's region and account (policy-STAGE-FUNCTION.json)."""
    resources: dict[str, Any] = {sid: build(outputs) for sid, build in POLICY_RESOURCES[outputs.kind].items()}
    written = []
    seen: set[str] = set()
    paths = sorted((project / ".chalice").glob(f"policy-{stage}-*.json"))
    for path in paths:
        document = _load_json(path)
        statements = document.get("Statement")
        if not isinstance(statements, list):
            raise ProjectFileError(f"{path}: Statement: expected a list of statements")
        function = path.stem.removeprefix(f"policy-{stage}-")
        own = dict(resources, **{LOGS_SID: _own_log_group(outputs, app_name, stage, function)})
        touched = [s for s in statements if isinstance(s, dict) and s.get("Sid") in own]
        for statement in touched:
            seen.add(statement["Sid"])
            statement["Resource"] = own[statement["Sid"]]
            log.info("recorded %s Resource=%s into %s", statement["Sid"], statement["Resource"], path)
        if touched:
            _write_json(path, document)
            written.append(path)
    if paths and set(resources) - seen:
        log.warning("stage %s: no statement with Sid %s in %s; those permissions still name other resources",
                    stage, ", ".join(sorted(set(resources) - seen)), ", ".join(p.name for p in paths))
    return tuple(written)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProjectFileError(f"{path}: not found (run the command from the project directory or pass --project)") \
            from None
    except json.JSONDecodeError as exc:
        raise ProjectFileError(f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ProjectFileError(f"{path}: expected a JSON object at the top level")
    return data


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    write_atomically(path, json.dumps(data, indent=2) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, so an interrupted run never leaves half a config behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
