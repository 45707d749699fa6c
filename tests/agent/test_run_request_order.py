"""A round's requests for one pipeline are carried out in the order they were asked for: adjacent head builds
are one build (forced if any asked it, naming everyone who asked), and a rollback between two builds stays
between them. Every request is answered and deleted."""

from __future__ import annotations

import pytest

from agent.runner import Runner
from tests.agent.agentrig import agent_context, api_request, docker_pipeline

pytestmark = pytest.mark.docker
WHO = [f"arn:aws:iam::123456789012:user/{name}" for name in ("alice", "bob", "carol")]


def test_build_rollback_build_stay_in_order_and_adjacent_builds_coalesce(aws, docker_engine, base_image, registry,
                                                                          tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    for request in (api_request(by=WHO[0]), api_request(force=True, by=WHO[1]), api_request(by=WHO[0]),
                    api_request("rollback", by=WHO[2]), api_request(by=WHO[2])):
        world.send_request(request)

    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    results = world.close_messages()[:-1]
    assert [(r.action, r.outcome, r.requested_by) for r in results] == [
        ("build", "succeeded", f"{WHO[0]}, {WHO[1]}"), ("rollback", "succeeded", WHO[2]),
        ("build", "succeeded", WHO[2])]
    first, rollback, last = (r.services[0] for r in results)
    assert (rollback.previous_task_definition, rollback.new_task_definition) == (first.new_task_definition,
                                                                                 world.initial_revision)
    assert world.service_task_definition()["taskDefinitionArn"] == last.new_task_definition
    assert (stats.rounds, stats.builds) == (1, 3)
    assert world.queue_depth() == 0
