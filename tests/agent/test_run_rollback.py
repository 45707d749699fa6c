"""A rollback request puts every target service on the previous revision (or the one named) and is reported
as a rollback saying who asked; one that cannot be carried out is reported failed, and answered."""

from __future__ import annotations

import pytest

from agent.runner import Runner
from tests.agent.agentrig import agent_context, api_request, deployed_pipeline

pytestmark = pytest.mark.docker
BOB = "arn:aws:iam::123456789012:user/bob"


@pytest.fixture
def deployed(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    return deployed_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)


def test_a_rollback_puts_the_service_on_the_previous_revision(deployed):
    world, config, built = deployed
    world.send_request(api_request("rollback", by=BOB))

    Runner(agent_context(config)).run(exit_when_idle=True)

    [result, _] = world.close_messages()
    assert (result.action, result.outcome, result.trigger, result.requested_by) == ("rollback", "succeeded", "manual",
                                                                                    BOB)
    [service] = result.services
    assert (service.previous_task_definition, service.new_task_definition) == (built, world.initial_revision)
    assert world.service_task_definition()["taskDefinitionArn"] == world.initial_revision
    assert world.queue_depth() == 0


def test_a_rollback_to_a_revision_that_does_not_exist_is_reported_failed(deployed):
    world, config, built = deployed
    world.send_request(api_request("rollback", to="production-task:99"))

    Runner(agent_context(config)).run(exit_when_idle=True)

    [result, _] = world.close_messages()
    assert (result.action, result.outcome) == ("rollback", "failed")
    assert "production-task:99" in result.error
    assert world.service_task_definition()["taskDefinitionArn"] == built
    assert world.queue_depth() == 0  # answered: a failed rollback is not retried in a loop
