"""Write the pipeline stack's outputs into the ``[agent]`` table of the agent's settings file and
upload the file to the SSM parameter the builder reads at every start.

Only the ``[agent]`` table is rewritten (by a tiny emitter: strings, integers and booleans are all
it holds); the ``[[pipelines]]`` the operator wrote stay byte for byte, comments included.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

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
_HEADER = re.compile(r"^\s*\[\s*agent\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_COMMENT_OR_BLANK = re.compile(r"^\s*(#.*)?$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
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


def toml_value(value: Any) -> str:
    """A TOML literal for the scalar types [agent] holds (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise ProjectFileError(f"[agent]: cannot write a {type(value).__name__} value: {value!r}")


def emit_agent_table(values: dict[str, Any]) -> str:
    lines = ["[agent]"]
    for key, value in values.items():
        name = key if _BARE_KEY.match(key) else json.dumps(key)
        lines.append(f"{name} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def _split_agent_table(text: str) -> tuple[str, str]:
    """The text before and after the ``[agent]`` table (which runs to the next table header)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        return "", text
    end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines))
    while end > start + 1 and _COMMENT_OR_BLANK.match(lines[end - 1]):
        end -= 1  # comments right above the next table belong to it
    return "".join(lines[:start]), "".join(lines[end:])


def update_agent_text(text: str, new_values: dict[str, Any], name: str) -> str:
    """``text`` with its [agent] table holding ``new_values`` on top of the keys already there."""
    data = _parse(text, name)
    current = data.get("agent", {})
    if not isinstance(current, dict):
        raise ProjectFileError(f"{name}: agent: expected a table")
    merged = {**current, **new_values}
    before, after = _split_agent_table(text)
    body = emit_agent_table(merged)
    rest = after if after.startswith("\n") or not after else "\n" + after
    result = before + body + rest
    parsed = _parse(result, name)
    expected = {**data, "agent": merged}
    if parsed != expected:
        raise ProjectFileError(f"{name}: could not rewrite the [agent] table without changing other settings; "
                               "keep [agent] as one table with plain `key = value` lines")
    return result


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
