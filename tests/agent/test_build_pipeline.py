"""A person (or the run loop) builds one pipeline: source -> image -> push -> deploy -> result."""

from __future__ import annotations

import base64
import json

import pytest

from agent.builder import build_pipeline
from agent.ecs.journal import DeployJournal
from tests.agent.agentrig import (
    BRANCH,
    agent_context,
    docker_pipeline,
    log_lines,
)

pytestmark = pytest.mark.docker


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    return repo, world, config, registry


def test_a_build_pushes_the_image_and_puts_it_on_the_service(setup, docker_engine):
    repo, world, config, registry = setup
    sha = repo.commit({"app.txt": "hello v2\n"}, "Say hello v2")
    lines: list[str] = []
    ctx = agent_context(config, lines)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")

    result = build_pipeline(ctx, pipeline)

    assert result.outcome == "succeeded", result.error
    assert result.commit == sha
    assert [c.subject for c in result.commits] == ["Say hello v2"]  # nothing deployed before: the head only
    assert result.image.tag.endswith(f"-{sha[:7]}") and len(result.image.tag) == 14 + 1 + 7
    assert result.image.reference == f"{registry.address}/{world.image_repository}:{result.image.tag}"
    assert result.image.digest.startswith("sha256:")
    assert registry.tags(world.image_repository) == sorted([result.image.tag, "latest"])
    td = world.service_task_definition()
    images = {c["name"]: c["image"] for c in td["containerDefinitions"]}
    assert images["app"] == result.image.reference
    assert images["log-router"] == "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
    assert [s.new_task_definition for s in result.services] == [td["taskDefinitionArn"]]
    assert result.services[0].previous_task_definition == world.initial_revision
    built = docker_engine.docker("run", "--rm", "--network", "none", result.image.reference,
                                 "cat", "/environment", "/app.txt").stdout.decode()
    assert built == "production\nhello v2\n"
    assert result.builder_instance_id == "i-0123456789abcdef0"
    step_lines = [line for line in lines if " ok (" in line]
    assert [line.split("] ", 1)[1].split(" ok", 1)[0] for line in step_lines] == [
        "source", "login", "deployed", "build", "push", "deploy"]


def test_the_build_log_stream_has_every_step_and_docker_output_and_no_token(setup, aws):
    repo, world, config, _ = setup
    ctx = agent_context(config)
    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.log.group == "/pushdeploy/builds"
    assert result.log.stream == f"sample/{BRANCH}/{result.image.tag}"
    text = "\n".join(log_lines(aws, result.log.group, result.log.stream))
    for step in ("source ok", "login ok", "build ok", "push ok", "deploy ok"):
        assert step in text
    assert "Step 1/" in text or "FROM local/busybox" in text  # docker build's own output
    token = aws.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    assert password not in text and token not in text


def test_rebuilding_an_unchanged_commit_is_skipped_and_pushes_and_deploys_nothing(setup, registry):
    repo, world, config, _ = setup
    ctx = agent_context(config)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")
    first = build_pipeline(ctx, pipeline)
    DeployJournal(ctx.config.agent.cache_dir, print).clear(pipeline.id)  # as after publishing its result
    revision = world.service_task_definition()["taskDefinitionArn"]
    tags = registry.tags(world.image_repository)
    repo.commit({"README.md": "docs only: not in the image\n"}, "Document")

    again = build_pipeline(ctx, pipeline)

    assert first.outcome == "succeeded"
    assert again.outcome == "skipped", again.error
    assert again.image.reference == first.image.reference
    assert again.services == ()
    assert registry.tags(world.image_repository) == tags
    assert world.service_task_definition()["taskDefinitionArn"] == revision
    assert [c.subject for c in again.commits] == ["Document"]


def test_a_broken_dockerfile_gives_a_failed_result_naming_the_step_with_its_log(setup, aws, registry):
    repo, world, config, _ = setup
    sha = repo.commit({"Dockerfile": "FROM local/busybox:latest\nRUN exit 7\n"}, "Break the build")
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed"
    assert result.commit == sha
    assert "build" in result.error and "7" in result.error
    assert registry.tags(world.image_repository) == []
    assert world.service_task_definition()["taskDefinitionArn"] == world.initial_revision
    assert any("build FAILED" in line for line in log_lines(aws, result.log.group, result.log.stream))


def test_an_unreachable_source_fails_with_a_result_and_a_log_stream(setup, aws, tmp_path):
    repo, world, config, _ = setup
    config.write_text(config.read_text().replace(str(repo.bare), str(tmp_path / "missing.git")))
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed" and result.commit is None
    assert "git fetch failed" in result.error
    assert result.log.stream.endswith("-nocommit")
    assert json.loads(result.to_json())["outcome"] == "failed"


def test_dry_run_builds_but_pushes_and_deploys_nothing(setup, registry):
    repo, world, config, _ = setup
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"), dry_run=True)

    assert result.outcome == "succeeded", result.error
    assert registry.tags(world.image_repository) == []
    assert world.service_task_definition()["taskDefinitionArn"] == world.initial_revision
    assert result.services[0].previous_task_definition == world.initial_revision


def test_a_deploy_target_that_does_not_exist_fails_before_anything_is_pushed(setup, registry):
    repo, world, config, _ = setup
    config.write_text(config.read_text().replace('services = ["web"]', 'services = ["api"]'))
    ctx = agent_context(config)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed"
    assert "api" in result.error and not result.error.startswith("unexpected")
    assert registry.tags(world.image_repository) == []
