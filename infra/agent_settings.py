"""Write the pipeline stack's outputs into the ``[agent]`` table of the agent's settings file and
upload the file to the SSM parameter the builder reads at every start.

Only the values of the ``[agent]`` table change, written with tomlkit (style-preserving): comments
inside ``[agent]``, floats such as ``idle_grace_seconds = 1.5`` and the ``[[pipelines]]`` the operator
wrote stay as they were.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit
from botocore.exceptions import BotoCoreError, ClientError
from tomlkit.items import Table

from infra import ProjectFileError, StackError
from infra.stack_outputs import StackOutputs
from infra.stage_settings import write_atomically

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

log = logging.getLogger("infra.record")

DEFAULT_PATH = "agent-settings.toml"
# [agent] key -> stack output
AGENT_FROM_OUTPUTS = {
    "region": "Region",
    "queue_url": "BuildQueueUrl",
    "close_topic_arn": "CloseTopicArn",
    "log_group": "BuildLogGroupName",
    "dead_letter_queue_url": "BuildDeadLetterQueueUrl",
    "history_table": "BuildHistoryTableName",  # pushdeploy-agent history / status
}
_PIPELINES_HINT = """
# Add one [[pipelines]] table per repository/branch (see docs/deploy-to-aws.md), e.g.
# [[pipelines]]
# repository = "sample"
# branch = "production"
# source_url = "codecommit::REGION://pushdeploy-source@sample"
# image_repository = "production/sample"
# [[pipelines.deploy]]
# cluster = "production-cluster"
# services = ["web"]
"""


def agent_values(outputs: StackOutputs) -> dict[str, Any]:
    values: dict[str, Any] = {key: outputs.get(out) for key, out in AGENT_FROM_OUTPUTS.items()}
    values["visibility_timeout_seconds"] = int(outputs.get("AgentVisibilityTimeoutSeconds"))
    return values


def update_agent_text(text: str, new_values: dict[str, Any], name: str) -> str:
    """``text`` with its [agent] table holding ``new_values`` on top of the keys already there.

    tomlkit edits the document in place, so every comment, float, blank line and the operator's own
    [agent] keys survive; keys new to the table go after its last key, before the comments that lead
    into the next table.
    """
    data = _parse(text, name)
    if "agent" not in data:
        text = "[agent]\n" + ("\n" + text if text.strip() else "")
    document = tomlkit.parse(text)
    table = document["agent"]
    if not isinstance(table, Table) or table.is_super_table():
        raise ProjectFileError(f"{name}: agent: expected a [agent] table")
    trailing = _pop_trailing_trivia(table)
    for key, value in new_values.items():
        table[key] = value
    for item in trailing:
        table.value.append(None, item)
    result = tomlkit.dumps(document)
    expected = {**data, "agent": {**data.get("agent", {}), **new_values}}
    if _parse(result, name) != expected:
        raise ProjectFileError(f"{name}: could not rewrite the [agent] table without changing other settings")
    return result


def _pop_trailing_trivia(table: Table) -> list[Any]:
    """The comments and blank lines at the end of ``table``: they introduce the next table, so they stay last."""
    body = table.value.body
    trailing: list[Any] = []
    while body and body[-1][0] is None:
        trailing.insert(0, body.pop()[1])
    return trailing


def _parse(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFileError(f"{name}: not valid TOML: {exc}") from exc


def record_agent_settings(path: Path, outputs: StackOutputs) -> dict[str, Any]:
    """Write the [agent] values into ``path`` (created with a commented example if missing); return the data."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    fresh = not text.strip()
    result = update_agent_text(text, agent_values(outputs), str(path))
    if fresh:
        result += _PIPELINES_HINT
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, result)
    log.info("recorded [agent] (queue %s, close topic %s) into %s",
             outputs.get("BuildQueueUrl"), outputs.get("CloseTopicArn"), path)
    return tomllib.loads(result)


def check_agent_settings(data: dict[str, Any], name: str) -> None:
    """The agent's own validation, so a typo stops here and not on the builder at 3 a.m."""
    from agent.config import ConfigError, parse_config

    if not data.get("pipelines"):
        raise ProjectFileError(f"{name}: pipelines: none configured; add a [[pipelines]] table "
                               "(docs/deploy-to-aws.md) and run record again - nothing was uploaded")
    try:
        parse_config(data, name)
    except ConfigError as exc:
        raise ProjectFileError(f"{exc} - nothing was uploaded") from exc


def upload_agent_settings(ssm: SSMClient, parameter: str, path: Path) -> None:
    """Put the whole file into the parameter the builder's unit reads before the agent starts."""
    text = path.read_text(encoding="utf-8")
    try:
        ssm.put_parameter(Name=parameter, Value=text, Type="String", Overwrite=True, Tier="Intelligent-Tiering",
                          Description="pushdeploy agent settings (written by python -m infra record)")
    except ClientError as exc:
        raise StackError(f"SSM parameter {parameter}: {exc.response.get('Error', {}).get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise StackError(f"SSM parameter {parameter}: cannot reach SSM: {exc}") from exc
    log.info("uploaded %s to SSM parameter %s (%d bytes)", path, parameter, len(text.encode()))
