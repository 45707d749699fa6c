"""The record and failure-destinations steps, shared by their own commands and by ``python -m infra up``."""

from __future__ import annotations

import logging
from pathlib import Path

import boto3

from infra.agent_settings import check_agent_settings, record_agent_settings, upload_agent_settings
from infra.failure_destinations import apply_failure_destinations, read_deployed
from infra.stack_outputs import read_outputs
from infra.stage_settings import record_stage

log = logging.getLogger("infra")


def record(session: boto3.Session, project: Path, stack: str, stage: str, *, one_account: bool = False,
           agent_settings: Path, upload: bool = True) -> None:
    """Stack outputs -> the stage's settings and policies; a pipeline stack also -> [agent], checked, uploaded."""
    outputs = read_outputs(session.client("cloudformation"), stack)
    record_stage(project, stage, outputs, one_account=one_account)
    if outputs.kind != "pipeline":
        return
    agent_path = agent_settings if agent_settings.is_absolute() else project / agent_settings
    data = record_agent_settings(agent_path, outputs)
    check_agent_settings(data, str(agent_path))
    if not upload:
        log.info("not uploading %s (--no-upload)", agent_path)
        return
    upload_agent_settings(session.client("ssm"), outputs.get("AgentSettingsParameterName"), agent_path)


def failure_destinations(session: boto3.Session, project: Path, stack: str, stage: str) -> None:
    """Every function of the deployed stage -> on failure, the stack's failure queue."""
    outputs = read_outputs(session.client("cloudformation"), stack)
    deployed = read_deployed(project, stage)
    apply_failure_destinations(session.client("lambda"), session.client("iam"), deployed,
                               outputs.get("LambdaFailureQueueArn"))
