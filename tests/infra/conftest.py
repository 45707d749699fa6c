"""Fixtures for the infrastructure stories: the templates deployed into the suite's moto server,
and a temporary copy of the project (app.py, chalicelib/, .chalice/) for record and chalice deploy."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from tests.infra.infra_stacks import REPO, PipelineStack, SourceStack, deploy_pipeline, deploy_source


@pytest.fixture
def pipeline_stack(aws: boto3.Session) -> PipelineStack:
    return deploy_pipeline(aws)


@pytest.fixture
def source_stack(aws: boto3.Session, pipeline_stack: PipelineStack) -> SourceStack:
    return deploy_source(aws, pipeline_stack)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what chalice deploys, so recording never touches the working tree's files."""
    dest = tmp_path / "project"
    dest.mkdir()
    shutil.copy2(REPO / "app.py", dest / "app.py")
    shutil.copy2(REPO / "requirements.txt", dest / "requirements.txt")
    shutil.copytree(REPO / "chalicelib", dest / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / ".chalice", dest / ".chalice",
                    ignore=shutil.ignore_patterns("deployed", "deployments", "__pycache__"))
    return dest
