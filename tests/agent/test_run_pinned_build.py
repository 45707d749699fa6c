"""A pinned build (POST /builds with a commit) builds and deploys exactly that commit, even an older one than
the branch head."""

from __future__ import annotations

import pytest

from agent.runner import Runner
from tests.agent.agentrig import agent_context, api_request, docker_pipeline, git

pytestmark = pytest.mark.docker


def test_a_pinned_build_deploys_the_named_older_commit(aws, docker_engine, base_image, registry, tmp_path,
                                                        monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    older = git(repo.work, "rev-parse", "HEAD")
    head = repo.commit({"app.txt": "v2\n"}, "v2")
    world.send_request(api_request(commit=older, pin=True))

    Runner(agent_context(config)).run(exit_when_idle=True)

    [result, _] = world.close_messages()
    assert (result.outcome, result.commit, result.trigger) == ("succeeded", older, "manual")
    assert [c.sha for c in result.commits] == [older]
    image = world.service_task_definition()["containerDefinitions"][0]["image"]
    assert image == result.image.reference and image.endswith(f"-{older[:7]}")
    assert not image.endswith(head[:7])
