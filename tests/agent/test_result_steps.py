"""Every result names its build (a fresh build_id) and carries each step's timing, the failing step marked,
so history can record it once and draw it as bars (docs/api.md "Build history")."""

from __future__ import annotations

import re

import pytest

from agent.builder import build_pipeline
from agent.rollback import rollback_pipeline
from chalicelib.contracts import parse_timestamp
from tests.agent.agentrig import BRANCH, agent_context, docker_pipeline, dockerfile

pytestmark = pytest.mark.docker


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    return repo, world, config


def test_a_deploy_reports_each_step_in_order_with_its_time_and_a_new_build_id(setup):
    repo, _, config = setup
    repo.commit({"app.txt": "hello v2\n"}, "Say hello v2")
    ctx = agent_context(config)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")

    first, second = build_pipeline(ctx, pipeline), build_pipeline(ctx, pipeline, force=True)

    assert first.outcome == "succeeded", first.error
    assert [s.name for s in first.steps] == ["source", "login", "build", "push", "register", "update", "rollout_wait"]
    assert all(s.ok and s.seconds >= 0 for s in first.steps)
    starts = [parse_timestamp(s.started_at) for s in first.steps]
    assert starts == sorted(starts) and starts[0] >= parse_timestamp(first.started_at)
    assert re.fullmatch(r"[0-9a-f]{32}", first.build_id or "")
    assert second.build_id != first.build_id
    assert ctx.progress.recording is None  # nothing kept between builds


def test_a_failing_build_step_is_the_last_one_and_not_ok(setup):
    repo, _, config = setup
    repo.commit({"Dockerfile": dockerfile("local/busybox:latest") + "RUN exit 3\n"}, "Break the build")
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed"
    assert [(s.name, s.ok) for s in result.steps] == [("source", True), ("login", True), ("build", False)]


def test_a_rollback_reports_its_rollback_step(setup):
    repo, _, config = setup
    ctx = agent_context(config)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")
    assert build_pipeline(ctx, pipeline).outcome == "succeeded"

    result = rollback_pipeline(ctx, pipeline)

    assert result.outcome == "succeeded", result.error
    assert [(s.name, s.ok) for s in result.steps] == [("rollback", True)]
    assert re.fullmatch(r"[0-9a-f]{32}", result.build_id or "")
