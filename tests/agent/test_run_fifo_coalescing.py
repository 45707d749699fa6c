"""Coalescing holds on a FIFO queue: the messages of one group that a builder receives together become one
build of the branch head, whose one result answers (and deletes) every one of them."""

from __future__ import annotations

import pytest

from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import agent_context, make_repo, make_world, use_docker, write_config

pytestmark = pytest.mark.docker


def test_three_pushes_of_one_pipeline_are_one_build_of_the_newest_commit(aws, docker_engine, base_image, registry,
                                                                          tmp_path, monkeypatch):
    use_docker(monkeypatch, docker_engine, tmp_path)
    repo = make_repo(tmp_path, base_image)
    world = make_world(aws, registry.address, fifo=True)
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")
    pushed = []
    for n in range(3):
        pushed.append(repo.commit({"app.txt": f"v2.{n}\n"}, f"v2.{n}"))
        world.send(commit=pushed[-1])

    lines: list[str] = []
    stats = Runner(agent_context(config, lines)).run(exit_when_idle=True)

    results = [m for m in world.close_messages() if isinstance(m, BuildResult)]
    assert [(r.commit, r.outcome) for r in results] == [(pushed[-1], "succeeded")]
    assert sum("build of the branch head for 3 request(s)" in line for line in lines) == 1
    assert (stats.rounds, stats.builds) == (1, 1)
    assert world.queue_depth() == 0
