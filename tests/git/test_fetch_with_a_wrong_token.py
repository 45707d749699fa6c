"""A rejected or unreadable token fails the build with a result whose reason names the pipeline and
the URL without credentials, and says what went wrong (git's own reason, or the secret store's)."""

from __future__ import annotations

import pytest

from agent.builder import build_pipeline
from tests.agent.agentrig import BRANCH, agent_context
from tests.git.gitrig import SECRET_NAMES, hosted_pipeline

pytestmark = pytest.mark.docker


def test_a_wrong_token_fails_the_fetch_naming_the_pipeline_and_the_url(aws, docker_engine, registry, hosted,
                                                                       tmp_path, monkeypatch):
    config = hosted_pipeline(aws, docker_engine, registry.address, hosted, "ssm", tmp_path, monkeypatch)
    wrong = "ghs_" + "W" * 36
    aws.client("ssm").put_parameter(Name=SECRET_NAMES["ssm"], Value=wrong, Type="SecureString", Overwrite=True)
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed" and result.commit is None
    assert result.error.startswith(f"sample/{BRANCH}: git fetch failed: ")
    assert "Authentication failed" in result.error
    assert f"(source {hosted.url})" in result.error
    assert wrong not in result.error and hosted.token not in result.error


def test_a_missing_secret_fails_naming_the_store_and_the_name(aws, docker_engine, registry, hosted, tmp_path,
                                                              monkeypatch):
    config = hosted_pipeline(aws, docker_engine, registry.address, hosted, "secretsmanager", tmp_path, monkeypatch)
    aws.client("secretsmanager").delete_secret(SecretId=SECRET_NAMES["secretsmanager"],
                                               ForceDeleteWithoutRecovery=True)
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed"
    assert result.error.startswith(f"sample/{BRANCH}: credentials for {hosted.url}: cannot read "
                                   f"secretsmanager:{SECRET_NAMES['secretsmanager']}: ResourceNotFoundException")
