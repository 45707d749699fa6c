"""What the targets run decides the build: a service with no container from the image repository
stops it before anything is built or pushed, and a build skips only when every target service
already runs the image it made."""

from __future__ import annotations

import pytest

from agent.builder import build_pipeline
from agent.ecs.journal import DeployJournal
from tests.agent.agentrig import BRANCH, agent_context, docker_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    return repo, world, config, registry


def test_a_service_without_a_container_from_the_repository_refuses_before_building(setup):
    repo, world, config, registry = setup
    ecs = world.client("ecs")
    foreign = ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": f"{registry.address}/someone-else/app:1", "memory": 128}])
    ecs.update_service(cluster=world.cluster, service=world.service,
                       taskDefinition=foreign["taskDefinition"]["taskDefinitionArn"])
    lines: list[str] = []
    ctx = agent_context(config, lines)

    result = build_pipeline(ctx, ctx.config.pipeline(f"sample/{BRANCH}"))

    assert result.outcome == "failed"
    assert result.error == (f"nothing built: {world.cluster}/{world.service} has no container running an image "
                            f"from repository {world.image_repository}; the deploy would refuse it (fix "
                            "image_repository, or name the containers with containers=)")
    assert registry.tags(world.image_repository) == []  # neither the tag nor :latest
    assert not any(line.split("] ", 1)[1].startswith("build ok") for line in lines)


def test_two_services_of_which_only_one_runs_the_built_image_are_deployed_not_skipped(setup):
    repo, world, config, _ = setup
    ecs = world.client("ecs")
    ecs.create_service(cluster=world.cluster, serviceName="api", taskDefinition=world.initial_revision,
                       desiredCount=1)
    config.write_text(config.read_text().replace('services = ["web"]', 'services = ["web", "api"]'))
    ctx = agent_context(config)
    pipeline = ctx.config.pipeline(f"sample/{BRANCH}")
    first = build_pipeline(ctx, pipeline)
    assert first.outcome == "succeeded", first.error
    DeployJournal(ctx.config.agent.cache_dir, print).clear(pipeline.id)  # as after publishing its result
    ecs.update_service(cluster=world.cluster, service="api", taskDefinition=world.initial_revision)  # api put back

    again = build_pipeline(ctx, pipeline)

    assert again.outcome == "succeeded", again.error
    assert [(s.service, s.previous_task_definition) for s in again.services] == [
        ("web", first.services[0].new_task_definition), ("api", world.initial_revision)]
    api = ecs.describe_services(cluster=world.cluster, services=["api"])["services"][0]["taskDefinition"]
    assert api != world.initial_revision
