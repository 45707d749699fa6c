"""Write the agent's one settings file (the TOML format of the brief) from the provisioned outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localrig.provision import PipelineSpec


def _value(value: Any) -> str:
    """A TOML value: JSON strings, numbers, booleans and arrays are valid TOML as written."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _table(lines: list[str], header: str, values: dict[str, Any]) -> None:
    lines.append(header)
    lines.extend(f"{key} = {_value(value)}" for key, value in values.items())
    lines.append("")


def render(outputs: dict[str, str], pipelines: list[PipelineSpec], sources: dict[str, Path], registry: str,
           cache_dir: Path, idle_grace_seconds: float = 1, wait_timeout_seconds: int = 120,
           visibility_timeout_seconds: int | None = None, retry_budget_seconds: float | None = None,
           source_settings: dict[str, dict[str, str]] | None = None, instance_id: str | None = None,
           build_args: dict[str, str] | None = None) -> str:
    """``sources`` maps repository name -> the bare repository the agent clones from; ``source_settings``
    replaces that for a hosted repository (``source_url`` over HTTPS and its ``source_token``).
    ``visibility_timeout_seconds`` None keeps the agent's default (a killed agent's requests then
    come back after 5 minutes; a story about that passes a few seconds); likewise
    ``retry_budget_seconds`` (how long SQS/SNS failures are retried before the agent gives up: 5 minutes).
    The dead-letter queue comes from the outputs (BUILD_DLQ_URL) when they have it, as ``infra record``
    writes it from the stack; without it the agent reads the build queue's RedrivePolicy. ``instance_id`` is the
    builder this file is for (a pool's builders each have their own); default: the outputs' one builder.
    ``build_args`` are added to every pipeline's (the sample's ``build_seconds``: a slow build)."""
    lines: list[str] = ["# Written by the pushdeploy local rig for one run.", ""]
    _table(lines, "[agent]", {
        "region": outputs["REGION"],
        "queue_url": outputs["BUILD_QUEUE_URL"],
        "close_topic_arn": outputs["CLOSE_TOPIC_ARN"],
        "log_group": outputs["LOG_GROUP"],
        "cache_dir": str(cache_dir),
        "idle_grace_seconds": idle_grace_seconds,
        "instance_id": instance_id or outputs["BUILDER_INSTANCE_ID"],
        **({} if visibility_timeout_seconds is None else {"visibility_timeout_seconds": visibility_timeout_seconds}),
        **({} if retry_budget_seconds is None else {"retry_budget_seconds": retry_budget_seconds}),
        **({"dead_letter_queue_url": outputs["BUILD_DLQ_URL"]} if outputs.get("BUILD_DLQ_URL") else {}),
        **({"history_table": outputs["BUILD_HISTORY_TABLE"]} if outputs.get("BUILD_HISTORY_TABLE") else {}),
    })
    for spec in pipelines:
        _table(lines, "[[pipelines]]", {
            "repository": spec.repository,
            "branch": spec.branch,
            "source_url": str(sources[spec.repository]),
            **(source_settings or {}).get(spec.repository, {}),
            "context": ".",
            "dockerfile": "Dockerfile",
            "target": "",
            "build_args": {"environment": "production", **(build_args or {})},
            "image_repository": spec.image_repository,
            "registry": registry,
            "wait_timeout_seconds": wait_timeout_seconds,
            "keep_revisions": 10,
        })
        _table(lines, "[[pipelines.deploy]]", {"cluster": spec.cluster, "services": [spec.service], "containers": []})
    return "\n".join(lines)
