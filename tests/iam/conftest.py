"""Fixtures for the policy checks: both stacks deployed into the suite's moto server (tests/infra's
helpers), every policy document of their templates resolved against them, and the Chalice policy files
as `python -m infra record` writes them for those stacks."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.stack_outputs import read_outputs
from infra.stage_settings import record_policies
from localrig.iam.cfn_policies import Stack, TemplatePolicy, deployed_stack, resolved, template_policies
from tests.infra.infra_stacks import (
    PIPELINE_TEMPLATE,
    REPO,
    SOURCE_TEMPLATE,
    PipelineStack,
    SourceStack,
    deploy_pipeline,
    deploy_source,
    load_template,
)


@dataclass(frozen=True)
class Deployed:
    pipeline: PipelineStack
    source: SourceStack
    stacks: dict[str, Stack]  # template file name -> the deployed stack, for resolving
    policies: list[TemplatePolicy]  # every policy document of both templates, resolved


@pytest.fixture
def deployed(aws: boto3.Session) -> Deployed:
    pipeline = deploy_pipeline(aws)
    source = deploy_source(aws, pipeline)
    stacks, policies = {}, []
    for template_path, stack_name in ((PIPELINE_TEMPLATE, pipeline.name), (SOURCE_TEMPLATE, source.name)):
        template = load_template(template_path)
        stacks[template_path.name] = stack = deployed_stack(aws, stack_name, template)
        policies += resolved(stack, template_policies(template))
    return Deployed(pipeline, source, stacks, policies)


@pytest.fixture
def recorded(aws: boto3.Session, deployed: Deployed, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """``policy-STAGE-FUNCTION`` -> the policy file after `python -m infra record` for these stacks."""
    project = tmp_path / "project"
    shutil.copytree(REPO / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployed", "deployments"))
    cfn = aws.client("cloudformation")
    record_policies(project, "prod", read_outputs(cfn, deployed.pipeline.name))
    record_policies(project, "dev", read_outputs(cfn, deployed.source.name))
    return {path.stem: json.loads(path.read_text()) for path in sorted((project / ".chalice").glob("policy-*.json"))}
