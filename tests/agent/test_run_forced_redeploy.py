"""A forced build redeploys an image that equals what runs (a new revision, outcome succeeded), where a plain
build of the same commit is skipped; the result says it was a manual build and who asked. Every build here
starts in the same second (a frozen clock), as a redeploy asked for right after a deploy may: the tag of the
running image is not reused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import agent_context, api_request, deployed_pipeline

pytestmark = pytest.mark.docker
ALICE = "arn:aws:iam::123456789012:user/alice"
SAME_SECOND = datetime(2026, 11, 30, 6, 35, 42, tzinfo=UTC)


def frozen() -> datetime:
    return SAME_SECOND


@pytest.fixture
def deployed(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    return deployed_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch, clock=frozen)


def test_a_forced_build_of_the_running_image_registers_a_new_revision(deployed):
    world, config, revision = deployed
    world.send_request(api_request(force=True, by=ALICE))

    Runner(agent_context(config, clock=frozen)).run(exit_when_idle=True)

    [result, _] = world.close_messages()
    assert isinstance(result, BuildResult)
    assert (result.outcome, result.action, result.trigger, result.requested_by) == ("succeeded", "build", "manual",
                                                                                    ALICE)
    [service] = result.services
    assert service.previous_task_definition == revision
    assert world.service_task_definition()["taskDefinitionArn"] == service.new_task_definition != revision
    assert result.image.tag == "20261130063543-" + result.commit[:7]    # the running image has :...3542-


def test_without_force_the_same_request_is_skipped(deployed):
    world, config, revision = deployed
    world.send_request(api_request(by=ALICE))

    Runner(agent_context(config, clock=frozen)).run(exit_when_idle=True)

    [result, _] = world.close_messages()
    assert (result.outcome, result.requested_by) == ("skipped", ALICE)
    assert world.service_task_definition()["taskDefinitionArn"] == revision
