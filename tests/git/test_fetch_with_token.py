"""A pipeline whose source is a private https repository builds: the builder reads the token from SSM or
Secrets Manager and the authenticated git server lets the fetch through."""

from __future__ import annotations

import pytest

from agent.builder import build_pipeline
from tests.agent.agentrig import BRANCH, agent_context
from tests.git.gitrig import hosted_pipeline

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("store", ["ssm", "secretsmanager"])
def test_a_build_fetches_over_authenticated_http_with_the_token_from(store, aws, docker_engine, base_image,
                                                                      registry, hosted, tmp_path, monkeypatch):
    config = hosted_pipeline(aws, docker_engine, registry.address, hosted, store, tmp_path, monkeypatch)
    repo = hosted.repo
    sha = repo.commit({"app.txt": "private v2\n"}, "Private change")
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "succeeded", result.error
    assert result.commit == sha
    assert [c.subject for c in result.commits] == ["Private change"]
    assert any('"GET /sample.git/info/refs?service=git-upload-pack' in line and " 200 " in line
               for line in hosted.server.log_tail(50).splitlines())
