"""A request whose action this agent does not know (sent by a newer pushdeploy) is dead-lettered at once with a
reason naming the action, and never built as a plain build; the other requests go on."""

from __future__ import annotations

import json

import pytest

from agent.runner import Runner
from tests.agent.agentrig import agent_context, api_request, docker_pipeline

pytestmark = pytest.mark.docker


def test_an_unknown_action_is_dead_lettered_naming_it(aws, docker_engine, base_image, registry, tmp_path,
                                                       monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    newer = json.loads(api_request().to_json()) | {"action": "promote"}
    world.send(body=json.dumps(newer))
    world.send()

    Runner(agent_context(config)).run(exit_when_idle=True)

    [(body, reason)] = world.dead_letters()
    assert json.loads(body)["action"] == "promote"
    assert "unknown action 'promote'" in reason and "upgrade the agent" in reason
    results = world.close_messages()
    assert [(r.action, r.outcome) for r in results[:-1]] == [("build", "succeeded")]
    assert world.queue_depth() == 0
